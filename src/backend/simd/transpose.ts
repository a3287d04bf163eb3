/**
 * The transpose of a matrix as one tfjs kernel on the wasm backend (train.wat's `transpose`):
 * 4 × 4 blocks through SIMD shuffles. A matrix product's gradient transposes an operand for
 * XNNPACK (nn/matmul.ts: tfjs-wasm runs a product with transpose flags as a scalar loop), and
 * tfjs-wasm's Transpose moves one element at a time.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const TRANSPOSE_2D = 'MinigptTranspose2d'

registerTrainKernel(TRANSPOSE_2D, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const [rows, cols] = x.shape
  const out = backend.makeOutput([cols, rows], 'float32')
  kernels.transpose(dataOffset(backend, x), rows, cols, dataOffset(backend, out))
  return out
})

/** xᵀ for a float32 matrix by the kernel, or `undefined` where it does not run. No gradient (its callers are gradients). */
export const transposeKernel = (x: tf.Tensor2D): tf.Tensor2D | undefined =>
  x.dtype !== 'float32' || x.rank !== 2 || x.size === 0 || activeTrainKernels() === null ? undefined : (tf.engine().runKernel(TRANSPOSE_2D, { x }, {}) as tf.Tensor2D)
