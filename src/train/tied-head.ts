/**
 * The cross-entropy of a language model whose output head is tied to its token embedding
 * (GPT-2: logits = hidden · wteᵀ), fused into one operation with its own gradient.
 *
 * Written as head-then-loss, a GPT-2 124M training step materialises wteᵀ [768, 50257]
 * (154 MB), the packed copy wasm's XNNPACK makes of it as a matmul operand, a transpose of it
 * again in the backward pass, the head's gradient in the transposed layout and its transpose
 * back, plus the one-hot and log-softmax intermediates of the loss: past 1 GB for the head
 * alone, which with the model and AdamW's state does not fit wasm's 4 GiB heap. Here:
 *
 *   forward   logits = (E · hᵀ)ᵀ            E [V, d] untransposed, the small hᵀ the packed operand
 *             nll_i  = logsumexp(logits_i) − logits_i[t_i]
 *   backward  G      = (softmax(logits) − onehot(t)) · mask · dy          [N, V]
 *             dh     = G · E                  dE = Gᵀ · h
 *
 * Every product is a plain 2-D matmul (wasm's fast path); the largest tensors are [N, V].
 */
import * as tf from '@tensorflow/tfjs-core'
import { transposeNoGrad } from '../backend/simd/transpose.js'
import { checkShape } from '../core/errors.js'
import type { NllSum } from './loss.js'

/**
 * Σ −log softmax(hidden · tableᵀ)[target] over the targets that are not `ignoreIndex`, and
 * their number — `nllSum(matMul(hidden, tableᵀ), targets)` without materialising tableᵀ,
 * with gradients for `hidden` [N, d] and `table` [V, d]. Targets [N] int32.
 */
export const tiedHeadNll = (hidden: tf.Tensor2D, table: tf.Tensor2D, targets: tf.Tensor1D, ignoreIndex = -100): NllSum => {
  const [n, d] = hidden.shape
  const vocab = table.shape[0]
  checkShape('tiedHeadNll', 'table', table.shape, [null, d])
  checkShape('tiedHeadNll', 'targets', targets.shape, [n])
  const keep = tf.cast(tf.notEqual(targets, ignoreIndex), 'float32') as tf.Tensor1D
  // An ignored target maps to -1: its one-hot row is zero; its picked logit is read at 0 and masked.
  const safe = tf.where(tf.notEqual(targets, ignoreIndex), targets, tf.fill([n], -1, 'int32')) as tf.Tensor1D
  const flatIndex = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), tf.maximum(safe, tf.scalar(0, 'int32'))) as tf.Tensor1D
  const nll = tf.customGrad(((h: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const logits = tf.tidy(() => transposeNoGrad(tf.matMul<tf.Tensor2D>(e, transposeNoGrad(h))))
    const lse = tf.logSumExp(logits, -1) as tf.Tensor1D
    const picked = tf.gather(tf.reshape(logits, [-1]), flatIndex)
    save([h, e, logits, lse, keep, safe])
    return {
      value: tf.sum(tf.mul(tf.sub(lse, picked), keep)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sh, se, sl, slse, sk, ss] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D]
          // Nested scopes free each [N, V] temporary as soon as the next one exists.
          const probs = tf.tidy(() => tf.exp(tf.sub(sl, tf.expandDims(slse, 1))))
          const delta = tf.tidy(() => tf.sub(probs, tf.oneHot(ss, vocab)))
          probs.dispose()
          const g = tf.mul(delta, tf.expandDims(tf.mul(sk, dy), 1)) as tf.Tensor2D
          delta.dispose()
          const dh = tf.matMul(g, se)
          const dE = tf.tidy(() => tf.matMul(transposeNoGrad(g), sh))
          return [dh, dE]
        }),
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (h: tf.Tensor2D, e: tf.Tensor2D) => tf.Scalar
  return { sum: nll(hidden, table), count: tf.sum(keep) as tf.Scalar }
}
