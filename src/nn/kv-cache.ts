/**
 * Key/value caches for incremental decoding: values, with room to grow, written in place.
 *
 * A cache holds the keys and values of the positions seen so far, per layer:
 * [batch, heads, length, headDim]. Tensors are immutable in tfjs, so appending one position by
 * `tf.concat` copies the whole cache at every token (for GPT-2 124M at 512 positions, 38 MB a
 * token), and a prompt fed in chunks makes a cache one chunk longer while the old one lives —
 * on wasm, whose heap never shrinks, that peak stays in the process for good.
 *
 * So on wasm a cache is a view of a *buffer* with room for more positions,
 * [batch, heads, capacity, headDim], of which it uses the first `length`. Extending a cache
 * writes the new positions into the buffer in place when nothing else has been written there:
 * each buffer records how far it has been written (its mark). The discipline is that of a
 * persistent vector:
 *
 * - extending a cache whose length is the buffer's mark, with room left, writes in place and
 *   moves the mark: the old cache is still valid (it reads only its own `length` positions,
 *   which did not change);
 * - extending a cache that is *not* at the mark (a sibling was extended first: two children of
 *   one cache, a beam stepped twice) or that has no room copies its positions into a new buffer
 *   (copy-on-write), with room to spare ({@link spareFor});
 * - selecting rows (prefix sharing, beam reordering) copies the rows' used positions into a new
 *   buffer.
 *
 * A cache is therefore a value exactly as before: any cache can be extended, selected or
 * attended to any number of times, in any order, with the same results as with copies. Each
 * cache holds its own tensor handles on the buffer (tfjs-wasm reference-counts the data), so
 * releasing one cache never frees what another still reads.
 *
 * Elsewhere (cpu, webgl, webgpu) and while a gradient is computed, a cache is exact
 * (capacity = length) and extending it concatenates, as before.
 *
 * On wasm a cache may also be kept in **bfloat16** ({@link CacheFormat}; {@link reserveCache}
 * converts one): each key and value rounded to the top half of its float32 (8 bits of
 * precision, float32's range), two to an int32 word, buffers [batch, heads, capacity,
 * headDim/2]. Attention over hundreds of positions waits on reading the cache, and reads half
 * the bytes then (GPT-2 124M at 512 positions: 19 MB a step instead of 38; figures in
 * docs/benchmarks.md). New positions are rounded as they are written; everything above works
 * the same on such a cache, and {@link cacheContents} reads it back as float32.
 */
import * as tf from '@tensorflow/tfjs-core'
import { cacheKernelsRun, copyInto, features, packed, selectInto, splitIntoCache, unpackCache, writeInPlace } from '../backend/simd/cache-blocks.js'
import { selectRows } from '../backend/rows.js'
import { noGradientInProgress } from '../core/grad.js'

/**
 * A layer's key/value cache: keys and values [batch, heads, capacity, headDim], of which the
 * first `length` positions are the cache's. The positions after `length` are room to grow and
 * hold unspecified values: read a cache through {@link cacheContents} or the attention
 * functions, which take `length` into account.
 */
export interface KVCache {
  readonly k: tf.Tensor4D
  readonly v: tf.Tensor4D
  /** How many positions the cache holds (at most the buffers' capacity, `k.shape[2]`). */
  readonly length: number
}

/**
 * How a cache keeps its keys and values: float32, or bfloat16 (rounded to nearest even; half
 * the bytes, for attention over long contexts; wasm only, head sizes a multiple of 8).
 */
export type CacheFormat = 'float32' | 'bfloat16'

/** A cache's format: bfloat16 when its buffers are int32 words of two bfloat16. */
export const cacheFormat = (c: KVCache): CacheFormat => (packed(c.k) ? 'bfloat16' : 'float32')

/** The features of a cache's heads (its buffers' last dimension, twice that in bfloat16). */
const headDim = (c: KVCache): number => features(c.k)

/** A cache holding exactly these keys and values [batch, heads, length, headDim] (no room to grow). */
export const kvCache = (k: tf.Tensor4D, v: tf.Tensor4D): KVCache => ({ k, v, length: k.shape[2] })

/** The number of positions a cache holds (0 for none). */
export const cacheLength = (c: KVCache | undefined): number => c?.length ?? 0

/** How many positions a cache's buffers have room for. */
export const cacheCapacity = (c: KVCache): number => c.k.shape[2]

