/**
 * Attention of one query position over a key/value cache, as one tfjs kernel on the wasm
 * backend: `softmax(q·Kᵀ/√d)·V` per (batch, head) block, in WebAssembly SIMD (kernels.wat).
 *
 * Why: a decoding step's attention is two batched products per layer, and tfjs-wasm runs
 * batched products ([B·H] of them) with a scalar loop instead of XNNPACK, a large part of a
 * GPT-2 decoding step at long contexts. This kernel does the scores, the softmax and the
 * weighted sum in one pass, over both parts of a split cache (nn/attention.ts's `recent`),
 * with no concatenation (figures: docs/benchmarks.md, `node bench/kernels.mjs`).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const ATTEND_ONE_QUERY = 'MinigptAttendOneQuery'

registerSimdKernel(ATTEND_ONE_QUERY, ({ inputs, backend, kernels, attrs }) => {
  const { q, k1, v1, k2, v2 } = inputs
  const [b0, h, , d] = q.shape
  const len1 = k1.shape[2]
  const len2 = k2 === undefined ? 0 : k2.shape[2]
  const out = backend.makeOutput([b0, h, 1, d], 'float32')
  const scratch = backend.makeOutput([len1 + len2 + 4], 'float32')
  kernels.attend_one_query(
    dataOffset(backend, q),
    dataOffset(backend, k1),
    dataOffset(backend, v1),
    len1,
    k2 === undefined ? 0 : dataOffset(backend, k2),
    v2 === undefined ? 0 : dataOffset(backend, v2),
    len2,
    b0 * h,
    d,
    (attrs as { scale: number }).scale,
    dataOffset(backend, scratch),
    dataOffset(backend, out),
  )
  backend.disposeData(scratch.dataId)
  return out
})

/**
 * `softmax(q·Kᵀ/√d)·V` for one query position, q [B, H, 1, d], over keys/values in one or
 * two consecutive parts ([B, H, Tᵢ, d] each), by the SIMD kernel — or `undefined` where it
 * does not run (another backend than wasm, a head size not a multiple of 4, no SIMD kernels
 * on this backend): the caller then computes it with tfjs ops. No gradient: callers use it
 * only outside gradient recording.
 */
export const attendOneQuery = (q: tf.Tensor4D, parts: readonly { readonly k: tf.Tensor; readonly v: tf.Tensor }[]): tf.Tensor4D | undefined => {
  const d = q.shape[3]
  if (parts.length < 1 || parts.length > 2 || q.shape[2] !== 1 || d % 4 !== 0 || q.dtype !== 'float32' || activeSimdKernels() === null) return undefined
  const [p1, p2] = parts
  const inputs: tf.NamedTensorMap = p2 === undefined ? { q, k1: p1.k, v1: p1.v } : { q, k1: p1.k, v1: p1.v, k2: p2.k, v2: p2.v }
  return tf.engine().runKernel(ATTEND_ONE_QUERY, inputs, { scale: 1 / Math.sqrt(d) }) as tf.Tensor4D
}
