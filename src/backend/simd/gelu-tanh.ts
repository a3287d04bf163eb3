/**
 * GELU in its tanh form (GPT-2's `gelu_new`) as one tfjs kernel on the wasm backend, in
 * WebAssembly SIMD (kernels.wat): x·σ(x(A + B·x²)), the form nn/activation.ts's geluTanh
 * computes with six tfjs ops (multiplications and a sigmoid), each a pass over GPT-2's
 * [tokens, 3,072] activations. Split over the kernel pool's threads in blocks of 1024 values.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel, runSplit } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GELU_TANH = 'MinigptGeluTanh'

registerSimdKernel(GELU_TANH, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const out = backend.makeOutput([...x.shape], 'float32')
  // blocks of 1024 values split over the kernel pool, 16 at least a chunk
  const n = tf.util.sizeFromShape(x.shape)
  runSplit(backend, 'kernels', 'gelu_tanh_chunk', kernels.gelu_tanh_chunk, [dataOffset(backend, x), n, dataOffset(backend, out)], Math.ceil(n / 1024), 16)
  return out
})

/** GELU (tanh form) of a float32 tensor by the SIMD kernel, or `undefined` where it does not run. No gradient. */
export const geluTanhKernel = (x: tf.Tensor): tf.Tensor | undefined =>
  x.dtype !== 'float32' || activeSimdKernels() === null ? undefined : (tf.engine().runKernel(GELU_TANH, { x }, {}) as tf.Tensor)
