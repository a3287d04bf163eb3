/**
 * Decoder blocks (Mini-GPT's and GPT-2's) and the combinators over them: {@link stack}, the one
 * loop that runs n blocks threading activations and per-layer caches, and
 * {@link rematerialised}, a block that keeps only its input for the backward pass.
 */
import * as tf from '@tensorflow/tfjs-core'
import { addKernel } from '../backend/simd/add.js'
import { noGradientInProgress } from '../core/grad.js'
import { split } from '../core/key.js'
import { at, nameAt, type Layer } from '../core/layer.js'
import { remat } from '../core/remat.js'
import { scoped } from '../core/scope.js'
import type { KVCache } from './attention.js'

/** Input of a decoder block: activations [B, T, E], the additive mask (none: every key is visible), this layer's cache. */
export interface BlockInput {
  readonly x: tf.Tensor3D
  readonly mask?: tf.Tensor
  readonly cache?: KVCache
  readonly returnWeights?: boolean
  /** With no cache given, also return one of these positions (attention's `returnCache`). */
  readonly returnCache?: boolean
}

/** Output of a decoder block: activations, the extended cache or a new one when asked (none from a {@link rematerialised} block), the attention weights if asked. */
export interface BlockOutput {
  readonly x: tf.Tensor3D
  readonly cache?: KVCache
  readonly weights?: tf.Tensor4D
}

/** Input of a {@link stack}: activations, the mask every block uses, one cache per block. */
export interface StackInput {
  readonly x: tf.Tensor3D
  readonly mask?: tf.Tensor
  readonly cache?: readonly KVCache[]
  readonly returnAttention?: boolean
  /** With no caches given, also return a cache per block holding these positions (to decode on from this pass). */
  readonly returnCache?: boolean
}

/** What a {@link stack} returns: the last block's activations, every block's cache (none unless given or asked for) and weights (none unless asked for). */
export interface StackOutput {
  readonly x: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention: readonly tf.Tensor4D[]
}

/**
 * a + b for a residual connection (b of a's shape) or a tensor of a's last axes added to each of
 * its leading ones (positional encodings); typed as a, whose shape the sum has. At inference
 * on wasm one SIMD kernel on the calling thread (backend/simd/add.ts: tfjs-wasm's Add leaves
 * XNNPACK's worker spinning on the core the kernel pool needs), tf.add otherwise.
 */
export const add = <T extends tf.Tensor>(a: T, b: tf.Tensor): T => (noGradientInProgress() ? addKernel(a, b) : undefined) ?? tf.add<T>(a, b)

/** The error for caches given to `layers` blocks that are not one a block (`where` names the model or stack). */
export const cacheCountError = (where: string, layers: number, got: number): RangeError =>
  new RangeError(
    `${where}: cache must have one entry per layer (${layers}), got ${got}${got === 0 ? ' (a pass with no cache returns one only when asked: returnCache: true)' : ''}`,
  )

/**
 * `n` copies of a block with separate parameters (`h.0.…`, `h.1.…`), run in order: block i
 * gets the previous block's activations, its own cache (`cache[i]`) and the context
 * `at(ctx, i)` (its path `h.i`). Outside gradient computations each block runs in its own
 * scope, so a forward pass holds one block's intermediates at a time, not all of them (a
 * prefill's peak memory; wasm's heap never shrinks).
 */
export const stack = <P, A>(n: number, block: Layer<P, BlockInput, BlockOutput, A>): Layer<readonly P[], StackInput, StackOutput, readonly A[]> => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`stack(${block.name}): n must be a non-negative integer, got ${n}`)
  return {
    name: `stack(${n}, ${block.name})`,
    init: (key) => (n === 0 ? Object.freeze([]) : Object.freeze(split(key, n).map(block.init))),
    apply: (params, input, ctx) => {
      if (input.cache !== undefined && input.cache.length !== params.length) {
        throw cacheCountError(nameAt(ctx, `stack(${block.name})`), params.length, input.cache.length)
      }
      let x = input.x
      const cache: KVCache[] = []
      const attention: tf.Tensor4D[] = []
      params.forEach((p, i) => {
        const run = () => block.apply(p, { x, mask: input.mask, cache: input.cache?.[i], returnWeights: input.returnAttention, returnCache: input.returnCache }, at(ctx, i))
        const out = noGradientInProgress() ? scoped(run) : run()
        x = out.x
        if (out.cache !== undefined) cache.push(out.cache)
        if (out.weights !== undefined) attention.push(out.weights)
      })
      return { x, cache, attention }
    },
  }
}

/**
 * A block that keeps only its input for the backward pass and recomputes itself there
 * (`remat`, src/core/remat.ts): less memory for training, about a third more compute. It
 * returns no cache and no attention weights, and takes no cache.
 */
export const rematerialised = <P, A>(block: Layer<P, BlockInput, BlockOutput, A>): Layer<P, BlockInput, BlockOutput, A> => ({
  name: block.name,
  init: block.init,
  apply: (p, input, ctx) => {
    if (input.cache !== undefined || input.returnWeights === true || input.returnCache === true) {
      throw new Error(
        `${nameAt(ctx, block.name)}: a rematerialised block recomputes itself in the backward pass; it cannot return a cache or attention weights, nor start from a cache`,
      )
    }
    const run = (x: tf.Tensor3D, params: A, aux: { readonly mask: tf.Tensor } | undefined) => block.apply(params, { x, mask: aux?.mask }, ctx).x
    return { x: remat(run)(input.x, p, input.mask === undefined ? undefined : { mask: input.mask }) }
  },
})
