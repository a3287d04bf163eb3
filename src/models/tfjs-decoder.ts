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
import { cacheLength, reserveCache, selectCache, type CacheFormat, type KVCache } from '../nn/attention.js'
import type { DecoderModel, ModelOutput } from '../sample/model.js'

/** Per-layer key/value caches: the state of incremental decoding. */
export type LayerCaches = readonly KVCache[]

/**
 * An incremental forward pass: logits for the last position of `ids` ([batch, 1, vocab] or
 * [batch, length, vocab]) and the caches extended by `ids`.
 */
export type IncrementalForward<P> = (params: P, ids: tf.Tensor2D, cache: LayerCaches | undefined) => { readonly logits: tf.Tensor3D; readonly cache: LayerCaches }

/**
 * The last position of a sequence x [batch, length, features] → [batch, 1, features]: x itself
 * when it has one position (a decoding step: a slice would copy it), a slice otherwise (a
 * prefill). What an {@link IncrementalForward} returns logits for.
 */
export const lastPosition = (x: tf.Tensor3D): tf.Tensor3D => {
  const [b, t, e] = x.shape
  return t === 1 ? x : tf.slice(x, [0, t - 1, 0], [b, 1, e])
}

/** Shape facts the engine needs. */
export interface DecoderShape {
  readonly vocabSize: number
  readonly contextLength: number
}

/**
 * Prompts longer than this are prefilled in chunks of this many tokens: long enough that the
 * products run on many rows at once (GPT-2's 512-token prefill measured 15–25 % faster in
 * chunks of 256 than of 64, docs/benchmarks.md), short enough that one chunk's intermediates
 * (freed block by block, nn/block.ts) stay small beside the weights.
 */
export const PREFILL_CHUNK = 256

const lastRows = async (logits: tf.Tensor3D): Promise<Float32Array[]> => {
  const [b, t, v] = logits.shape
  const data = (await logits.data()) as Float32Array
  return Array.from({ length: b }, (_, i) => data.subarray((i * t + t - 1) * v, (i * t + t) * v))
}

/** How a decoder keeps its state. */
export interface DecoderOptions {
  /**
   * The format of the key/value caches decoding reads: `'float32'` (the default: the forward
   * pass's values exactly) or `'bfloat16'` (each key and value rounded to 8 bits of precision:
   * half the bytes, so attention over long contexts reads half; on wasm, for head sizes a
   * multiple of 8, else float32). The prefill's attention runs on float32; its caches are
   * converted as it ends, and each step's new positions rounded as they are written.
   */
  readonly cache?: CacheFormat
}

/**
 * Wraps a tfjs forward pass as a {@link DecoderModel}. Each call runs in its own scope; the
 * returned caches are owned by the engine, which releases each exactly once.
 */
export const tfjsDecoder = <P>(forward: IncrementalForward<P>, params: P, shape: DecoderShape, options: DecoderOptions = {}): DecoderModel<LayerCaches> => {
  const call = (ids: readonly (readonly number[])[], cache: LayerCaches | undefined) =>
    scoped(() =>
      forward(
        params,
        tf.tensor2d(
          ids.map((r) => [...r]),
          [ids.length, ids[0]?.length ?? 0],
          'int32',
        ),
        cache,
      ),
    )
  const run = async (ids: readonly (readonly number[])[], cache: LayerCaches | undefined): Promise<ModelOutput<LayerCaches>> => {
    const out = call(ids, cache)
    const logits = await lastRows(out.logits)
    out.logits.dispose()
    return { logits, cache: out.cache }
  }
  // A long prompt is fed in chunks through the cached path: the same logits, but the
  // intermediates of one pass are freed after each chunk instead of piling up for the whole
  // prompt — on wasm, whose heap never shrinks, that peak would stay in the process's memory
  // for good. After the first chunk the caches get room for the whole prompt and some (where
  // caches are written in place, nn/kv-cache.ts), so the later chunks are written into them.
  const prefill = async (prompts: readonly (readonly number[])[]): Promise<ModelOutput<LayerCaches>> => {
    const length = prompts[0]?.length ?? 0
    let cache: LayerCaches | undefined
    for (let start = 0; start + PREFILL_CHUNK < length; start += PREFILL_CHUNK) {
      const out = call(
        prompts.map((p) => p.slice(start, start + PREFILL_CHUNK)),
        cache,
      )
      out.logits.dispose()
      if (cache !== undefined) tf.dispose(tensorsIn(cache))
      cache = out.cache
      if (start === 0) {
        const first = cache
        cache = first.map((c) => reserveCache(c, length, shape.contextLength))
        tf.dispose(tensorsIn(first))
      }
    }
    const done = cacheLength(cache?.[0])
    const last = await run(
      prompts.map((p) => p.slice(done)),
      cache,
    )
    if (cache !== undefined) tf.dispose(tensorsIn(cache))
    if (options.cache !== 'bfloat16') return last
    const converted = last.cache.map((c) => reserveCache(c, c.length, shape.contextLength, 'bfloat16'))
    tf.dispose(tensorsIn(last.cache))
    return { ...last, cache: converted }
  }
  return {
    vocabSize: shape.vocabSize,
    contextLength: shape.contextLength,
    prefill,
    step: (cache, tokens) =>
      run(
        tokens.map((t) => [t]),
        cache,
      ),
    select: (cache, rows) => cache.map((c) => selectCache(c, rows)),
    release: (cache) => tf.dispose(tensorsIn(cache)),
  }
}
