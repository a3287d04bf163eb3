/**
 * The key/value cache's memory operations as tfjs kernels on the wasm backend, each a loop of
 * `memory.copy` per (batch, head) block (kernels.wat's `copy_blocks`): new positions written
 * into a cache buffer that has room for them (in place), a cache's positions copied into a
 * larger buffer, and rows of a cache copied into a new one. A cache buffer is
 * [batch, heads, capacity, headDim], of which a cache uses the first positions
 * (nn/kv-cache.ts keeps the discipline that makes writing in place safe).
 *
 * Why: tensors are immutable in tfjs, so appending one position to a cache by `tf.concat`
 * copies the whole cache at every token (38 MB a token for GPT-2 124M at 512 positions), and
 * tfjs-wasm's Concat and Gather compute every element's index in JavaScript or C++ loops.
 *
 * A buffer is float32 or, for a bfloat16 cache (nn/kv-cache.ts's compact form), int32
 * [batch, heads, capacity, headDim/2]: two bfloat16 a word, in order (kernels.wat). The kernels
 * convert where a float32 tensor is written into such a buffer (rounded to nearest even) and
 * where one is read out of it (exactly); between buffers of one form they copy bytes.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel, type SimdKernels, type WasmBackendLike } from './module.js'

/** Kernel names in tfjs's registry. */
export const CACHE_WRITE = 'MinigptCacheWrite'
export const CACHE_COPY = 'MinigptCacheCopy'
export const CACHE_SELECT = 'MinigptCacheSelect'
export const SPLIT_HEADS = 'MinigptSplitHeads'
export const SPLIT_INTO_CACHE = 'MinigptSplitIntoCache'
export const CACHE_UNPACK = 'MinigptCacheUnpack'

/** Bytes of one position of a [B, H, T, d] tensor (float32, or a bfloat16 buffer's int32 words), and of its (b, h) block of T positions. */
const rowBytes = (t: tf.TensorInfo) => 4 * t.shape[3]
const blockBytes = (t: tf.TensorInfo) => rowBytes(t) * t.shape[2]

/** Whether a cache buffer holds bfloat16 (int32 words of two) rather than float32. */
export const packed = (t: tf.TensorInfo): boolean => t.dtype === 'int32'

/** Features of one position of a cache buffer [B, H, T, ·]: a bfloat16 buffer's words hold two. */
export const features = (t: tf.TensorInfo): number => (packed(t) ? 2 * t.shape[3] : t.shape[3])

/**
 * Copies the first `positions` positions of each (b, h) block of src [B, H, ·, ·] into dst's
 * blocks from position `at`: bytes between buffers of one form, float32 rounded to bfloat16
 * into a bfloat16 buffer, bfloat16 widened into a float32 one.
 */
const place = (backend: WasmBackendLike, kernels: SimdKernels, src: tf.TensorInfo, positions: number, dst: tf.TensorInfo, at: number): void => {
  const args = [dataOffset(backend, src), blockBytes(src), dataOffset(backend, dst) + at * rowBytes(dst), blockBytes(dst)] as const
  const blocks = src.shape[0] * src.shape[1]
  if (packed(src) === packed(dst)) kernels.copy_blocks(...args, positions * rowBytes(src), blocks)
  else if (packed(dst)) kernels.pack_bf16(...args, positions * features(src), blocks)
  else kernels.unpack_bf16(...args, positions * features(src), blocks)
}

// Writes x [B, H, n, d] at position `at` of the buffer [B, H, capacity, d] and returns the
// buffer itself (a new handle on the same data, as tfjs-wasm's Reshape does): the one kernel
// of the library that writes into an input. nn/kv-cache.ts calls it only for positions no
// cache of that buffer holds.
registerSimdKernel(CACHE_WRITE, ({ inputs, backend, kernels, attrs }) => {
  const { buffer, x } = inputs
  const at = (attrs as { at: number }).at
  place(backend, kernels, x, x.shape[2], buffer, at)
  backend.incRef(buffer.dataId)
  return { dataId: buffer.dataId, shape: buffer.shape, dtype: buffer.dtype }
})

// A new buffer [B, H, capacity, d] (float32, or bfloat16 with `bf16`): the first `length`
// positions of `buffer` (when given), then x (when given).
registerSimdKernel(CACHE_COPY, ({ inputs, backend, kernels, attrs }) => {
  const { buffer, x } = inputs
  const { length, capacity, bf16 } = attrs as { length: number; capacity: number; bf16: boolean }
  const source = x ?? buffer
  const [b, h] = source.shape
  const d = features(source)
  const out = backend.makeOutput([b, h, capacity, bf16 ? d / 2 : d], bf16 ? 'int32' : 'float32')
  if (buffer !== undefined && length > 0) place(backend, kernels, buffer, length, out, 0)
  if (x !== undefined) place(backend, kernels, x, x.shape[2], out, length)
  return out
})