/**
 * The room a new buffer leaves after `length` positions of `positionBytes` bytes (one position of
 * all rows and heads): a quarter more, or at least a mebibyte's worth, and at most 256 positions.
 * A buffer is then copied into a larger one at most every 256 tokens when positions are small
 * (GPT-2 124M at batch 1: 3 KB a position, 256 positions of room, 18 MB over its 24 buffers) and
 * only a quarter more is carried when they are large (Mini-GPT's names, a thousand rows: 256 KB
 * a position). Each copy writes into fresh buffers, whose first touch is most of its cost: with
 * room for 64 positions, GPT-2's steps that copied cost 350-363 ms over 400 int8 steps, with 256
 * 235-259 ms (docs/benchmarks.md).
 */
export const spareFor = (length: number, positionBytes: number): number => Math.min(256, Math.max(Math.ceil(length / 4), Math.floor(2 ** 20 / positionBytes), 1))

/** Bytes of one position of a cache's keys (or values): every row and head (a bfloat16 buffer's int32 words hold two values). */
const positionBytes = (t: tf.Tensor4D): number => 4 * t.shape[0] * t.shape[1] * t.shape[3]

// How far each buffer has been written, by the buffer's data (shared by every handle on it).
const marks = new WeakMap<object, number>()

const markOf = (t: tf.Tensor): number | undefined => marks.get(t.dataId)

const setMark = (c: KVCache): KVCache => {
  marks.set(c.k.dataId, c.length)
  marks.set(c.v.dataId, c.length)
  return c
}

/** Whether a cache is the furthest written of its buffers: it may be extended in place. */
const atMark = (c: KVCache): boolean => markOf(c.k) === c.length && markOf(c.v) === c.length

/** Whether caches are buffers written in place here: wasm with the SIMD kernels, no gradient being computed. */
const inPlace = (...ts: readonly tf.Tensor[]): boolean => noGradientInProgress() && cacheKernelsRun(...ts)

/**
 * Whether `n` more positions would be written into this cache's buffers in place (wasm's
 * kernels, no gradient, the cache at its buffers' mark, room left): what a replayed decoding
 * step (models/tfjs-decoder.ts) requires of the caches it is given.
 */
export const extendsInPlace = (c: KVCache, n: number): boolean => inPlace(c.k, c.v) && atMark(c) && c.length + n <= cacheCapacity(c)

/**
 * The cache of buffers k, v whose first `length` positions have just been written in place
 * (by a replayed decoding step's kernels, which {@link extendsInPlace} allowed): its buffers'
 * mark moves to `length`, as {@link extendCacheFused}'s does.
 */
export const writtenCache = (k: tf.Tensor4D, v: tf.Tensor4D, length: number): KVCache => setMark({ k, v, length })

/**
 * A cache's keys and values, exactly its `length` positions [batch, heads, length, headDim],
 * float32: the buffers themselves when they have no room left (and are float32), a copy of
 * their first positions otherwise (widened from bfloat16).
 */
export const cacheContents = (c: KVCache): { readonly k: tf.Tensor4D; readonly v: tf.Tensor4D } => {
  if (cacheFormat(c) === 'bfloat16') return { k: unpackCache(c.k, c.length), v: unpackCache(c.v, c.length) }
  if (c.length === cacheCapacity(c)) return { k: c.k, v: c.v }
  const [b, h, , d] = c.k.shape
  return { k: tf.slice(c.k, [0, 0, 0, 0], [b, h, c.length, d]), v: tf.slice(c.v, [0, 0, 0, 0], [b, h, c.length, d]) }
}

/**
 * The cache extended by new keys and values k, v [batch, heads, n, headDim] (or a new cache of
 * them): written in place after the cache's positions when the cache is at its buffers' mark and
 * they have room; copied into a new buffer with {@link spareFor} room otherwise (see the module
 * comment). The input cache stays valid either way, and the extended cache keeps its format
 * (new positions rounded into a bfloat16 one).
 */
