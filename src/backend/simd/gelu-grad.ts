/**
 * GELU (erf) with its gradient on the wasm backend (train.wat's `gelu_erf_train`): one pass
 * computes gelu(x) — the same values as gelu-erf.ts's kernel — and its derivative
 * Φ(x) + x·φ(x), so the backward pass is one product dy·gelu'(x). By tfjs ops the gradient
 * goes back through five ops, one of them tfjs-wasm's scalar Erf.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GELU_ERF_TRAIN = 'MinigptGeluErfTrain'

registerTrainKernel(GELU_ERF_TRAIN, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const out = backend.makeOutput([...x.shape], 'float32')
  const grad = backend.makeOutput([...x.shape], 'float32')
  const scratch = backend.makeOutput([8], 'float32')
  kernels.gelu_erf_train(dataOffset(backend, x), tf.util.sizeFromShape(x.shape), dataOffset(backend, out), dataOffset(backend, grad), dataOffset(backend, scratch))
  backend.disposeData(scratch.dataId)
  return [out, grad]
})

const withGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const [out, grad] = tf.engine().runKernel(GELU_ERF_TRAIN, { x }, {}) as tf.Tensor[]
  save([grad])
  return { value: out, gradFunc: (dy: tf.Tensor, [g]: tf.Tensor[]) => tf.mul(dy, g) }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

/**
 * GELU (erf) of a float32 tensor with its gradient, by the kernel, or `undefined` where it does
 * not run (not wasm, not float32). For use while a gradient is recorded.
 */
export const geluErfWithGradKernel = (x: tf.Tensor): tf.Tensor | undefined => (x.dtype !== 'float32' || x.size === 0 || activeTrainKernels() === null ? undefined : withGrad(x))