// A new float32 tensor [B, H, length, d]: the first `length` positions of a bfloat16 buffer, widened.
registerSimdKernel(CACHE_UNPACK, ({ inputs, backend, kernels, attrs }) => {
  const { buffer } = inputs
  const { length } = attrs as { length: number }
  const [b, h] = buffer.shape
  const out = backend.makeOutput([b, h, length, features(buffer)], 'float32')
  place(backend, kernels, buffer, length, out, 0)
  return out
})

// A new buffer [rows, H, capacity, d] holding, for each listed row of `buffer`, its first `length` positions.
registerSimdKernel(CACHE_SELECT, ({ inputs, backend, kernels, attrs }) => {
  const { buffer } = inputs
  const { rows, length, capacity } = attrs as { rows: readonly number[]; length: number; capacity: number }
  const [, h, , d] = buffer.shape
  const out = backend.makeOutput([rows.length, h, capacity, d], buffer.dtype)
  const outBlock = capacity * 4 * d
  const src = dataOffset(backend, buffer)
  const dst = dataOffset(backend, out)
  rows.forEach((r, j) => kernels.copy_blocks(src + r * h * blockBytes(buffer), blockBytes(buffer), dst + j * h * outBlock, outBlock, length * 4 * d, h))
  return out
})

/**
 * Copies part p of x [B, T, parts·H·d] (at byte `src`; its heads side by side in each row) into
 * the (batch, head) blocks of `block` positions at byte `dst` (float32, or bfloat16 with
 * `bf16`), from position `from` of each: blocks of d values, one copy per (batch, head); per
 * batch row when T = 1, and once when the blocks are single positions too ([B, H, 1, d] is
 * [B, H·d]).
 */
const copyHeads = (
  kernels: SimdKernels,
  src: number,
  [b, t, width]: readonly number[],
  parts: number,
  p: number,
  heads: number,
  dst: number,
  block: number,
  from: number,
  bf16 = false,
): void => {
  const e = width / parts
  const d = e / heads
  // bytes of a value at dst, and a copy of `blocks` blocks of n values
  const size = bf16 ? 2 : 4
  const copy = (from: number, fromStride: number, to: number, toStride: number, n: number, blocks: number) =>
    bf16 ? kernels.pack_bf16(from, fromStride, to, toStride, n, blocks) : kernels.copy_blocks(from, fromStride, to, toStride, 4 * n, blocks)
  if (t === 1 && block === 1) {
    copy(src + 4 * p * e, 4 * width, dst, size * e, e, b)
    return
  }
  for (let i = 0; i < b; i++) {
    const row = src + 4 * (i * t * width + p * e)
    const out = dst + size * (i * heads * block + from) * d
    if (t === 1) copy(row, 4 * d, out, size * block * d, d, heads)
    else for (let h = 0; h < heads; h++) copy(row + 4 * h * d, 4 * width, out + size * h * block * d, size * d, d, t)
  }
}

// x [B, T, parts·H·d] → `parts` tensors [B, H, T, d]: part p's features of head h at each position.
registerSimdKernel(SPLIT_HEADS, ({ inputs, backend, kernels, attrs }) => {
  const { x } = inputs
  const { parts, heads } = attrs as { parts: number; heads: number }
  const [b, t, width] = x.shape
  return Array.from({ length: parts }, (_, p) => {
    const out = backend.makeOutput([b, heads, t, width / parts / heads], 'float32')
    copyHeads(kernels, dataOffset(backend, x), x.shape, parts, p, heads, dataOffset(backend, out), t, 0)
    return out
  })
})

