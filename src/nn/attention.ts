/**
 * Attention: scaled dot-product attention and multi-head attention with an optional mask,
 * an optional key/value cache for incremental decoding, and the attention weights on request
 * (for pictures and for property tests).
 */
import * as tf from '@tensorflow/tfjs-core'
import { attendKernel } from '../backend/simd/attend.js'
import { sequenceAttention } from '../backend/simd/attention-train.js'
import { splitHeadsKernel } from '../backend/simd/cache-blocks.js'
import { attendOneQueryWebGpu } from '../backend/webgpu/attend-one-query.js'
import { checkShape } from '../core/errors.js'
import { noGradientInProgress, withInferenceKernel } from '../core/grad.js'
import { compose, nameAt } from '../core/layer.js'
import { isCausalMask } from '../mask/index.js'
import { cacheContents, extendCache, extendCacheFused, kvCache, type KVCache } from './kv-cache.js'
import { linear } from './linear.js'

export { cacheCapacity, cacheContents, cacheFormat, cacheLength, extendCache, kvCache, reserveCache, selectCache, spareFor, type CacheFormat, type KVCache } from './kv-cache.js'

/** The output of attention, and its weights when asked for. */
export interface AttentionOutput {
  readonly output: tf.Tensor
  /** softmax(QKᵀ/√d + mask): [..., queries, keys]; rows sum to 1. */
  readonly weights?: tf.Tensor
}

/**
 * softmax(Q·Kᵀ/√d + mask)·V for q [..., Tq, d], k and v [..., Tk, d]; the mask (additive,
 * broadcastable to [..., Tq, Tk]) is optional, and so is `dropWeights`, applied to the weights
 * before they multiply V (GPT-2's attention-probability dropout). The returned weights are the
 * softmax's, before that dropout.
 */
export const scaledDotProductAttention = (
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  mask?: tf.Tensor,
  returnWeights = false,
  dropWeights?: (weights: tf.Tensor) => tf.Tensor,
): AttentionOutput =>
  k.rank === 4 && v.rank === 4
    ? attendCached(q, kvCache(k as tf.Tensor4D, v as tf.Tensor4D), mask, returnWeights, dropWeights)
    : attendOps(q, k, v, mask, returnWeights, dropWeights)

const attendOps = (
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  mask: tf.Tensor | undefined,
  returnWeights: boolean,
  dropWeights: ((weights: tf.Tensor) => tf.Tensor) | undefined,
): AttentionOutput => {
  const d = q.shape[q.rank - 1]
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d))
  const weights = tf.softmax(mask === undefined ? scores : tf.add(scores, mask), -1)
  const output = tf.matMul(dropWeights === undefined ? weights : dropWeights(weights), v)
  return returnWeights ? { output, weights } : { output }
}

const attendCachedOps = (
  q: tf.Tensor,
  cache: KVCache,
  mask: tf.Tensor | undefined,
  returnWeights: boolean,
  dropWeights: ((weights: tf.Tensor) => tf.Tensor) | undefined,
): AttentionOutput => {
  const { k, v } = cacheContents(cache)
  return attendOps(q, k, v, mask, returnWeights, dropWeights)
}

// At inference on wasm: one SIMD kernel for the scores, the causal limit, the softmax and the
// weighted sums (backend/simd/attend.ts), where tfjs-wasm would run two scalar batched products
// and a softmax over the whole [B, H, Tq, Tk] scores; on webgpu, for one query position (a
// decoding step), one WGSL kernel (backend/webgpu) in place of about ten dispatches. They
// decline (undefined) a mask other than the causal one (mask/index.ts's causalMask for these
// sizes), weights, dropout, or a shape they do not take; withInferenceKernel keeps them out of
// gradient computations.
const attendCachedKernel = (...[q, cache, mask, returnWeights, dropWeights]: Parameters<typeof attendCachedOps>): AttentionOutput | undefined => {
  if (returnWeights || dropWeights !== undefined || q.rank !== 4) return undefined
  const q4 = q as tf.Tensor4D
  const tq = q4.shape[2]
  const causal = mask !== undefined && tq > 1 && isCausalMask(mask, tq, cache.length)
  if (mask !== undefined && !causal) return undefined
  const output = attendKernel(q4, cache.k, cache.v, cache.length, causal) ?? (causal ? undefined : attendOneQueryWebGpu(q4, cache.k, cache.v, cache.length))
  return output === undefined ? undefined : { output }
}

