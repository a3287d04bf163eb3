// Shared helpers of the benchmark programs: timing, medians, tables, the machine's description.
import os from 'node:os'

/** Median of numbers. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Runs `f` `reps` times and returns the durations in seconds. */
export const timeIt = async (reps, f) => {
  const out = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await f()
    out.push((performance.now() - t0) / 1000)
  }
  return out
}

/** A Markdown table from rows of equal keys. */
export const table = (rows) => {
  const cols = Object.keys(rows[0])
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(cols), line(cols.map(() => '---')), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n')
}

/** "2 × Intel(R) Xeon… , 24 GiB, Node v20…" */
export const machine = () => {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
}