// x [B, T, 3·H·d] (q, k, v side by side) → q [B, H, T, d], with k and v written into the
// buffers [B, H, capacity, d] at positions at … at + T − 1, in place (as CACHE_WRITE does), and
// the buffers returned as new handles: SPLIT_HEADS and two CACHE_WRITEs in one kernel, without
// the k and v tensors between them.
registerSimdKernel(SPLIT_INTO_CACHE, ({ inputs, backend, kernels, attrs }) => {
  const { x, k, v } = inputs
  const { heads, at } = attrs as { heads: number; at: number }
  const [b, t] = x.shape
  const capacity = k.shape[2]
  const src = dataOffset(backend, x)
  const q = backend.makeOutput([b, heads, t, features(k)], 'float32')
  copyHeads(kernels, src, x.shape, 3, 0, heads, dataOffset(backend, q), t, 0)
  copyHeads(kernels, src, x.shape, 3, 1, heads, dataOffset(backend, k), capacity, at, packed(k))
  copyHeads(kernels, src, x.shape, 3, 2, heads, dataOffset(backend, v), capacity, at, packed(v))
  backend.incRef(k.dataId)
  backend.incRef(v.dataId)
  return [q, { dataId: k.dataId, shape: k.shape, dtype: k.dtype }, { dataId: v.dataId, shape: v.shape, dtype: v.dtype }]
})

/** Whether the cache kernels run here (the active backend is wasm with the SIMD module) for these float32 tensors or bfloat16 buffers. */
export const cacheKernelsRun = (...ts: readonly tf.Tensor[]): boolean => ts.every((t) => (t.dtype === 'float32' || packed(t)) && t.rank === 4) && activeSimdKernels() !== null

/**
 * Writes x [B, H, n, d] into `buffer` [B, H, capacity, d] at positions at … at + n − 1, in
 * place, and returns a new handle on the buffer. The caller guarantees that no cache holds
 * those positions (nn/kv-cache.ts) and that the kernels run ({@link cacheKernelsRun}).
 */
export const writeInPlace = (buffer: tf.Tensor4D, x: tf.Tensor4D, at: number): tf.Tensor4D => tf.engine().runKernel(CACHE_WRITE, { buffer, x }, { at }) as tf.Tensor4D

/**
 * A new buffer [B, H, capacity, d] — float32, or bfloat16 with `bf16` (int32 [B, H, capacity,
 * d/2]; d a multiple of 8) — holding the first `length` positions of `buffer` (none when
 * undefined) followed by x [B, H, n, d] (none when undefined); capacity ≥ length + n. A
 * bfloat16 buffer is copied only into another.
 */
export const copyInto = (buffer: tf.Tensor4D | undefined, length: number, x: tf.Tensor4D | undefined, capacity: number, bf16 = false): tf.Tensor4D =>
  tf
    .engine()
    .runKernel(
      CACHE_COPY,
      { ...(buffer === undefined ? {} : { buffer }), ...(x === undefined ? {} : { x }) },
      { length: buffer === undefined ? 0 : length, capacity, bf16 },
    ) as tf.Tensor4D

/** The first `length` positions of a bfloat16 buffer as float32 [B, H, length, d]. */
export const unpackCache = (buffer: tf.Tensor4D, length: number): tf.Tensor4D => tf.engine().runKernel(CACHE_UNPACK, { buffer }, { length }) as tf.Tensor4D

/** A new buffer [rows.length, H, capacity, d] of the listed rows' first `length` positions (rows checked by the caller). */
export const selectInto = (buffer: tf.Tensor4D, rows: readonly number[], length: number, capacity: number): tf.Tensor4D =>
  tf.engine().runKernel(CACHE_SELECT, { buffer }, { rows: [...rows], length, capacity }) as tf.Tensor4D

/**
 * x [B, T, 3·H·d] (q, k, v side by side, GPT-2's c_attn) split into heads: the queries
 * [B, H, T, d], with the keys and values written into cache buffers k, v [B, H, capacity, d]
 * at positions at … at + T − 1, in place, and new handles on the buffers. The caller guarantees
 * what {@link writeInPlace}'s does, that the sizes agree and that the kernels run.
 */
export const splitIntoCache = (x: tf.Tensor3D, k: tf.Tensor4D, v: tf.Tensor4D, heads: number, at: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] =>
  tf.engine().runKernel(SPLIT_INTO_CACHE, { x, k, v }, { heads, at }) as unknown as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]

/**
 * x [B, T, parts·H·d] (a fused projection's output, GPT-2's c_attn: q, k and v side by side) as
 * `parts` tensors [B, H, T, d], each part's heads split — `tf.split` and a reshape and
 * transpose per part, as one kernel. Undefined where the kernels do not run or the sizes do not
 * divide. No gradient.
 */
export const splitHeadsKernel = (x: tf.Tensor3D, parts: number, heads: number): tf.Tensor4D[] | undefined => {
  const width = x.shape[2]
  if (x.dtype !== 'float32' || width % (parts * heads) !== 0 || x.size === 0 || activeSimdKernels() === null) return undefined
  return tf.engine().runKernel(SPLIT_HEADS, { x }, { parts, heads }) as unknown as tf.Tensor4D[]
}
