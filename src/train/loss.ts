/**
 * Losses for language models.
 */
import * as tf from '@tensorflow/tfjs-core'
import { crossEntropyKernel } from '../backend/simd/cross-entropy.js'
import { checkShape } from '../core/errors.js'

/** The summed negative log-likelihood and the number of targets it covers. */
export interface NllSum {
  /** Σ −log p(target) over non-ignored targets (a scalar). */
  readonly sum: tf.Scalar
  /** The number of non-ignored targets (a scalar). */
  readonly count: tf.Scalar
}

/**
 * Σ −log softmax(logits)[target] over the targets that are not `ignoreIndex`, and their
 * number. logits [B, T, V] (or [N, V]), targets [B, T] (or [N]) int32.
 */
export const nllSum = (logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = -100): NllSum => {
  const v = logits.shape[logits.rank - 1]
  checkShape('crossEntropy', 'targets', targets.shape, logits.shape.slice(0, -1))
  const flatLogits = tf.reshape(logits, [-1, v])
  const flatTargets = tf.reshape(targets, [-1]) as tf.Tensor1D
  const logp = tf.logSoftmax(flatLogits, -1)
  const keep = tf.notEqual(flatTargets, ignoreIndex)
  // An ignored target maps to -1, whose one-hot row is zero, so it contributes nothing.
  const safe = tf.where(keep, flatTargets, tf.fill(flatTargets.shape, -1, 'int32')) as tf.Tensor1D
  // tf.oneHot rejects a depth below 2: with a single class, take two columns and keep the first.
  const oneHot = v >= 2 ? tf.oneHot(safe, v) : tf.slice(tf.oneHot(safe, 2), [0, 0], [-1, v])
  const picked = tf.sum(tf.mul(logp, oneHot), -1)
  return { sum: tf.neg(tf.sum(picked)) as tf.Scalar, count: tf.sum(tf.cast(keep, 'float32')) as tf.Scalar }
}

/**
 * Mean cross-entropy in nats over the non-ignored targets: PyTorch's
 * `CrossEntropyLoss(ignore_index=…)` with mean reduction. On wasm, one kernel forward and one
 * backward (backend/simd/cross-entropy.ts); elsewhere tfjs ops.
 */
export const crossEntropy = (logits: tf.Tensor, targets: tf.Tensor, ignoreIndex = -100): tf.Scalar => {
  const v = logits.shape[logits.rank - 1]
  checkShape('crossEntropy', 'targets', targets.shape, logits.shape.slice(0, -1))
  const fused = crossEntropyKernel(tf.reshape(logits, [-1, v]) as tf.Tensor2D, tf.reshape(targets, [-1]) as tf.Tensor1D, ignoreIndex)
  if (fused !== undefined) return fused
  const { sum, count } = nllSum(logits, targets, ignoreIndex)
  return tf.div(sum, tf.maximum(count, 1)) as tf.Scalar
}
