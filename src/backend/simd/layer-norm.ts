/**
 * LayerNorm over the last axis as one tfjs kernel on the wasm backend, in WebAssembly SIMD
 * (kernels.wat): PyTorch's arithmetic (mean, biased variance, eps inside the square root),
 * one pass per statistic per row, rows split over the kernel pool's threads. By tfjs ops it is eight kernels (mean, sub, square, mean,
 * add, rsqrt, mul, mul, add) whose bookkeeping outweighs their arithmetic on a decoding step's
 * few rows.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel, runSplit } from './module.js'

/** The kernel's name in tfjs's registry. */
export const LAYER_NORM = 'MinigptLayerNorm'

/** Features a thread's chunk of rows takes at least (some 8K: a few microseconds of work, more than handing it over costs). */
const GRAIN_FEATURES = 8192

/** Rows of d features per chunk of the kernel pool's: one or more, {@link GRAIN_FEATURES} features at least (layer-norm-grad.ts's forward pass splits the same way). */
export const layerNormGrain = (d: number): number => Math.ceil(GRAIN_FEATURES / d)

registerSimdKernel(LAYER_NORM, ({ inputs, backend, kernels, attrs }) => {
  const { x, weight, bias } = inputs
  const d = x.shape[x.shape.length - 1]
  const rows = tf.util.sizeFromShape(x.shape) / d
  const out = backend.makeOutput([...x.shape], 'float32')
  const args = [dataOffset(backend, x), rows, d, dataOffset(backend, weight), dataOffset(backend, bias), (attrs as { eps: number }).eps, dataOffset(backend, out)]
  runSplit(backend, 'kernels', 'layer_norm_chunk', kernels.layer_norm_chunk, args, rows, layerNormGrain(d))
  return out
})

/**
 * LayerNorm of x over its last axis (of d features, a multiple of 4) with weight and bias [d]
 * by the SIMD kernel, or `undefined` where it does not run. No gradient.
 */
export const layerNormKernel = (x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor | undefined => {
  const d = x.shape[x.rank - 1]
  const fits = x.rank >= 1 && x.size > 0 && d % 4 === 0 && x.dtype === 'float32' && weight.dtype === 'float32' && bias.dtype === 'float32' && weight.size === d && bias.size === d
  return !fits || activeSimdKernels() === null ? undefined : (tf.engine().runKernel(LAYER_NORM, { x, weight, bias }, { eps }) as tf.Tensor)
}
