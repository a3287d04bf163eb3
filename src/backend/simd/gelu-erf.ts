/**
 * GELU (exact, erf form) as one tfjs kernel on the wasm backend, in WebAssembly SIMD
 * (kernels.wat): ½x(1 + erf(x/√2)) with erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7,
 * the formula of tfjs's cpu Erf). tfjs-wasm's Erf is a scalar loop, and
 * GELU by ops is five kernels: at Mini-GPT's decoding steps they were the largest cost after
 * the matrix products (docs/benchmarks.md).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GELU_ERF = 'MinigptGeluErf'

registerSimdKernel(GELU_ERF, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const out = backend.makeOutput([...x.shape], 'float32')
  kernels.gelu_erf(dataOffset(backend, x), tf.util.sizeFromShape(x.shape), dataOffset(backend, out))
  return out
})

/** GELU (erf) of a float32 tensor by the SIMD kernel, or `undefined` where it does not run. No gradient. */
export const geluErfKernel = (x: tf.Tensor): tf.Tensor | undefined =>
  x.dtype !== 'float32' || activeSimdKernels() === null ? undefined : (tf.engine().runKernel(GELU_ERF, { x }, {}) as tf.Tensor)
