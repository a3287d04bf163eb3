/**
 * The bridge from a tfjs model to the generation engine: any forward pass of the form
 * `(params, ids, cache) → (last-position logits, cache)` becomes a {@link DecoderModel} whose
 * cache is the list of per-layer key/value tensors, passed from step to step as a value.
 *
 * This module imports tfjs, so it is not part of the tfjs-free `minigpt-fp/sample` subpath;
 * the package's main entry exports it.
 */
import * as tf from '@tensorflow/tfjs-core'
import { planKernels, replayKernels, traceKernels, type KernelPlan, type TracedRun } from '../backend/kernel-trace.js'
import { activeWasmBackend } from '../core/tfjs-internals.js'
import { scoped, tensorsIn } from '../core/scope.js'
import { cacheLength, reserveCache, selectCache, type CacheFormat, type KVCache } from '../nn/attention.js'
import { extendsInPlace, writtenCache } from '../nn/kv-cache.js'
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

const lastRows = async (logits: tf.Tensor): Promise<Float32Array[]> => {
  const [b = 0, t = 0, v = 0] = logits.shape
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
  /**
   * Whether decoding steps are replayed (default true): on wasm, once two consecutive steps
   * on the same cache buffers made the same kernel calls, the next steps on those buffers run
   * those calls again directly, without tfjs's engine and the layers' code around them
   * (backend/kernel-trace.ts) — the same kernels on the same data, so the same numbers, bit
   * for bit, with less JavaScript a step. `false` runs every step through the engine.
   */
  readonly replay?: boolean
}

/** A decoding step's kernel plan, and what it was traced on: its position, batch and the caches' buffers. */
interface StepPlan {
  readonly plan: KernelPlan
  readonly position: number
  readonly batch: number
  readonly buffers: readonly (readonly [tf.DataId, tf.DataId])[]
}

/** A traced decoding step (a candidate for a plan with the next one). */
interface TracedStep {
  readonly run: TracedRun
  readonly position: number
  readonly batch: number
  readonly buffers: readonly (readonly [tf.DataId, tf.DataId])[]
}

/** A step's named inputs, as a plan binds them: its ids, and each layer's key and value buffers. */
const stepInputs = (ids: tf.Tensor, cache: LayerCaches): (readonly [string, tf.Tensor])[] => [
  ['ids', ids],
  ...cache.flatMap((c, l) => [[`k${l}`, c.k] as const, [`v${l}`, c.v] as const]),
]

const buffersOf = (cache: LayerCaches): readonly (readonly [tf.DataId, tf.DataId])[] => cache.map((c) => [c.k.dataId, c.v.dataId] as const)

const sameBuffers = (a: readonly (readonly [tf.DataId, tf.DataId])[], b: readonly (readonly [tf.DataId, tf.DataId])[]): boolean =>
  a.length === b.length && a.every(([k, v], i) => b[i]?.[0] === k && b[i]?.[1] === v)

/** A 4-D tensor as such (a replay's outputs are typed as any tensor). */
const rank4 = (t: tf.Tensor): tf.Tensor4D => {
  if (t.rank !== 4) throw new Error(`a replayed decoding step returned a cache of rank ${t.rank}, not 4`)
  return t as tf.Tensor4D
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
  const run = (ids: readonly (readonly number[])[], cache: LayerCaches | undefined): Promise<ModelOutput<LayerCaches>> => readBack(call(ids, cache))
  /** A pass's last-position logits read to the host (its logits tensor freed), with its caches. */
  const readBack = async (out: { readonly logits: tf.Tensor; readonly cache: LayerCaches }): Promise<ModelOutput<LayerCaches>> => {
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
  // Replaying steps (DecoderOptions.replay): each step run through the engine is traced; two
  // traced steps in a row, the second one position on and on the same buffers, make a plan;
  // steps on those buffers at the mark with room left replay it. A plan that two such steps
  // cannot make (a model whose step differs by more than its position) ends the tracing.
  let plan: StepPlan | undefined
  let previous: TracedStep | undefined
  let planning = options.replay !== false
  const ids2d = (tokens: readonly number[]) => tf.tensor2d(Int32Array.from(tokens), [tokens.length, 1], 'int32')
  const replayed = (cache: LayerCaches, tokens: readonly number[]): { readonly logits: tf.Tensor; readonly cache: LayerCaches } | undefined => {
    const position = cache[0]?.length ?? 0
    if (plan === undefined || tokens.length !== plan.batch || !sameBuffers(buffersOf(cache), plan.buffers)) return undefined
    if (!cache.every((c) => c.length === position && extendsInPlace(c, 1))) return undefined
    // what the layers' code checks and a replay does not run: the context's end and the ids' range (the normal path says what is wrong)
    if (position + 1 > shape.contextLength || !tokens.every((t) => Number.isInteger(t) && t >= 0 && t < shape.vocabSize)) return undefined
    const { plan: p, position: from } = plan
    const out = scoped(() => {
      const ids = ids2d(tokens)
      const inputs = new Map<string, tf.TensorInfo>()
      for (const [name, t] of stepInputs(ids, cache)) inputs.set(name, t)
      const results = replayKernels(p, inputs, position - from)
      if (results === undefined) return undefined
      const [logits, ...kv] = results
      if (logits === undefined) return undefined
      return { logits, cache: cache.map((_, l) => writtenCache(rank4(kv[2 * l] as tf.Tensor), rank4(kv[2 * l + 1] as tf.Tensor), position + 1)) }
    })
    // (the weights it reads are gone: no more replays of it)
    if (out === undefined) plan = undefined
    return out
  }
  const traced = (cache: LayerCaches, tokens: readonly number[]): { readonly logits: tf.Tensor; readonly cache: LayerCaches } => {
    const position = cache[0]?.length ?? 0
    let run: TracedRun | undefined
    const out = scoped(() => {
      const ids = ids2d(tokens)
      const trace = traceKernels(() => forward(params, ids, cache))
      const names = new Map(stepInputs(ids, cache).map(([name, t]) => [t.dataId, name] as const))
      run = { calls: trace.calls, inputs: names, results: [trace.result.logits, ...trace.result.cache.flatMap((c) => [c.k, c.v])] }
      return trace.result
    })
    const buffers = buffersOf(cache)
    // in place: the step returned caches on the buffers it was given
    const current = run !== undefined && sameBuffers(buffersOf(out.cache), buffers) ? { run, position, batch: tokens.length, buffers } : undefined
    if (current !== undefined && previous !== undefined && previous.position + 1 === position && previous.batch === current.batch && sameBuffers(previous.buffers, buffers)) {
      const made = planKernels(previous.run, current.run, 'wasm')
      if (made === undefined) planning = false
      else plan = { plan: made, position: previous.position, batch: current.batch, buffers }
    }
    previous = current
    return out
  }
  const step = async (cache: LayerCaches, tokens: readonly number[]): Promise<ModelOutput<LayerCaches>> => {
    if (!planning || activeWasmBackend() === undefined || cache.length === 0)
      return run(
        tokens.map((t) => [t]),
        cache,
      )
    return readBack(replayed(cache, tokens) ?? traced(cache, tokens))
  }
  return {
    vocabSize: shape.vocabSize,
    contextLength: shape.contextLength,
    prefill,
    step,
    select: (cache, rows) => cache.map((c) => selectCache(c, rows)),
    release: (cache) => tf.dispose(tensorsIn(cache)),
  }
}
