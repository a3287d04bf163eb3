/**
 * The bridge from a tfjs model to the generation engine: any forward pass of the form
 * `(params, ids, cache) → (last-position logits, cache)` becomes a {@link DecoderModel} whose
 * cache is the list of per-layer key/value tensors, passed from step to step as a value.
 *
 * This module imports tfjs, so it is not part of the tfjs-free `minigpt-fp/sample` subpath;
 * the package's main entry exports it.
 */
import * as tf from '@tensorflow/tfjs-core'
import { scoped, tensorsIn } from '../core/scope.js'
import type { KVCache } from '../nn/attention.js'
import type { DecoderModel, ModelOutput } from './model.js'

/** Per-layer key/value caches: the state of incremental decoding. */
export type LayerCaches = readonly KVCache[]

/**
 * An incremental forward pass: logits for the last position of `ids` ([batch, 1, vocab] or
 * [batch, length, vocab]) and the caches extended by `ids`.
 */
export type IncrementalForward<P> = (
  params: P,
  ids: tf.Tensor2D,
  cache: LayerCaches | undefined,
) => { readonly logits: tf.Tensor3D; readonly cache: LayerCaches }

/** Shape facts the engine needs. */
export interface DecoderShape {
  readonly vocabSize: number
  readonly contextLength: number
}

const lastRows = async (logits: tf.Tensor3D): Promise<Float32Array[]> => {
  const [b, t, v] = logits.shape
  const data = (await logits.data()) as Float32Array
  return Array.from({ length: b }, (_, i) => data.subarray((i * t + t - 1) * v, (i * t + t) * v))
}

/**
 * Wraps a tfjs forward pass as a {@link DecoderModel}. Each call runs in its own scope; the
 * returned caches are owned by the engine, which releases each exactly once.
 */
export const tfjsDecoder = <P>(forward: IncrementalForward<P>, params: P, shape: DecoderShape): DecoderModel<LayerCaches> => {
  const run = async (ids: readonly (readonly number[])[], cache: LayerCaches | undefined): Promise<ModelOutput<LayerCaches>> => {
    const out = scoped(() => {
      const t = tf.tensor2d(ids.map((r) => [...r]), [ids.length, ids[0]?.length ?? 0], 'int32')
      return forward(params, t, cache)
    })
    const logits = await lastRows(out.logits)
    out.logits.dispose()
    return { logits, cache: out.cache }
  }
  return {
    vocabSize: shape.vocabSize,
    contextLength: shape.contextLength,
    prefill: (prompts) => run(prompts, undefined),
    step: (cache, tokens) => run(tokens.map((t) => [t]), cache),
    select: (cache, rows) =>
      scoped(() => {
        const idx = tf.tensor1d([...rows], 'int32')
        return cache.map((c) => ({ k: tf.gather(c.k, idx, 0), v: tf.gather(c.v, idx, 0) }))
      }),
    release: (cache) => tf.dispose(tensorsIn(cache)),
  }
}
