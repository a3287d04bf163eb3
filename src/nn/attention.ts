/**
 * Attention: scaled dot-product attention and multi-head attention with an optional mask,
 * an optional key/value cache for incremental decoding, and the attention weights on request
 * (for pictures and for property tests).
 */
import * as tf from '@tensorflow/tfjs-core'
import { attendOneQuery } from '../backend/simd/attend-one-query.js'
import { sequenceAttention } from '../backend/simd/attention-train.js'
import { concat2 } from '../backend/simd/concat-blocks.js'
import { attendOneQueryWebGpu } from '../backend/webgpu/attend-one-query.js'
import { checkShape } from '../core/errors.js'
import { withInferenceKernel } from '../core/grad.js'
import { compose, nameAt } from '../core/layer.js'
import { linear } from './linear.js'

/**
 * Keys and values of the positions seen so far, per head: [batch, heads, length, headDim].
 *
 * A long cache keeps its newest positions apart, in `recent` (at most {@link RECENT_BLOCK}
 * of them): tensors are immutable, so appending one position to a single tensor copies the
 * whole cache at every token — for GPT-2 124M at 512 positions, 38 MB per token, a tenth of a
 * decoding step. Appending to `recent` copies only it; it is merged into `k`/`v` once full.
 * {@link cacheLength} counts both parts; {@link attendCached} attends to both.
 */
export interface KVCache {
  readonly k: tf.Tensor4D
  readonly v: tf.Tensor4D
  /** The newest positions (after those of `k`/`v`), kept apart while the cache grows. */
  readonly recent?: { readonly k: tf.Tensor4D; readonly v: tf.Tensor4D }
}

/** A cache at least this long keeps its newest positions apart; `recent` holds fewer than this many. */
export const RECENT_BLOCK = 64

/** The number of positions a cache holds. */
export const cacheLength = (c: KVCache | undefined): number => (c === undefined ? 0 : c.k.shape[2] + (c.recent?.k.shape[2] ?? 0))

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
): AttentionOutput => attendParts(q, [{ k, v }], mask, returnWeights, dropWeights)

/**
 * Attention over keys/values given in consecutive parts (a cache's older and newest positions):
 * the parts' scores are joined before the softmax and its weights split again to multiply each
 * part's values — the same attention as over the concatenated keys and values, without making
 * them. One part is plain scaled dot-product attention.
 */
const attendPartsOps = (
  q: tf.Tensor,
  parts: readonly { readonly k: tf.Tensor; readonly v: tf.Tensor }[],
  mask: tf.Tensor | undefined,
  returnWeights: boolean,
  dropWeights: ((weights: tf.Tensor) => tf.Tensor) | undefined,
): AttentionOutput => {
  const d = q.shape[q.rank - 1]
  const products = parts.map(({ k }) => tf.matMul(q, k, false, true))
  const scores = tf.mul(products.length === 1 ? products[0] : tf.concat(products, -1), 1 / Math.sqrt(d))
  const weights = tf.softmax(mask === undefined ? scores : tf.add(scores, mask), -1)
  const used = dropWeights === undefined ? weights : dropWeights(weights)
  const perPart =
    parts.length === 1
      ? [used]
      : tf.split(
          used,
          parts.map(({ k }) => k.shape[k.rank - 2]),
          -1,
        )
  const output = perPart.map((w, i) => tf.matMul(w, parts[i].v)).reduce((sum, o) => tf.add(sum, o))
  return returnWeights ? { output, weights } : { output }
}

// One query position at inference (a decoding step) on wasm: one SIMD kernel for the scores,
// the softmax and the weighted sums of both parts (backend/simd), where tfjs-wasm would run two
// scalar batched products per part; on webgpu one WGSL kernel (backend/webgpu) in place of about
// ten dispatches. It declines (undefined) a mask, weights, dropout, or a shape it does not take,
// and withInferenceKernel keeps it out of gradient computations.
const attendPartsKernel = (...[q, parts, mask, returnWeights, dropWeights]: Parameters<typeof attendPartsOps>): AttentionOutput | undefined => {
  if (mask !== undefined || returnWeights || dropWeights !== undefined || q.rank !== 4) return undefined
  const output = attendOneQuery(q as tf.Tensor4D, parts) ?? attendOneQueryWebGpu(q as tf.Tensor4D, parts)
  return output === undefined ? undefined : { output }
}

