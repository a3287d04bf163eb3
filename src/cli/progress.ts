/**
 * A progress bar for long work, drawn on stderr (stdout stays clean for `--json`).
 *
 *   epoch 3/50 ████████████░░░░░░░░ 58% 52/89 · loss 2.314 · 7,812 tok/s · ETA 4m12s
 *
 * On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line at each
 * tenth of the work so logs stay short.
 */

/** Where the bar draws: a stream with `write` (process.stderr) and whether it is a terminal. */
export interface BarSink {
  readonly write: (s: string) => unknown
  readonly isTTY?: boolean
}

/** Formats seconds as `1h02m`, `4m12s` or `9s`. */
const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${s}s`
}

/** The bar's text for a fraction done (no I/O; exported for tests). */
const renderBar = (fraction: number, width = 20): string => {
  const f = Math.min(1, Math.max(0, fraction))
  const full = Math.round(f * width)
  return '█'.repeat(full) + '░'.repeat(width - full)
}

/** A progress reporter over `total` units of work. */
export const progressBar = (sink: BarSink, total: number, label = '') => {
  const start = Date.now()
  let lastDecile = -1
  let lastDraw = 0
  const line = (done: number, info: string) => {
    const frac = total > 0 ? done / total : 1
    const elapsed = (Date.now() - start) / 1000
    const eta = done > 0 ? (elapsed * (total - done)) / done : NaN
    return `${label}${label ? ' ' : ''}${renderBar(frac)} ${Math.floor(frac * 100)}% ${done}/${total}${info ? ' · ' + info : ''} · ETA ${formatDuration(eta)}`
  }
  return {
    /** Reports `done` units finished, with extra text (loss, speed). */
    update(done: number, info = ''): void {
      if (sink.isTTY === true) {
        const now = Date.now()
        if (now - lastDraw < 100 && done < total) return
        lastDraw = now
        sink.write(`\r\x1b[2K${line(done, info)}`)
      } else {
        const decile = Math.floor((done / Math.max(total, 1)) * 10)
        if (decile !== lastDecile) {
          lastDecile = decile
          sink.write(line(done, info) + '\n')
        }
      }
    },
    /** Ends the bar's line with a final message. */
    done(message: string): void {
      sink.write(sink.isTTY === true ? `\r\x1b[2K${message}\n` : `${message}\n`)
    },
  }
}
