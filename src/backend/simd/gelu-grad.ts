/**
 * GELU (erf) with its gradient on the wasm backend: the forward pass is gelu-erf.ts's kernel,
 * the backward pass train.wat's `gelu_erf_backward`, dy·(Φ(x) + x·φ(x)) in one pass. By tfjs
 * ops the gradient goes back through five ops, one of them tfjs-wasm's scalar Erf.
 */
import * as tf from '@tensorflow/tfjs-core'
import { GELU_ERF } from './gelu-erf.js'
import { activeSimdKernels, activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GELU_ERF_BACKWARD = 'MinigptGeluErfBackward'

registerTrainKernel(GELU_ERF_BACKWARD, ({ inputs, backend, kernels }) => {
  const { x, dy } = inputs
  const dx = backend.makeOutput([...x.shape], 'float32')
  kernels.gelu_erf_backward(dataOffset(backend, x), dataOffset(backend, dy), tf.util.sizeFromShape(x.shape), dataOffset(backend, dx))
  return dx
})

const withGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x])
  return {
    value: tf.engine().runKernel(GELU_ERF, { x }, {}) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => tf.engine().runKernel(GELU_ERF_BACKWARD, { x: sx, dy }, {}) as tf.Tensor,
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

/**
 * GELU (erf) of a float32 tensor with its gradient, by the kernels, or `undefined` where they
 * do not run (not wasm, not float32). For use while a gradient is recorded.
 */
export const geluErfWithGradKernel = (x: tf.Tensor): tf.Tensor | undefined =>
  x.dtype !== 'float32' || activeSimdKernels() === null || activeTrainKernels() === null ? undefined : withGrad(x)