/**
 * {@link scaledDotProductAttention} of queries q [B, H, Tq, d] over a cache's positions (its
 * `length` first, whatever its buffers' capacity). With the causal mask of these sizes
 * (`causalMask(Tq, length)`) the queries are the cache's last Tq positions.
 */
export const attendCached: (q: tf.Tensor, cache: KVCache, mask?: tf.Tensor, returnWeights?: boolean, dropWeights?: (weights: tf.Tensor) => tf.Tensor) => AttentionOutput = (
  q,
  cache,
  mask,
  returnWeights = false,
  dropWeights,
) => withInferenceKernel(attendCachedOps, attendCachedKernel)(q, cache, mask, returnWeights, dropWeights)

/** [B, T, H·d] → [B, H, T, d]. With one position (a decoding step) it is a reshape: the layouts coincide. */
export const splitHeads = (x: tf.Tensor, heads: number): tf.Tensor4D => {
  const [b, t, e] = x.shape
  if (t === 1) return tf.reshape(x, [b, heads, 1, e / heads])
  return tf.transpose(tf.reshape(x, [b, t, heads, e / heads]), [0, 2, 1, 3]) as tf.Tensor4D
}

/** [B, H, T, d] → [B, T, H·d]. With one position it is a reshape. */
export const mergeHeads = (x: tf.Tensor4D): tf.Tensor3D => {
  const [b, h, t, d] = x.shape
  if (t === 1) return tf.reshape(x, [b, 1, h * d])
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * d]) as tf.Tensor3D
}

/** Input of {@link multiHeadAttention}: activations [B, T, E], an additive mask, an optional cache. */
export interface MhaInput {
  readonly x: tf.Tensor3D
  readonly mask?: tf.Tensor
  /** The cache of earlier positions; the output then has it extended by these. */
  readonly cache?: KVCache
  readonly returnWeights?: boolean
  /**
   * With no cache given, also return one holding these positions (to decode on from this pass).
   * Without it a pass over whole sequences builds none: splitting keys and values into heads
   * for a cache nobody reads cost Mini-GPT's forward pass 3 %.
   */
  readonly returnCache?: boolean
}

/** Output of {@link multiHeadAttention}: [B, T, E], the extended cache (or a new one, when asked), and the weights if asked. */
export interface MhaOutput {
  readonly output: tf.Tensor3D
  readonly cache?: KVCache
  readonly weights?: tf.Tensor4D
}

/** Output of {@link attendHeads}: the heads merged again [B, T, E] (before an output projection), the extended cache (or a new one, when asked), the weights if asked. */
export interface HeadsOutput {
  readonly output: tf.Tensor3D
  readonly cache?: KVCache
  readonly weights?: tf.Tensor4D
}

/**
 * Multi-head attention of queries q over the cache extended by keys k and values v (each
 * [B, T, E], split into `heads`): the attention both models' layers share, with the input's
 * mask, cache and weights request; `dropWeights` is dropout on the probabilities.
 */
export const attendHeads = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, input: MhaInput, dropWeights?: (weights: tf.Tensor) => tf.Tensor): HeadsOutput =>
  attendWholeSequence(q, k, v, heads, input, dropWeights) ?? attendSplitHeads(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), input, dropWeights)

/**
 * {@link attendHeads} for queries, keys and values already split into heads ([B, H, T, d]
 * each), as {@link splitFusedHeads} gives them.
 */
export const attendSplitHeads = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, input: MhaInput, dropWeights?: (weights: tf.Tensor) => tf.Tensor): HeadsOutput =>
  attendExtended(q, extendCache(input.cache, k, v), input, dropWeights)

/** Queries [B, H, T, d] over a cache already extended by their keys and values, heads merged again. */
const attendExtended = (q: tf.Tensor4D, cache: KVCache, input: MhaInput, dropWeights?: (weights: tf.Tensor) => tf.Tensor): HeadsOutput => {
  const att = attendCached(q, cache, input.mask, input.returnWeights === true, dropWeights)
  // Attention keeps the queries' shape [B, H, T, d], and the weights are [B, H, T, keys].
  const output = mergeHeads(att.output as tf.Tensor4D)
  // a pass given no cache returns one only when asked, whichever path it took
  const kept = input.cache !== undefined || input.returnCache === true ? { cache } : {}
  return att.weights === undefined ? { output, ...kept } : { output, ...kept, weights: att.weights as tf.Tensor4D }
}

