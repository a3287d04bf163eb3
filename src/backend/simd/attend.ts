/**
 * Scaled dot-product attention over a key/value cache as one tfjs kernel on the wasm backend:
 * `softmax(q·Kᵀ/√d)·V` per (batch, head) block, in WebAssembly SIMD (kernels.wat's `attend`),
 * for one query position (a decoding step) or many (a prefill, causal or not), over the first
 * `length` positions of a cache that may have room for more (nn/kv-cache.ts).
 *
 * Why: tfjs-wasm runs batched products ([B·H] of them) with a scalar loop instead of XNNPACK,
 * and the ops between them (scale, mask, softmax) each pass over the [B, H, Tq, Tk] scores.
 * This kernel computes the scores, the causal limit, the softmax and the weighted sum in one
 * pass, four query rows at a time, without materialising the scores of more than four rows,
 * and skips the keys a causal mask hides (figures: docs/benchmarks.md, `node bench/kernels.mjs`).
 * The blocks are split over the kernel pool's threads.
 *
 * Over a bfloat16 cache (nn/kv-cache.ts's compact form: int32 buffers [B, H, capacity, d/2],
 * two bfloat16 a word) the kernel reads the keys and values as such, widening them in its
 * loops: half the bytes of a float32 cache, which is what attention over hundreds of positions
 * waits on. It then takes each query row alone (a decoding step has one).
 */
import * as tf from '@tensorflow/tfjs-core'
import { features, packed } from './cache-blocks.js'
import { activeSimdKernels, dataOffset, poolAwake, registerSimdKernel, runSplit, splitSlots } from './module.js'

/** The kernel's name in tfjs's registry. */
export const ATTEND = 'MinigptAttend'

registerSimdKernel(ATTEND, ({ inputs, backend, kernels, attrs }) => {
  const { q, k, v } = inputs
  const { length, causal, scale } = attrs as { length: number; causal: boolean; scale: number }
  const [b, h, tq, d] = q.shape
  const out = backend.makeOutput([b, h, tq, d], 'float32')
  // (batch, head) blocks split over the kernel pool in chunks of some 2^15 multiply-adds. When
  // the workers were asleep (no pool job just before: between XNNPACK's products, which serve
  // batches of 5 to 47 rows) a chunk must be worth waking one for — 2^18 multiply-adds, some
  // 100 µs: a GPT-2 124M step at 64 positions (12 · 65 · 64) then runs whole on the caller, where
  // its split had taken 124 µs, mostly waiting for the woken worker — and the workers go back to
  // sleep when done: left spinning, they would take the core that XNNPACK's next product needs
  // (such steps ran 1.1-1.9× slower: docs/benchmarks.md). After a pool job (a decoding step's
  // products, float or quantized; a prefill's) they spin on for the next one as usual.
  const blocks = b * h
  const linger = poolAwake(backend)
  // The chunks that size allows, evened out: GPT-2's 12 heads at 64 positions in chunks of at
  // least 8 go as two of 6, not 8 and 4 (one thread idle a third of the job; the attention of a
  // decoding step at 64 positions took 11 % less time, docs/benchmarks.md).
  const least = Math.max(Math.ceil(blocks / 8), Math.ceil((linger ? 2 ** 15 : 2 ** 18) / (tq * length * d)))
  const grain = Math.ceil(blocks / Math.ceil(blocks / least))
  const scratch = backend.makeOutput([splitSlots(backend, blocks, grain) * 4 * (length + 4)], 'float32')
  const args = [
    dataOffset(backend, q),
    dataOffset(backend, k),
    dataOffset(backend, v),
    k.shape[2],
    length,
    tq,
    causal ? 1 : 0,
    packed(k) ? 1 : 0,
    blocks,
    d,
    scale,
    dataOffset(backend, scratch),
    dataOffset(backend, out),
  ]
  runSplit(backend, 'kernels', 'attend_chunk', kernels.attend_chunk, args, blocks, grain, linger)
  backend.disposeData(scratch.dataId)
  return out
})

/**
 * `softmax(q·Kᵀ/√d + mask)·V` for queries q [B, H, Tq, d] over the first `length` positions of
 * keys and values k, v [B, H, capacity, d] (or a bfloat16 cache's int32 buffers
 * [B, H, capacity, d/2], d a multiple of 8), by the SIMD kernel; the mask is none (`causal`
 * false: every query sees all `length` keys) or causal (the queries are the last Tq of the
 * `length` positions and query i sees keys 0 … length − Tq + i). Undefined where the kernel
 * does not run (another backend than wasm, a head size not a multiple of 4, no SIMD kernels
 * on this backend, shapes that do not fit): the caller then uses tfjs ops. No gradient:
 * callers use it only outside gradient recording.
 */
export const attendKernel = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, length: number, causal: boolean): tf.Tensor4D | undefined => {
  const [b, h, tq, d] = q.shape
  const bf16 = packed(k)
  const fits =
    d % (bf16 ? 8 : 4) === 0 &&
    tq >= 1 &&
    length >= (causal ? tq : 1) &&
    length <= k.shape[2] &&
    q.dtype === 'float32' &&
    (k.dtype === 'float32' || bf16) &&
    v.dtype === k.dtype &&
    features(k) === d &&
    k.shape.every((n, i) => n === v.shape[i] && (i >= 2 || n === q.shape[i])) &&
    b * h > 0
  if (!fits || activeSimdKernels() === null) return undefined
  return tf.engine().runKernel(ATTEND, { q, k, v }, { length, causal, scale: 1 / Math.sqrt(d) }) as tf.Tensor4D
}
