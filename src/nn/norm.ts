/**
 * Layer normalisation over the last dimension, with a learned scale and shift (PyTorch's
 * nn.LayerNorm: parameters `weight` and `bias`, biased variance, eps 1e-5 by default).
 */
import * as tf from '@tensorflow/tfjs-core'
import { layerNormKernel } from '../backend/simd/layer-norm.js'
import { layerNormWithGradKernel } from '../backend/simd/layer-norm-grad.js'
import type { TensorLayer } from '../core/layer.js'
import { param } from '../core/tree.js'

/** Parameters of {@link layerNorm}: weight (scale) and bias (shift), both [dim]. */
export interface LayerNormParams {
  readonly weight: tf.Tensor1D
  readonly bias: tf.Tensor1D
}

/**
 * Normalises x over its last axis, then scales and shifts. On wasm it is one SIMD kernel
 * (backend/simd/layer-norm.ts) and, while a gradient is recorded, a kernel of the same
 * arithmetic that also keeps what its backward kernel needs (backend/simd/layer-norm-grad.ts):
 * the same values taped or not, so a rematerialised block's forward pass and its recomputation
 * agree. Elsewhere, tfjs ops.
 */
export const normalize = <R extends tf.Rank>(x: tf.Tensor<R>, weight: tf.Tensor1D, bias: tf.Tensor1D, eps = 1e-5): tf.Tensor<R> =>
  normalizeAny(x, weight, bias, eps) as tf.Tensor<R> // both paths keep x's shape

const normalizeAny = (x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor =>
  (tf.engine().isTapeOn() ? layerNormWithGradKernel(x, weight, bias, eps) : layerNormKernel(x, weight, bias, eps)) ?? normalizeOps(x, weight, bias, eps)

const normalizeOps = (x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor => {
  // Written out rather than with tf.moments, which casts its input (a copy) and subtracts the
  // mean a second time: two passes fewer over the activations, the same arithmetic.
  const centred = tf.sub(x, tf.mean(x, -1, true))
  const variance = tf.mean(tf.square(centred), -1, true)
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), weight), bias)
}

/** A LayerNorm layer over `dim` features. */
export const layerNorm = (dim: number, eps = 1e-5): TensorLayer<LayerNormParams> => ({
  name: 'layerNorm',
  init: () => Object.freeze({ weight: param([dim], () => new Float32Array(dim).fill(1)), bias: param([dim], () => new Float32Array(dim)) }),
  apply: (p, x) => normalize(x, p.weight, p.bias, eps),
})