const splitFusedHeadsOps = (x: tf.Tensor3D, parts: number, heads: number): tf.Tensor4D[] => tf.split(x, parts, -1).map((p) => splitHeads(p, heads))

/**
 * A fused projection's output x [B, T, parts·E] (GPT-2's c_attn: q, k, v side by side) as
 * `parts` tensors [B, H, T, d] with their heads split: at inference on wasm one kernel
 * (backend/simd/cache-blocks.ts) where tfjs-wasm's SplitV and a transpose per part would run.
 */
export const splitFusedHeads: (x: tf.Tensor3D, parts: number, heads: number) => tf.Tensor4D[] = withInferenceKernel(splitFusedHeadsOps, splitHeadsKernel)

/**
 * {@link attendHeads} for a fused projection's output qkv [B, T, 3E] (GPT-2's c_attn: q, k, v
 * side by side). While a gradient is recorded it is split and attended as {@link attendHeads}
 * does (whole sequences by the training kernels); at inference {@link splitFusedHeads} splits
 * it into heads in one kernel and the cache is written in place — the keys and values straight
 * from qkv into the cache's buffers when they have room (extendCacheFused: a decoding step).
 */
export const attendFusedHeads = (qkv: tf.Tensor3D, heads: number, input: MhaInput, dropWeights?: (weights: tf.Tensor) => tf.Tensor): HeadsOutput => {
  if (noGradientInProgress()) {
    const fused = extendCacheFused(input.cache, qkv, heads)
    if (fused !== undefined) return attendExtended(fused.q, fused.cache, input, dropWeights)
    const [q, k, v] = splitFusedHeads(qkv, 3, heads)
    return attendSplitHeads(q, k, v, input, dropWeights)
  }
  const [q, k, v] = tf.split<tf.Tensor3D>(qkv, 3, -1)
  return attendHeads(q, k, v, heads, input, dropWeights)
}

/**
 * {@link attendHeads} without a cache or weights asked for (a training step, with or without
 * dropout on the probabilities; a forward pass over whole sequences) by the wasm kernels of
 * backend/simd/attention-train.ts, which need no split into heads; `undefined` where they do
 * not apply.
 */
const attendWholeSequence = (
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
  input: MhaInput,
  dropWeights?: (weights: tf.Tensor) => tf.Tensor,
): HeadsOutput | undefined => {
  if (input.cache !== undefined || input.returnWeights === true) return undefined
  const output = sequenceAttention(q, k, v, heads, input.mask, dropWeights)
  if (output === undefined) return undefined
  if (input.returnCache !== true) return { output }
  // The cache as its keys and values split into heads (at inference one SIMD kernel each), with
  // no room reserved: a pass that decodes on copies it into room then (extendCache).
  const split = (x: tf.Tensor3D): tf.Tensor4D => (noGradientInProgress() ? splitFusedHeads(x, 1, heads)[0] : splitHeads(x, heads))
  return { output, cache: kvCache(split(k), split(v)) }
}

/**
 * Multi-head attention as in the seed notebook: four linear maps W_q, W_k, W_v, W_o of
 * [E, E], heads of E/H features. With a cache, the new positions' keys and values are
 * appended to it and the queries attend to all of them (the mask must then be
 * [T, cached + T], e.g. `causalMask(T, cached + T)`).
 */
export const multiHeadAttention = (embedDim: number, numHeads: number) => {
  if (!(Number.isInteger(numHeads) && numHeads >= 1 && embedDim % numHeads === 0)) {
    throw new RangeError(`multiHeadAttention: num_heads must divide embed_dim=${embedDim}, got ${numHeads}`)
  }
  return compose(
    { W_q: linear(embedDim, embedDim), W_k: linear(embedDim, embedDim), W_v: linear(embedDim, embedDim), W_o: linear(embedDim, embedDim) },
    ({ W_q, W_k, W_v, W_o }, input: MhaInput, ctx): MhaOutput => {
      checkShape(nameAt(ctx, 'multiHeadAttention'), 'input', input.x.shape, [null, null, embedDim])
      const a = attendHeads(W_q(input.x), W_k(input.x), W_v(input.x), numHeads, input)
      return { ...a, output: W_o(a.output) }
    },
  )
}
