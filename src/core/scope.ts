/**
 * Memory ownership, stated once:
 *
 *   Pure functions never dispose their inputs. Whoever owns a step (a training step, a
 *   decoding step) runs it in {@link scoped} and keeps only what it returns; when a new
 *   value replaces an old one (new parameters, new optimizer state, a new cache), the owner
 *   disposes the old one with {@link replace}.
 *
 * tfjs frees GPU/wasm memory only on `dispose()`; with this rule `tf.memory().numTensors`
 * stays flat over any number of steps (spec/train/memory.spec.ts checks it over 200 training steps).
 */
import * as tf from '@tensorflow/tfjs-core'

/**
 * Runs `f` in a tfjs scope: every tensor it creates is disposed when it returns, except the
 * tensors inside its result (found in nested records and arrays).
 */
export const scoped = <T>(f: () => T): T => tf.tidy(f as () => tf.TensorContainer) as unknown as T

/**
 * Disposes the tensors of `old` that `next` does not hold, and returns `next`: the step that
 * replaces parameters, optimizer state or a cache by their successors.
 */
export const replace = <T>(old: unknown, next: T): T => {
  const keep = new Set(tensorsIn(next).map((t) => t.id))
  for (const t of tensorsIn(old)) if (!keep.has(t.id) && !t.isDisposed) t.dispose()
  return next
}

/**
 * Every tensor inside a value made of records, arrays, numbers and tensors (parameters,
 * optimizer states, caches), each once.
 */
export const tensorsIn = (x: unknown): tf.Tensor[] => {
  const out = new Map<number, tf.Tensor>()
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) out.set(v.id, v)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(x)
  return [...out.values()]
}
