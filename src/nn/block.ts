/**
 * The interface shared by decoder blocks (Mini-GPT's and GPT-2's): activations in and out,
 * the additive mask, and the block's key/value cache threaded through incremental decoding.
 */
import type * as tf from '@tensorflow/tfjs-core'
import type { KVCache } from './attention.js'

/** Input of a decoder block: activations [B, T, E], the additive mask, this layer's cache. */
export interface BlockInput {
  readonly x: tf.Tensor3D
  readonly mask: tf.Tensor
  readonly cache?: KVCache
  readonly returnWeights?: boolean
}

/** Output of a decoder block: activations, the extended cache, the attention weights if asked. */
export interface BlockOutput {
  readonly x: tf.Tensor3D
  readonly cache: KVCache
  readonly weights?: tf.Tensor4D
}