export const extendCache = (cache: KVCache | undefined, k: tf.Tensor4D, v: tf.Tensor4D): KVCache => {
  const n = k.shape[2]
  const length = cacheLength(cache) + n
  if (!inPlace(k, v, ...(cache === undefined ? [] : [cache.k, cache.v]))) {
    if (cache === undefined) return kvCache(k, v)
    const old = cacheContents(cache)
    return kvCache(tf.concat([old.k, k], 2) as tf.Tensor4D, tf.concat([old.v, v], 2) as tf.Tensor4D)
  }
  if (cache !== undefined && atMark(cache) && length <= cacheCapacity(cache)) {
    return setMark({ k: writeInPlace(cache.k, k, cache.length), v: writeInPlace(cache.v, v, cache.length), length })
  }
  const capacity = length + spareFor(length, positionBytes(cache?.k ?? k))
  const bf16 = cache !== undefined && cacheFormat(cache) === 'bfloat16'
  return setMark({ k: copyInto(cache?.k, cacheLength(cache), k, capacity, bf16), v: copyInto(cache?.v, cacheLength(cache), v, capacity, bf16), length })
}

/**
 * The cache extended by the keys and values of a fused projection's output qkv [B, T, 3E] (q, k,
 * v side by side: GPT-2's c_attn), split into the cache's heads and written in place, with the
 * queries [B, H, T, d] — what splitting qkv into heads and {@link extendCache} give, in one
 * kernel; undefined where that write is not in place (no cache, not at the buffers' mark, no
 * room left, not the wasm kernels, or qkv not of the cache's sizes): then split and extend.
 */
export const extendCacheFused = (cache: KVCache | undefined, qkv: tf.Tensor3D, heads: number): { readonly q: tf.Tensor4D; readonly cache: KVCache } | undefined => {
  if (cache === undefined || qkv.dtype !== 'float32' || !inPlace(cache.k, cache.v)) return undefined
  const [b, h, capacity] = cache.k.shape
  const [qb, n, width] = qkv.shape
  const length = cache.length + n
  if (qb !== b || h !== heads || width !== 3 * h * headDim(cache) || length > capacity || !atMark(cache)) return undefined
  const [q, k, v] = splitIntoCache(qkv, cache.k, cache.v, heads, cache.length)
  return { q, cache: setMark({ k, v, length }) }
}

/**
 * The cache with room for at least `positions` positions and some ({@link spareFor}), but at
 * most `limit` (a model's context), in `format` (the cache's own by default): a new handle on
 * the same buffers when they have it, or the cache's positions copied into new buffers of that
 * capacity (where caches are written in place; elsewhere the cache is returned as new handles on
 * its tensors). A prefill fed in chunks reserves the whole prompt's room after its first chunk,
 * so that the later chunks, and the first decoding steps, are written in place.
 *
 * `'bfloat16'` converts a float32 cache (rounding each value) where caches are written in
 * place and the head size is a multiple of 8; elsewhere the cache stays float32. A bfloat16
 * cache stays bfloat16 whatever the format asked.
 */
export const reserveCache = (cache: KVCache, positions: number, limit = Number.POSITIVE_INFINITY, format: CacheFormat = cacheFormat(cache)): KVCache => {
  const bf16 = cacheFormat(cache) === 'bfloat16' || (format === 'bfloat16' && headDim(cache) % 8 === 0)
  const convert = bf16 && cacheFormat(cache) === 'float32'
  const capacity = Math.max(cache.length, Math.min(limit, positions + spareFor(positions, positionBytes(cache.k) / (convert ? 2 : 1))))
  if ((capacity <= cacheCapacity(cache) && !convert) || !inPlace(cache.k, cache.v)) return { k: tf.clone(cache.k), v: tf.clone(cache.v), length: cache.length }
  // A copy of the cache's own positions: none appended.
  return setMark({ k: copyInto(cache.k, cache.length, undefined, capacity, bf16), v: copyInto(cache.v, cache.length, undefined, capacity, bf16), length: cache.length })
}

/**
 * The cache of these batch rows (in this order, repeats allowed; checked), in new buffers: the
 * rows' positions only, with the cache's capacity. For dropping finished rows and reordering beams.
 */
export const selectCache = (cache: KVCache, rows: readonly number[]): KVCache => {
  const batch = cache.k.shape[0]
  rows.forEach((r) => {
    if (!(Number.isInteger(r) && r >= 0 && r < batch)) throw new RangeError(`selectCache: row ${r} is outside [0, ${batch})`)
  })
  if (!inPlace(cache.k, cache.v) || rows.length === 0) {
    const { k, v } = cacheContents(cache)
    const out = kvCache(selectRows(k, rows), selectRows(v, rows))
    if (k !== cache.k) tf.dispose([k, v])
    return out
  }
  const capacity = cacheCapacity(cache)
  return setMark({ k: selectInto(cache.k, rows, cache.length, capacity), v: selectInto(cache.v, rows, cache.length, capacity), length: cache.length })
}
