/**
 * Activations and normalised exponentials, as functions and as parameter-free layers.
 */
import * as tf from '@tensorflow/tfjs-core'
import { stateless, type Layer, type NoParams } from '../core/layer.js'

/** GELU, exact form: x·Φ(x) = ½x(1 + erf(x/√2)) — PyTorch's nn.GELU() default. */
export const geluErf = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))

const GELU_C = Math.sqrt(2 / Math.PI)

/**
 * GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) — GPT-2's `gelu_new`.
 * Written with x·x·x rather than pow, which is slow on wasm (NOTES-tfjs.md, trap 4), and as
 * one operation with its own gradient: built from a dozen elementwise ops, its backward pass
 * kept every one's input and gradient alive until backpropagation ended — for GPT-2 124M
 * about 150 MB per layer at batch 8 × 32, more than the layer's weights. Here backward keeps
 * only x and computes ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(u), in one scope.
 */
export const geluTanh: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x])
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C)
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)),
    gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) =>
      tf.tidy(() => {
        const x2 = tf.mul(sx, sx)
        const t = tf.tanh(tf.mul(tf.add(sx, tf.mul(tf.mul(x2, sx), 0.044715)), GELU_C))
        const du = tf.mul(tf.add(tf.mul(x2, 3 * 0.044715), 1), GELU_C)
        const d = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(sx, 0.5), tf.sub(1, tf.mul(t, t))), du))
        return tf.mul(dy, d)
      }),
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

/** A GELU layer (`'erf'`, the default, or `'tanh'`). */
export const gelu = (form: 'erf' | 'tanh' = 'erf'): Layer<NoParams, tf.Tensor, tf.Tensor> =>
  stateless(`gelu(${form})`, form === 'erf' ? geluErf : geluTanh)

/** Softmax over the last axis (masked -Infinity entries become exact zeros). */
export const softmax = (x: tf.Tensor): tf.Tensor => tf.softmax(x, -1)

/** Log-softmax over the last axis (stable: tfjs subtracts the row maximum). */
export const logSoftmax = (x: tf.Tensor): tf.Tensor => tf.logSoftmax(x, -1)
