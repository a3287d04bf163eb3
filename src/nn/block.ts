/**
 * The interface shared by decoder blocks (Mini-GPT's and GPT-2's): activations in and out,
 * the additive mask, and the block's key/value cache threaded through incremental decoding.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { fold, type Ctx, type Layer } from '../core/layer.js'
import type { KVCache } from './attention.js'

/** Input of a decoder block: activations [B, T, E], the additive mask (none: every key is visible), this layer's cache. */
export interface BlockInput {
  readonly x: tf.Tensor3D
  readonly mask?: tf.Tensor
  readonly cache?: KVCache
  readonly returnWeights?: boolean
}

/** Output of a decoder block: activations, the extended cache, the attention weights if asked. */
export interface BlockOutput {
  readonly x: tf.Tensor3D
  readonly cache: KVCache
  readonly weights?: tf.Tensor4D
}

/** What {@link runBlocks} returns: the last block's activations, every block's cache and weights. */
export interface BlocksOutput {
  readonly x: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention: readonly tf.Tensor4D[]
}

/**
 * Runs a stack of decoder blocks in order, threading the activations and giving block i its
 * own cache (`cache[i]`) and the context `fold(ctx, i + 1)` (index 0 is the caller's: the
 * embedding dropout). The loop that Mini-GPT's and GPT-2's decoders share.
 */
export const runBlocks = <P>(
  block: Layer<P, BlockInput, BlockOutput>,
  params: readonly P[],
  input: { readonly x: tf.Tensor3D; readonly mask?: tf.Tensor; readonly cache?: readonly KVCache[]; readonly returnAttention?: boolean },
  ctx: Ctx,
): BlocksOutput => {
  let x = input.x
  const cache: KVCache[] = []
  const attention: tf.Tensor4D[] = []
  params.forEach((p, i) => {
    const out = block.apply(p, { x, mask: input.mask, cache: input.cache?.[i], returnWeights: input.returnAttention }, fold(ctx, i + 1))
    x = out.x
    cache.push(out.cache)
    if (out.weights !== undefined) attention.push(out.weights)
  })
  return { x, cache, attention }
}
