/**
 * Sums over a matrix's rows as tfjs kernels on the wasm backend (train.wat's `column_sums` and
 * `scatter_add_rows`): a bias's gradient, Σ over rows of the output's gradient (tfjs-wasm sums
 * over the first axis by transposing the matrix first), and an embedding table's gradient, each
 * row of the output's gradient added to its token's row (by tfjs ops a one-hot matrix, its
 * transpose and a product).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernels' names in tfjs's registry. */
export const COLUMN_SUMS = 'MinigptColumnSums'
export const SCATTER_ADD_ROWS = 'MinigptScatterAddRows'

registerTrainKernel(COLUMN_SUMS, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const [rows, cols] = x.shape
  const out = backend.makeOutput([cols], 'float32')
  kernels.column_sums(dataOffset(backend, x), rows, cols, dataOffset(backend, out))
  return out
})

/** Σ over rows of a float32 matrix [rows, cols] → [cols] by the kernel, or `undefined` where it does not run. No gradient. */
export const columnSumsKernel = (x: tf.Tensor2D): tf.Tensor1D | undefined =>
  x.dtype !== 'float32' || x.rank !== 2 || activeTrainKernels() === null ? undefined : (tf.engine().runKernel(COLUMN_SUMS, { x }, {}) as tf.Tensor1D)

registerTrainKernel(SCATTER_ADD_ROWS, ({ inputs, backend, kernels, attrs }) => {
  const { x, ids } = inputs
  const [rows, width] = x.shape
  const { vocab, skip } = attrs as { vocab: number; skip: number }
  const out = backend.makeOutput([vocab, width], 'float32')
  kernels.scatter_add_rows(dataOffset(backend, x), dataOffset(backend, ids), rows, width, vocab, skip, dataOffset(backend, out))
  return out
})

/**
 * out [vocab, width] with out[id] = Σ of the rows r of x [rows, width] whose ids[r] is id, rows
 * whose id is `skip` or outside [0, vocab) left out (oneHot(ids)ᵀ·x, the padding row's column
 * zero), by the kernel — or `undefined` where it does not run. No gradient.
 */
export const scatterAddRowsKernel = (x: tf.Tensor2D, ids: tf.Tensor1D, vocab: number, skip: number): tf.Tensor2D | undefined =>
  x.dtype !== 'float32' || ids.dtype !== 'int32' || x.rank !== 2 || ids.size !== x.shape[0] || activeTrainKernels() === null
    ? undefined
    : (tf.engine().runKernel(SCATTER_ADD_ROWS, { x, ids }, { vocab, skip }) as tf.Tensor2D)
