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
