/**
 * Gradients of functions of parameter trees, without variables.
 *
 * tfjs computes gradients with respect to tensors passed as arguments; these helpers flatten
 * a tree into those arguments and rebuild the gradient tree of the same shape, so a training
 * step is an ordinary pure function: `(params, batch) → (loss, grads)`.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fromLeaves, leaves } from './tree.js'

/** The value of `f` at `params` and its gradient, a tree shaped like `params`. */
export const valueAndGrad =
  <T>(f: (params: T) => tf.Scalar) =>
  (params: T): { readonly value: tf.Scalar; readonly grads: T } => {
    const xs = leaves(params)
    const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) => f(fromLeaves(params, args)))(xs)
    return { value, grads: fromLeaves(params, grads) }
  }

/** The gradient of `f` at `params`, a tree shaped like `params`. */
export const grad =
  <T>(f: (params: T) => tf.Scalar) =>
  (params: T): T => {
    const { value, grads } = valueAndGrad(f)(params)
    value.dispose()
    return grads
  }

/**
 * An operation with a custom gradient that runs as `plain` when no gradient is being recorded
 * (outside `valueAndGrad`/`grad`, e.g. while decoding): `tf.customGrad` opens a scope and keeps
 * the tensors its gradient would need on every call, ~40 µs of bookkeeping per call that
 * inference never uses — a tenth of a millisecond per matrix product of a decoding step.
 * Outside a recording no gradient can be asked for later, so the two are interchangeable there.
 */
export const customGradWhenRecording =
  <A extends readonly unknown[], R>(withGrad: (...args: A) => R, plain: (...args: A) => R) =>
  (...args: A): R =>
    tf.engine().isTapeOn() ? withGrad(...args) : plain(...args)
