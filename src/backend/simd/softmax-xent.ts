/**
 * Softmax cross-entropy over the *columns* of a matrix, as two tfjs kernels on the wasm backend
 * (kernels.wat): the columns' softmax statistics (maximum and sum of exponentials, for the
 * log-sum-exp) and the loss's gradient. For GPT-2's tied head (train/tied-head.ts), whose logits
 * are computed as E·hᵀ [vocab, tokens] — the product XNNPACK runs without transposing the
 * 50,257 × 768 embedding — so the softmax runs down each token's column, and the gradient in
 * that layout feeds dE = Gᵀ·h without a transpose.
 *
 * Why: by tfjs ops the loss and its gradient are a transpose of the [tokens, vocab] logits,
 * then max, subtract, exp, sum and log for the log-sum-exp, and exp, one-hot, subtract and
 * multiply for the gradient: about ten passes over 12.9 million values (GPT-2 at 8 × 32 tokens),
 * tfjs-wasm's Exp a scalar loop among them.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** Kernel names in tfjs's registry. */
export const COLUMN_SOFTMAX_STATS = 'MinigptColumnSoftmaxStats'
export const SOFTMAX_XENT_GRAD_COLUMNS = 'MinigptSoftmaxXentGradColumns'

registerSimdKernel(COLUMN_SOFTMAX_STATS, ({ inputs, backend, kernels }) => {
  const { x } = inputs
  const [rows, cols] = x.shape
  const out = backend.makeOutput([2, cols], 'float32')
  kernels.column_softmax_stats(dataOffset(backend, x), rows, cols, dataOffset(backend, out))
  return out
})

registerSimdKernel(SOFTMAX_XENT_GRAD_COLUMNS, ({ inputs, backend, kernels }) => {
  const { x, lse, targets, scale } = inputs
  const [rows, cols] = x.shape
  const out = backend.makeOutput([rows, cols], 'float32')
  kernels.softmax_xent_grad_columns(
    dataOffset(backend, x),
    rows,
    cols,
    dataOffset(backend, lse),
    dataOffset(backend, targets),
    dataOffset(backend, scale),
    dataOffset(backend, out),
  )
  return out
})

/** Whether the kernels run here (wasm with the SIMD module). */
export const softmaxXentKernelsRun = (): boolean => activeSimdKernels() !== null

/**
 * The log-sum-exp of each column of x [rows, cols] (float32, rows ≥ 1): max + log Σ e^(x − max)
 * per column, the maxima and sums by the kernel. Only where {@link softmaxXentKernelsRun}; no gradient.
 */
export const columnLogSumExp = (x: tf.Tensor2D): tf.Tensor1D =>
  tf.tidy(() => {
    const stats = tf.engine().runKernel(COLUMN_SOFTMAX_STATS, { x }, {}) as tf.Tensor2D
    const [max, sum] = tf.unstack(stats) as [tf.Tensor1D, tf.Tensor1D]
    return tf.add(max, tf.log(sum))
  })

/**
 * (softmax of each column of x − the one-hot of its target) · scale, [rows, cols]: the gradient
 * of Σ_c scale[c]·(lse[c] − x[targets[c], c]). `lse` [cols] the columns' log-sum-exp, `targets`
 * int32 [cols] (−1: no target), `scale` [cols]. Only where {@link softmaxXentKernelsRun}; no gradient.
 */
export const softmaxXentGradColumns = (x: tf.Tensor2D, lse: tf.Tensor1D, targets: tf.Tensor1D, scale: tf.Tensor1D): tf.Tensor2D =>
  tf.engine().runKernel(SOFTMAX_XENT_GRAD_COLUMNS, { x, lse, targets, scale }, {}) as tf.Tensor2D
