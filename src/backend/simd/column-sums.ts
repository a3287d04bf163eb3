/**
 * The sums of a matrix's columns as one tfjs kernel on the wasm backend (train.wat's
 * `column_sums`): a bias's gradient, Σ over rows of the output's gradient. tfjs-wasm sums over
 * the first axis by transposing the matrix first and then summing its rows.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const COLUMN_SUMS = 'MinigptColumnSums'

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
