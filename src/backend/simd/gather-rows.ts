/**
 * Rows of a tensor along its first axis, and columns of a 2-D one, as tfjs kernels on the wasm
 * backend: a `memory.copy` per row, a strided copy per column (kernels.wat), the data never
 * leaving the backend's memory. tfjs-wasm's Gather computes every element's index; a copy
 * through JavaScript reads the rows out and writes them back in. Cache compaction and beam
 * reordering use the rows (backend/rows.ts); embedding lookups use both, with the ids as a
 * tensor, so that a decoding step's lookups are kernel calls on its ids (a replayed step binds
 * new ids to them: backend/kernel-trace.ts).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernels' names in tfjs's registry. */
export const GATHER_ROWS = 'MinigptGatherRows'
export const GATHER_COLUMNS = 'MinigptGatherColumns'

registerSimdKernel(GATHER_ROWS, ({ inputs, backend, kernels }) => {
  const { x, rows } = inputs
  const n = rows.shape[0]
  const out = backend.makeOutput([n, ...x.shape.slice(1)], x.dtype)
  const rowBytes = 4 * tf.util.sizeFromShape(x.shape.slice(1))
  kernels.gather_rows(dataOffset(backend, x), rowBytes, dataOffset(backend, rows), n, dataOffset(backend, out))
  return out
})

registerSimdKernel(GATHER_COLUMNS, ({ inputs, backend, kernels }) => {
  const { x, columns } = inputs
  const [rows, cols] = x.shape
  const n = columns.shape[0]
  const out = backend.makeOutput([n, rows], x.dtype)
  kernels.gather_columns(dataOffset(backend, x), rows, cols, dataOffset(backend, columns), n, dataOffset(backend, out))
  return out
})

/** Whether the kernels run for x (float32 or int32, not empty) and these many ids. */
const runs = (x: tf.Tensor, count: number): boolean => (x.dtype === 'float32' || x.dtype === 'int32') && x.rank >= 1 && count > 0 && x.size > 0 && activeSimdKernels() !== null

/**
 * The rows `ids` (an int32 tensor [n], each checked by the caller to lie in [0, x.shape[0])) of
 * a float32 or int32 tensor by the kernel, or `undefined` where it does not run. No gradient.
 */
export const gatherRowsByIds = <T extends tf.Tensor>(x: T, ids: tf.Tensor1D): T | undefined =>
  runs(x, ids.size) && ids.dtype === 'int32' ? (tf.engine().runKernel(GATHER_ROWS, { x, rows: ids }, {}) as T) : undefined

/** {@link gatherRowsByIds} with the rows given as numbers. */
export const gatherRowsKernel = <T extends tf.Tensor>(x: T, rows: ArrayLike<number>): T | undefined => {
  if (!runs(x, rows.length)) return undefined
  const ids = tf.tensor1d(Int32Array.from(rows), 'int32')
  const out = gatherRowsByIds(x, ids)
  ids.dispose()
  return out
}

/**
 * The columns `ids` (an int32 tensor [n], each checked by the caller to lie in [0, x.shape[1]))
 * of a 2-D float32 or int32 tensor, as rows [n, x.shape[0]], by the kernel, or `undefined` where
 * it does not run. No gradient.
 */
export const gatherColumnsByIds = (x: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D | undefined =>
  runs(x, ids.size) && ids.dtype === 'int32' ? (tf.engine().runKernel(GATHER_COLUMNS, { x, columns: ids }, {}) as tf.Tensor2D) : undefined
