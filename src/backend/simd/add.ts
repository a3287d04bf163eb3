/**
 * The sum of two float32 tensors of one shape (a residual connection) as one tfjs kernel on the
 * wasm backend, in WebAssembly SIMD (kernels.wat's `add`), on the calling thread.
 *
 * Why: tfjs-wasm adds through XNNPACK on its thread pool, whose worker spins on the other core for
 * a while after each operation. A quantized decoding step alternates residual adds with products
 * that the kernel pool splits over both cores (quant-matmul.ts): the spinning worker took the
 * core the pool's worker needed, and two threads decoded no faster than one (docs/benchmarks.md).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const ADD = 'MinigptAdd'

registerSimdKernel(ADD, ({ inputs, backend, kernels }) => {
  const { a, b } = inputs
  const out = backend.makeOutput([...a.shape], 'float32')
  kernels.add(dataOffset(backend, a), dataOffset(backend, b), tf.util.sizeFromShape(a.shape), dataOffset(backend, out))
  return out
})

/** a + b for float32 tensors of the same shape by the SIMD kernel, or `undefined` where it does not run (another dtype or shape: a broadcast). No gradient. */
export const addKernel = <T extends tf.Tensor>(a: T, b: T): T | undefined =>
  a.dtype !== 'float32' || b.dtype !== 'float32' || !tf.util.arraysEqual(a.shape, b.shape) || activeSimdKernels() === null
    ? undefined
    : (tf.engine().runKernel(ADD, { a, b }, {}) as T)
