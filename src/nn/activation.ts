/**
 * Activations and normalised exponentials, as functions and as parameter-free layers.
 */
import * as tf from '@tensorflow/tfjs-core'
import { stateless, type Layer, type NoParams } from '../core/layer.js'

/** GELU, exact form: x·Φ(x) = ½x(1 + erf(x/√2)) — PyTorch's nn.GELU() default. */
export const geluErf = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))

/**
 * GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) — GPT-2's `gelu_new`.
 * Written with x·x·x rather than pow, which is slow on wasm (NOTES-tfjs.md, trap 4).
 */
export const geluTanh = (x: tf.Tensor): tf.Tensor => {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI))
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1))
}

/** A GELU layer (`'erf'`, the default, or `'tanh'`). */
export const gelu = (form: 'erf' | 'tanh' = 'erf'): Layer<NoParams, tf.Tensor, tf.Tensor> =>
  stateless(`gelu(${form})`, form === 'erf' ? geluErf : geluTanh)

/** Softmax over the last axis (masked -Infinity entries become exact zeros). */
export const softmax = (x: tf.Tensor): tf.Tensor => tf.softmax(x, -1)

/** Log-softmax over the last axis (stable: tfjs subtracts the row maximum). */
export const logSoftmax = (x: tf.Tensor): tf.Tensor => tf.logSoftmax(x, -1)
