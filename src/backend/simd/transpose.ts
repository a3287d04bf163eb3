/**
 * The transpose of a matrix as one tfjs kernel on the wasm backend, in WebAssembly SIMD
 * (kernels.wat's `transpose_2d`: 4×4 tiles moved with shuffles, over bands of columns).
 *
 * Why: matrix-product gradients transpose operands (tfjs-wasm runs a product fast only without
 * transpose flags, nn/matmul.ts), and tfjs-wasm's Transpose moves one element at a time:
 * a GPT-2 weight [768, 3,072] took longer to transpose than to multiply by 256 rows.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const TRANSPOSE_2D = 'MinigptTranspose2d'

registerSimdKernel(TRANSPOSE_2D, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const [rows, cols] = x.shape
  const out = backend.makeOutput([cols, rows], x.dtype)
  kernels.transpose_2d(dataOffset(backend, x), rows, cols, dataOffset(backend, out))
  return out
})

/**
 * xᵀ for a float32 or int32 matrix by the SIMD kernel, or `undefined` where it does not run.
 * No gradient: for use where no gradient is recorded (inside custom gradients' forward and
 * backward functions).
 */
export const transpose2dKernel = <T extends tf.Tensor2D>(x: T): T | undefined =>
  x.rank !== 2 || !(x.dtype === 'float32' || x.dtype === 'int32') || x.size === 0 || activeSimdKernels() === null
    ? undefined
    : (tf.engine().runKernel(TRANSPOSE_2D, { x }, {}) as T)

/**
 * xᵀ for a matrix: by the SIMD kernel where it runs, `tf.transpose` elsewhere. No gradient on
 * wasm: for custom gradients' forward and backward functions, where none is recorded.
 */
export const transposeNoGrad = <T extends tf.Tensor2D>(x: T): T => transpose2dKernel(x) ?? (tf.transpose(x) as T)
