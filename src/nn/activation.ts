/**
 * Activations and normalised exponentials, as functions and as parameter-free layers.
 */
import * as tf from '@tensorflow/tfjs-core'
import { geluErfKernel, geluErfWithGradKernel } from '../backend/simd/gelu-erf.js'
import { geluTanhKernel, geluTanhWithGradKernel } from '../backend/simd/gelu-tanh.js'
import { customGradWhenRecording } from '../core/grad.js'
import { NO_PARAMS, type NoParams, type TensorLayer } from '../core/layer.js'

const geluErfOps = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))

/**
 * GELU, exact form: x·Φ(x) = ½x(1 + erf(x/√2)) — PyTorch's nn.GELU() default. On wasm it is one
 * SIMD kernel (backend/simd/gelu-erf.ts) instead of five ops, taped or not, and while a gradient
 * is recorded the same kernel also writes the derivative its backward pass needs; on other
 * backends, tfjs ops.
 */
export const geluErf = (x: tf.Tensor): tf.Tensor => (tf.engine().isTapeOn() ? geluErfWithGradKernel(x) : geluErfKernel(x)) ?? geluErfOps(x)

// gelu_new as x·σ(v), v = x(A + B·x²): ½(1 + tanh(u)) = σ(2u), so A = 2√(2/π), B = 0.044715·A.
const GELU_A = 2 * Math.sqrt(2 / Math.PI)
const GELU_B = 0.044715 * GELU_A

const geluTanhPlain = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.mul(x, x), GELU_B), GELU_A))))

const geluTanhWithGrad: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x])
  return {
    value: geluTanhPlain(x),
    gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) =>
      tf.tidy(() => {
        const x2 = tf.mul(sx, sx)
        const s = tf.sigmoid(tf.mul(sx, tf.add(tf.mul(x2, GELU_B), GELU_A)))
        // d/dx x·σ(v) = σ + x·σ(1 − σ)·v′, v′ = A + 3B·x²
        const dv = tf.add(tf.mul(x2, 3 * GELU_B), GELU_A)
        return tf.mul(dy, tf.add(s, tf.mul(tf.mul(sx, tf.mul(s, tf.sub(1, s))), dv)))
      }),
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

const geluTanhOps = customGradWhenRecording(geluTanhWithGrad, geluTanhPlain)

/**
 * GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) — GPT-2's `gelu_new` —
 * computed as x·σ(2√(2/π)(x + 0.044715x³)), the same function: the sigmoid is one vectorised
 * kernel on wasm where tanh is a scalar loop, and the form needs six elementwise operations
 * instead of nine (x·x rather than pow, which is slow on wasm: docs/concepts.md). With
 * its own gradient: built from elementwise ops, its backward pass kept every one's input and
 * gradient alive until backpropagation ended — for GPT-2 124M about 150 MB per layer at
 * batch 8 × 32, more than the layer's weights. Here backward keeps only x. On wasm it is one
 * SIMD kernel (backend/simd/gelu-tanh.ts), taped or not: while a gradient is recorded the
 * kernel also writes the derivative, and backward keeps that instead of x.
 */
export const geluTanh = (x: tf.Tensor): tf.Tensor => (tf.engine().isTapeOn() ? geluTanhWithGradKernel(x) : geluTanhKernel(x)) ?? geluTanhOps(x)

/** A GELU layer (`'erf'`, the default, or `'tanh'`). */
export const gelu = (form: 'erf' | 'tanh' = 'erf'): TensorLayer<NoParams> => {
  const f = elementwise(form === 'erf' ? geluErf : geluTanh)
  return { name: `gelu(${form})`, init: () => NO_PARAMS, apply: (_p, x) => f(x) }
}

/** An elementwise function typed as what it is: a tensor in, a tensor of the same shape (and rank) out. */
export const elementwise =
  (f: (x: tf.Tensor) => tf.Tensor) =>
  <R extends tf.Rank>(x: tf.Tensor<R>): tf.Tensor<R> =>
    f(x) as tf.Tensor<R>

/** Softmax over the last axis (masked -Infinity entries become exact zeros). */
export const softmax = (x: tf.Tensor): tf.Tensor => tf.softmax(x, -1)

/** Log-softmax over the last axis (stable: tfjs subtracts the row maximum). */
export const logSoftmax = (x: tf.Tensor): tf.Tensor => tf.logSoftmax(x, -1)
