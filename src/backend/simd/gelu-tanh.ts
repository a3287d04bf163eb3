/**
 * GELU in its tanh form (GPT-2's `gelu_new`) as one tfjs kernel on the wasm backend, in
 * WebAssembly SIMD (kernels.wat): x·σ(x(A + B·x²)), the form nn/activation.ts's geluTanh
 * computes with six tfjs ops (multiplications and a sigmoid), each a pass over GPT-2's
 * [tokens, 3,072] activations. Split over the kernel pool's threads in blocks of 1024 values.
 * While a gradient is recorded the same pass also writes the derivative, so that the backward
 * pass is one product dy·gelu'(x) where by ops it recomputes the forward ops and goes back
 * through them (a GPT-2 fine-tuning step ran a dozen elementwise passes a layer for it).
 */
import * as tf from '@tensorflow/tfjs-core'
import { withKernelDerivative } from './gelu-erf.js'
import { activeSimdKernels, dataOffset, registerSimdKernel, runSplit } from './module.js'

/** The kernels' names in tfjs's registry: GELU, and GELU with its derivative. */
export const GELU_TANH = 'MinigptGeluTanh'
export const GELU_TANH_WITH_DERIVATIVE = 'MinigptGeluTanhWithDerivative'

registerSimdKernel(GELU_TANH, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const out = backend.makeOutput([...x.shape], 'float32')
  // blocks of 1024 values split over the kernel pool, 16 at least a chunk
  const n = tf.util.sizeFromShape(x.shape)
  runSplit(backend, 'kernels', 'gelu_tanh_chunk', kernels.gelu_tanh_chunk, [dataOffset(backend, x), n, dataOffset(backend, out)], Math.ceil(n / 1024), 16)
  return out
})

registerSimdKernel(GELU_TANH_WITH_DERIVATIVE, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const [out, grad] = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([...x.shape], 'float32')]
  const n = tf.util.sizeFromShape(x.shape)
  const args = [dataOffset(backend, x), n, dataOffset(backend, out), dataOffset(backend, grad)]
  runSplit(backend, 'kernels', 'gelu_tanh_grad_chunk', kernels.gelu_tanh_grad_chunk, args, Math.ceil(n / 1024), 16)
  return [out, grad]
})

/** GELU (tanh form) of a float32 tensor by the SIMD kernel, or `undefined` where it does not run. No gradient. */
export const geluTanhKernel = (x: tf.Tensor): tf.Tensor | undefined =>
  x.dtype !== 'float32' || activeSimdKernels() === null ? undefined : (tf.engine().runKernel(GELU_TANH, { x }, {}) as tf.Tensor)

const withGrad = withKernelDerivative(GELU_TANH_WITH_DERIVATIVE)

/**
 * GELU (tanh form) of a float32 tensor with its gradient, by the kernel (the same values as
 * {@link geluTanhKernel}, to the bit), or `undefined` where it does not run. For use while a
 * gradient is recorded.
 */
export const geluTanhWithGradKernel = (x: tf.Tensor): tf.Tensor | undefined => (x.dtype !== 'float32' || x.size === 0 || activeSimdKernels() === null ? undefined : withGrad(x))
