/**
 * Host-side access to tensors on the backends whose memory is the host's: reading values in
 * place, and picking rows (along the first axis) — the one helper behind cache compaction,
 * beam reordering and small-table lookups.
 */
import * as tf from '@tensorflow/tfjs-core'
import { heapView } from '../core/tfjs-internals.js'
import { gatherColumnsByIds, gatherRowsByIds, gatherRowsKernel } from './simd/gather-rows.js'

/**
 * The values of a tensor on a backend whose memory is the host's (wasm, cpu), without a copy
 * where the backend allows it: on wasm a view of its heap ({@link heapView}), valid until the
 * next allocation there — read it at once, never keep it; `dataSync` elsewhere.
 */
export const hostValues = (t: tf.Tensor): Float32Array | Int32Array => heapView(t) ?? (t.dataSync() as Float32Array | Int32Array)

/**
 * Whether the active backend keeps tensors in the host's memory (wasm, cpu). Elsewhere (webgl,
 * webgpu) reading a tensor is a round trip to the device, which decoding must not make per token.
 */
export const onHostMemory = (): boolean => tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu'

/** Throws a RangeError naming the first index that is not an integer in [0, size). */
const checkIndices = (where: string, what: string, indices: ArrayLike<number>, size: number): void => {
  for (let j = 0; j < indices.length; j++) {
    if (!(Number.isInteger(indices[j]) && indices[j] >= 0 && indices[j] < size)) throw new RangeError(`${where}: ${what} ${indices[j]} is outside [0, ${size})`)
  }
}

/**
 * Rows of a tensor along its first axis (in this order, repeats allowed). On the backends whose
 * memory is the host's (wasm, cpu) the rows are copied as contiguous blocks: tfjs-wasm's Gather
 * computes every element's index, which dominates cache compaction (docs/benchmarks.md). On wasm a SIMD-module kernel copies each row inside the backend's memory
 * (backend/simd/gather-rows.ts); on cpu (or wasm without the kernels) the rows go through the
 * host, still faster than Gather with the download and upload. Elsewhere (webgl, webgpu) it
 * is `tf.gather`, which stays on the device.
 */
export const selectRows = <T extends tf.Tensor>(t: T, rows: ArrayLike<number>): T => {
  if (!onHostMemory()) return tf.tidy(() => tf.gather(t, tf.tensor1d(Array.from(rows), 'int32'), 0)) as T
  checkIndices('selectRows', 'row', rows, t.shape[0])
  const copied = gatherRowsKernel(t, rows)
  if (copied !== undefined) return copied
  const width = t.shape[0] === 0 ? 0 : t.size / t.shape[0]
  const from = hostValues(t)
  const to = new (from.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(rows.length * width)
  if (width >= 256) {
    for (let j = 0; j < rows.length; j++) to.set(from.subarray(rows[j] * width, (rows[j] + 1) * width), j * width)
  } else {
    // Short rows (an embedding's 64 values): a plain loop beats making a subarray per row.
    for (let j = 0, o = 0; j < rows.length; j++) {
      for (let i = rows[j] * width, end = i + width; i < end; i++) to[o++] = from[i]
    }
  }
  return tf.tensor(to, [rows.length, ...t.shape.slice(1)], t.dtype) as T
}

/**
 * Columns of a matrix [rows, cols] as the rows of the result [columns.length, rows] (the rows
 * of its transpose, in this order, repeats allowed), without transposing the whole matrix: a
 * decoder that keeps only wteᵀ [n_embd, vocab] reads a token's embedding as one of its
 * columns. On wasm and cpu it is a strided copy on the host (768 reads per GPT-2 token);
 * elsewhere `tf.gather` along the second axis and a transpose of the (small) result.
 */
export const selectColumns = (t: tf.Tensor2D, columns: ArrayLike<number>): tf.Tensor2D => {
  const [rows, cols] = t.shape
  checkIndices('selectColumns', 'column', columns, cols)
  if (!onHostMemory()) return tf.tidy(() => tf.transpose(tf.gather(t, tf.tensor1d(Array.from(columns), 'int32'), 1))) as tf.Tensor2D
  const from = hostValues(t)
  const to = new (from.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(columns.length * rows)
  for (let j = 0, o = 0; j < columns.length; j++) {
    for (let i = columns[j]; o < (j + 1) * rows; i += cols) to[o++] = from[i]
  }
  return tf.tensor2d(to, [columns.length, rows], t.dtype)
}

/**
 * {@link selectRows} with the rows given as an int32 tensor of ids (any shape, read flat; each
 * checked on the host): on wasm with the kernels the rows are gathered by a kernel call on the
 * ids tensor itself — no tensor of their values is made — so that a decoding step's embedding
 * lookups are kernel calls on its ids (backend/kernel-trace.ts replays them with new ids).
 */
export const selectRowsOf = <T extends tf.Tensor>(t: T, ids: tf.Tensor): T => {
  const values = hostValues(ids)
  checkIndices('selectRows', 'row', values, t.shape[0] ?? 0)
  return (ids.dtype === 'int32' ? gatherRowsByIds(t, tf.reshape(ids, [-1])) : undefined) ?? selectRows(t, values)
}

/** {@link selectColumns} with the columns given as an int32 tensor of ids, as {@link selectRowsOf} takes rows. */
export const selectColumnsOf = (t: tf.Tensor2D, ids: tf.Tensor): tf.Tensor2D => {
  const values = hostValues(ids)
  checkIndices('selectColumns', 'column', values, t.shape[1])
  return (ids.dtype === 'int32' ? gatherColumnsByIds(t, tf.reshape(ids, [-1])) : undefined) ?? selectColumns(t, values)
}
