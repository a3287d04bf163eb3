/**
 * Gradients of functions of parameter trees, without variables.
 *
 * tfjs computes gradients with respect to tensors passed as arguments; these helpers flatten
 * a tree into those arguments and rebuild the gradient tree of the same shape, so a training
 * step is an ordinary pure function: `(params, batch) → (loss, grads)`.
 */
import * as tf from '@tensorflow/tfjs-core'
import { gradientDepth } from './tfjs-internals.js'
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
 * the tensors its gradient would need on every call, bookkeeping per call that inference never
 * uses and that shows in a decoding step's time (docs/benchmarks.md).
 * Outside a recording no gradient can be asked for later, so the two are interchangeable there.
 */
export const customGradWhenRecording =
  <A extends readonly unknown[], R>(withGrad: (...args: A) => R, plain: (...args: A) => R) =>
  (...args: A): R =>
    tf.engine().isTapeOn() ? withGrad(...args) : plain(...args)

/**
 * True when no gradient computation is in progress at all: outside `valueAndGrad`/`grad`, and
 * not inside a custom gradient's or a rematerialised block's forward pass either (where tfjs's
 * tape is paused, `isTapeOn()` is false, yet the values feed a gradient).
 */
export const noGradientInProgress = (): boolean => gradientDepth() === 0

/**
 * A function with an inference-only fast path: `fast` (a kernel or a host computation without a
 * gradient, which may decline by returning `undefined`) when {@link noGradientInProgress},
 * `ops` otherwise — so a training step computes exactly what the ops compute, also in
 * rematerialised blocks (the SIMD kernels of backend/simd are used this way).
 */
export const withInferenceKernel =
  <A extends readonly unknown[], R>(ops: (...args: A) => R, fast: (...args: A) => R | undefined) =>
  (...args: A): R =>
    noGradientInProgress() ? (fast(...args) ?? ops(...args)) : ops(...args)