const attendParts = withInferenceKernel(attendPartsOps, attendPartsKernel)

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

/**
 * Appends new keys/values to a cache along the length axis (or starts one). A cache shorter
 * than {@link RECENT_BLOCK} stays one tensor; a longer one appends to its `recent` part, which
 * is merged into the rest when it reaches {@link RECENT_BLOCK} positions.
 */
export const extendCache = (cache: KVCache | undefined, k: tf.Tensor4D, v: tf.Tensor4D): KVCache => {
  if (cache === undefined) return { k, v }
  if (cache.recent === undefined && cache.k.shape[2] < RECENT_BLOCK) return { k: concat2(cache.k, k, 2), v: concat2(cache.v, v, 2) }
  const recent = cache.recent === undefined ? { k, v } : { k: concat2(cache.recent.k, k, 2), v: concat2(cache.recent.v, v, 2) }
  // The older part is shared with the input cache: a clone is a new handle on the same data
  // (no copy), so that disposing the input cache leaves it alive.
  if (recent.k.shape[2] < RECENT_BLOCK) return { k: tf.clone(cache.k), v: tf.clone(cache.v), recent }
  return { k: concat2(cache.k, recent.k, 2), v: concat2(cache.v, recent.v, 2) }
}

/** {@link scaledDotProductAttention} of queries over a whole cache, both of its parts. */
export const attendCached = (q: tf.Tensor, cache: KVCache, mask?: tf.Tensor, returnWeights = false, dropWeights?: (weights: tf.Tensor) => tf.Tensor): AttentionOutput =>
  attendParts(q, cache.recent === undefined ? [cache] : [cache, cache.recent], mask, returnWeights, dropWeights)

/** Input of {@link multiHeadAttention}: activations [B, T, E], an additive mask, an optional cache. */
export interface MhaInput {
  readonly x: tf.Tensor3D
  readonly mask?: tf.Tensor
  readonly cache?: KVCache
  readonly returnWeights?: boolean
}

/** Output of {@link multiHeadAttention}: [B, T, E], the extended cache, and the weights if asked. */
export interface MhaOutput {
  readonly output: tf.Tensor3D
  readonly cache: KVCache
  readonly weights?: tf.Tensor4D
}

/** Output of {@link attendHeads}: the heads merged again [B, T, E] (before an output projection), the extended cache, the weights if asked. */
export interface HeadsOutput {
  readonly output: tf.Tensor3D
  readonly cache: KVCache
  readonly weights?: tf.Tensor4D
}

/**
 * Multi-head attention of queries q over the cache extended by keys k and values v (each
 * [B, T, E], split into `heads`): the attention both models' layers share, with the input's
 * mask, cache and weights request; `dropWeights` is dropout on the probabilities.
 */
export const attendHeads = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, input: MhaInput, dropWeights?: (weights: tf.Tensor) => tf.Tensor): HeadsOutput => {
  const whole = attendWholeSequence(q, k, v, heads, input, dropWeights)
  if (whole !== undefined) return whole
  const cache = extendCache(input.cache, splitHeads(k, heads), splitHeads(v, heads))
  const att = attendCached(splitHeads(q, heads), cache, input.mask, input.returnWeights === true, dropWeights)
  // Attention keeps the queries' shape [B, H, T, d], and the weights are [B, H, T, keys].
  const output = mergeHeads(att.output as tf.Tensor4D)
  return att.weights === undefined ? { output, cache } : { output, cache, weights: att.weights as tf.Tensor4D }
}

/**
 * {@link attendHeads} without a cache, weights or dropout on them (a training step, a forward
 * pass over whole sequences) by the wasm kernels of backend/simd/attention-train.ts, which
 * need no split into heads; `undefined` where they do not apply.
 */
const attendWholeSequence = (
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
  input: MhaInput,
  dropWeights?: (weights: tf.Tensor) => tf.Tensor,
): HeadsOutput | undefined => {
  if (input.cache !== undefined || input.returnWeights === true || dropWeights !== undefined) return undefined
  const output = sequenceAttention(q, k, v, heads, input.mask)
  return output === undefined ? undefined : { output, cache: extendCache(undefined, splitHeads(k, heads), splitHeads(v, heads)) }
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
