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
 * Every product is nn/matmul.ts's {@link product} (on wasm gemm.wat's, transposed operands read
 * in place); the largest tensors are [N, V]. On wasm the logits stay as E·hᵀ [V, N] and SIMD
 * kernels compute the softmax down the columns and the gradient G in that layout; elsewhere tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core'
import { columnLogSumExp, softmaxXentGradColumns, softmaxXentKernelsRun } from '../backend/simd/softmax-xent.js'
import { checkShape } from '../core/errors.js'
import { product } from '../nn/matmul.js'
import type { NllSum } from './loss.js'

type CustomGradFn = Parameters<typeof tf.customGrad>[0]
type TiedNll = (h: tf.Tensor2D, e: tf.Tensor2D) => tf.Scalar

/**
 * Σ −log softmax(hidden · tableᵀ)[target] over the targets that are not `ignoreIndex`, and
 * their number — `nllSum(matMul(hidden, tableᵀ), targets)` without materialising tableᵀ,
 * with gradients for `hidden` [N, d] and `table` [V, d]. Targets [N] int32.
 */
export const tiedHeadNll = (hidden: tf.Tensor2D, table: tf.Tensor2D, targets: tf.Tensor1D, ignoreIndex = -100): NllSum => {
  const [n, d] = hidden.shape
  checkShape('tiedHeadNll', 'table', table.shape, [null, d])
  checkShape('tiedHeadNll', 'targets', targets.shape, [n])
  const keep = tf.cast(tf.notEqual(targets, ignoreIndex), 'float32') as tf.Tensor1D
  // An ignored target maps to -1: its one-hot row is zero; its picked logit is read at 0 and masked.
  const safe = tf.where(tf.notEqual(targets, ignoreIndex), targets, tf.fill([n], -1, 'int32')) as tf.Tensor1D
  const nll = softmaxXentKernelsRun() ? byColumns(keep, safe) : byRows(keep, safe, table.shape[0])
  return { sum: nll(hidden, table), count: tf.sum(keep) as tf.Scalar }
}

/**
 * On wasm: the logits kept as E·hᵀ [V, N] (no transpose of them), the log-sum-exp and the
 * gradient down each token's column by SIMD kernels (backend/simd/softmax-xent.ts), and
 * dE = Gᵀ·h, dh = G·E straight from the gradient's [V, N] layout.
 */
const byColumns = (keep: tf.Tensor1D, safe: tf.Tensor1D): TiedNll =>
  tf.customGrad(((h: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const n = h.shape[0]
    const logitsT = product(e, h, false, true)
    const lse = columnLogSumExp(logitsT)
    // logitsT[t_i, i], read at row 0 for an ignored target (masked by keep).
    const picked = tf.tidy(() => tf.gather(tf.reshape(logitsT, [-1]), tf.add(tf.mul(tf.maximum(safe, tf.scalar(0, 'int32')), tf.scalar(n, 'int32')), tf.range(0, n, 1, 'int32'))))
    save([h, e, logitsT, lse, keep, safe])
    return {
      value: tf.sum(tf.mul(tf.sub(lse, picked), keep)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sh, se, sl, slse, sk, ss] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D]
          const gT = softmaxXentGradColumns(sl, slse, ss, tf.mul(sk, dy) as tf.Tensor1D)
          const dE = product(gT, sh)
          const dh = product(gT, se, true)
          return [dh, dE]
        }),
    }
  }) as unknown as CustomGradFn) as unknown as TiedNll

/** Elsewhere: the logits [N, V] by ops, the log-sum-exp along each row, the gradient by ops. */
const byRows = (keep: tf.Tensor1D, safe: tf.Tensor1D, vocab: number): TiedNll =>
  tf.customGrad(((h: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const n = h.shape[0]
    const flatIndex = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), tf.maximum(safe, tf.scalar(0, 'int32'))) as tf.Tensor1D
    const logits = tf.tidy(() => tf.transpose(tf.matMul<tf.Tensor2D>(e, tf.transpose(h))))
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
          const dE = tf.tidy(() => tf.matMul(tf.transpose(g), sh))
          return [dh, dE]
        }),
    }
  }) as unknown as CustomGradFn) as unknown as TiedNll
