/**
 * Rows of a tensor along its first axis as one tfjs kernel on the wasm backend: a
 * `memory.copy` per row (kernels.wat), the data never leaving the backend's memory. tfjs-wasm's
 * Gather computes every element's index; a copy through JavaScript reads the rows out and
 * writes them back in. Cache compaction and beam reordering use it (backend/rows.ts).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GATHER_ROWS = 'MinigptGatherRows'

registerSimdKernel(GATHER_ROWS, ({ inputs, backend, kernels }) => {
  const { x, rows } = inputs
  const n = rows.shape[0]
  const out = backend.makeOutput([n, ...x.shape.slice(1)], x.dtype)
  const rowBytes = 4 * tf.util.sizeFromShape(x.shape.slice(1))
  kernels.gather_rows(dataOffset(backend, x), rowBytes, dataOffset(backend, rows), n, dataOffset(backend, out))
  return out
})

/**
 * The rows `rows` (checked to lie in [0, x.shape[0])) of a float32 or int32 tensor by the
 * kernel, or `undefined` where it does not run. No gradient.
 */
export const gatherRowsKernel = <T extends tf.Tensor>(x: T, rows: ArrayLike<number>): T | undefined => {
  if (!(x.dtype === 'float32' || x.dtype === 'int32') || x.rank < 1 || rows.length === 0 || x.size === 0 || activeSimdKernels() === null) return undefined
  const ids = tf.tensor1d(Int32Array.from(rows), 'int32')
  const out = tf.engine().runKernel(GATHER_ROWS, { x, rows: ids }, {}) as T
  ids.dispose()
  return out
}
