/**
 * The sum of two float32 tensors of one shape (a residual connection), or of a tensor and one
 * shaped as its last axes (Mini-GPT's positional encodings [T, E] added to every sequence of
 * [B, T, E]), as one tfjs kernel on the wasm backend, in WebAssembly SIMD (kernels.wat's `add`,
 * once per repetition of b), on the calling thread.
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
  const [n, m] = [tf.util.sizeFromShape(a.shape), tf.util.sizeFromShape(b.shape)]
  const [pa, pb, po] = [dataOffset(backend, a), dataOffset(backend, b), dataOffset(backend, out)]
  for (let at = 0; at < n; at += m) kernels.add(pa + 4 * at, pb, m, po + 4 * at)
  return out
})

/** Whether b's shape is a's last axes (b repeats over a's leading ones), the same shape included. */
const trailing = (a: readonly number[], b: readonly number[]): boolean => b.length <= a.length && b.every((n, i) => n === a[a.length - b.length + i])

/**
 * a + b for float32 tensors by the SIMD kernel, b of a's shape or of its last axes (repeated over
 * the leading ones); `undefined` where it does not run (another dtype, another broadcast, an
 * empty b). No gradient.
 */
export const addKernel = <T extends tf.Tensor>(a: T, b: tf.Tensor): T | undefined =>
  a.dtype !== 'float32' || b.dtype !== 'float32' || b.size === 0 || !trailing(a.shape, b.shape) || activeSimdKernels() === null
    ? undefined
    : (tf.engine().runKernel(ADD, { a, b }, {}) as T)
