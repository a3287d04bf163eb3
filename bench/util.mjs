// Shared helpers of the benchmark programs: the command line, timing, medians, tables, the machine's description.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

/** The benchmark's command-line arguments (after the script's path). */
export const argv = process.argv.slice(2)

/** The value after `--name` on the command line, or `fallback` when it is absent or has no value. */
export const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback
}

/** Whether `--name` is on the command line. */
export const flag = (name) => argv.includes(`--${name}`)

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

/**
 * Matmul GFLOP/s of `tf.matMul` on the current backend at each [M, K, N] shape (2·M·K·N flops,
 * the median of ≥ 5 repetitions and ≥ 1 s after two warm-ups): our path's compute limit.
 */
export const wasmMatmulGflops = async (tf, shapes) => {
  // The process's first products also start the thread pool and XNNPACK's caches: warm up apart.
  const w = tf.randomNormal([256, 256])
  for (let i = 0; i < 20; i++) await tf.matMul(w, w).data()
  w.dispose()
  const out = []
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 1)
    const b = tf.randomNormal([k, n], 0, 1, 'float32', 2)
    const times = []
    const start = performance.now()
    for (let i = 0; times.length < 5 || performance.now() - start < 1000; i++) {
      const t0 = performance.now()
      const y = tf.matMul(a, b)
      await y.data()
      if (i > 1) times.push((performance.now() - t0) / 1000)
      y.dispose()
    }
    tf.dispose([a, b])
    out.push({ shape: [m, k, n], gflop_s: (2 * m * k * n) / median(times) / 1e9 })
  }
  return out
}

/**
 * The environment every PyTorch reference runs in: this process's, glibc's malloc told to keep
 * freed memory (no mmap'd blocks, no trimming), and OpenBLAS's pool at `blasThreads` when given.
 *
 * Why: PyTorch on CPU allocates through glibc's malloc, which maps every block over 32 MB
 * (GPT-2's embedding gradient is 154 MB) afresh and returns it when freed, so each training step
 * faults its buffers in again. On this machine kind that was 2 million page faults and 19 s of
 * system time in four GPT-2 fine-tuning steps (5.9 s a step; 1.8 s with these settings, 2026-12-06).
 * A tuned deployment keeps its memory (jemalloc, tcmalloc, or these tunables); the library's
 * wasm heap is reused the same way. `TORCH_MALLOC` names the setting in the tables.
 */
export const torchEnv = (blasThreads = undefined) => ({
  ...process.env,
  GLIBC_TUNABLES: TORCH_MALLOC,
  ...(blasThreads === undefined ? {} : { OPENBLAS_NUM_THREADS: String(blasThreads) }),
})

/** The glibc tunables of {@link torchEnv}. */
export const TORCH_MALLOC = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736'

/** PyTorch's matmul GFLOP/s at the same shapes, with the BLAS it ran on (bench/pytorch/matmul_bench.py). */
export const torchMatmulGflops = (shapes) => {
  const script = fileURLToPath(new URL('./pytorch/matmul_bench.py', import.meta.url))
  const out = execFileSync('/usr/bin/python3', [script, '--shapes', shapes.map((s) => s.join('x')).join(','), '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: torchEnv(),
  })
  return JSON.parse(out)
}

/** "PyTorch + OpenBLAS 0.3.21", or a label that says the run is on the reference BLAS (not a comparison). */
export const torchLabel = (blas) =>
  blas === undefined
    ? 'PyTorch (BLAS not reported)'
    : blas.reference
      ? 'PyTorch on the REFERENCE BLAS (not a comparison)'
      : `PyTorch + ${blas.blas.split(' ').slice(0, 2).join(' ')}`

/** The index of a row's largest value (greedy decoding on the host). */
export const argmax = (row) => {
  let best = 0
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i
  return best
}

/**
 * The decode protocol every benchmark shares: `prompt` prefilled in one call (timed on its own),
 * `warmup` untimed greedy steps (default 1: packing, pipelines; more to time the steady state
 * past the JIT's warm-up, docs/benchmarks.md), then `steps` timed greedy steps through a
 * sample.DecoderModel. Returns the prefill's seconds, each step's seconds and the cache length
 * at the end; the caches are released.
 */
export const timeGreedyDecode = async (decoder, prompt, steps, warmup = 1) => {
  let t = performance.now()
  let out = await decoder.prefill([prompt])
  const prefillSeconds = (performance.now() - t) / 1000
  let next
  for (let w = 0; w < warmup; w++) {
    next = await decoder.step(out.cache, [argmax(out.logits[0])])
    decoder.release(out.cache)
    out = next
  }
  const stepSeconds = []
  for (let s = 0; s < steps; s++) {
    const token = argmax(out.logits[0])
    t = performance.now()
    next = await decoder.step(out.cache, [token])
    stepSeconds.push((performance.now() - t) / 1000)
    decoder.release(out.cache)
    out = next
  }
  const finalLength = out.cache[0]?.length ?? out.cache[0]?.k?.shape?.[2] // a KVCache's positions (its buffers may have room for more)
  decoder.release(out.cache)
  return { prefillSeconds, stepSeconds, finalLength }
}
