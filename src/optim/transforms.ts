/**
 * The building blocks of optimizers: small gradient transformations to {@link chain}.
 *
 * Each works leaf by leaf over a parameter tree with a few tf ops per leaf, makes its scalar
 * constants once per update (not once per leaf), never reads tensors back to the host, and
 * follows the ownership rule of base.ts (fresh outputs, inputs untouched, intermediates
 * disposed). Hyper-parameters are checked when the transformation is made; a bad one throws
 * an Error naming the transformation, the parameter and the value.
 */
import * as tf from '@tensorflow/tfjs-core'
import { leaves, map, zipWith, type Tree } from '../core/tree.js'
import { scoped } from '../core/scope.js'
import { cloneTree, emptyState, type CountState, type EmptyState, type GradientTransformation } from './base.js'
import type { Schedule } from './schedules.js'
import { boolean, finite, func, learningRate, nonNegative, orThrow, positive, show, unitInterval } from './validate.js'

const freeze = Object.freeze

/** zipWith over trees whose static types the transformations do not know. */
const zip = (a: unknown, b: unknown, f: (x: tf.Tensor, y: tf.Tensor, path: string) => tf.Tensor): Tree => zipWith<unknown, tf.Tensor>(a, b, f) as Tree

// ---------------------------------------------------------------------------------------
// Adam

/** Adam's hyper-parameters; all explicit (tfjs's own default eps depends on the backend). */
export interface AdamOptions {
  /** Decay of the first moment (mean of the gradients), in [0, 1). */
  readonly b1: number
  /** Decay of the second moment (mean of the squared gradients), in [0, 1). */
  readonly b2: number
  /** Added to the root of the second moment, > 0. */
  readonly eps: number
}

/** The state of {@link scaleByAdam}: the step count and the two moment trees. */
export interface ScaleByAdamState {
  /** Updates made so far; the next update is step `count + 1` of the bias correction. */
  readonly count: number
  /** First moments, one tensor per parameter. */
  readonly mu: Tree
  /** Second moments, one tensor per parameter. */
  readonly nu: Tree
}

/** The problems with Adam options, named after `who` (an optimizer or a transformation). */
export const adamProblems = (who: string, o: { readonly b1?: unknown; readonly b2?: unknown; readonly eps?: unknown }): (string | undefined)[] => [
  unitInterval(who, 'b1', o.b1),
  unitInterval(who, 'b2', o.b2),
  positive(who, 'eps', o.eps),
]

/**
 * Scales updates by Adam's rule with bias correction (the direction only: no learning rate,
 * no sign). With t the step (1 for the first update):
 *
 *     m ← b1·m + (1−b1)·g      v ← b2·v + (1−b2)·g²
 *     u = (m / (1−b1^t)) / (√(v / (1−b2^t)) + eps)
 *
 * computed as `m·(√(1−b2^t)/(1−b1^t)) / (√v + eps·√(1−b2^t))`, the same number with the
 * corrections folded into two scalars (PyTorch's Adam places eps the same way, outside the
 * root). 11 tf ops per leaf.
 */
export const scaleByAdam = (options: AdamOptions): GradientTransformation<ScaleByAdamState> => {
  orThrow(...adamProblems('scaleByAdam', options))
  const { b1, b2, eps } = options
  return freeze({
    recipe: { kind: 'scaleByAdam' as const, b1, b2, eps },
    init: <T>(params: T): ScaleByAdamState => freeze({ count: 0, mu: map(params, (p) => tf.zerosLike(p)) as Tree, nu: map(params, (p) => tf.zerosLike(p)) as Tree }),
    update: <T>(grads: T, state: ScaleByAdamState) =>
      scoped(() => {
        const count = state.count + 1
        const bc1 = 1 - b1 ** count
        const rootBc2 = Math.sqrt(1 - b2 ** count)
        const [sb1, sc1, sb2, sc2] = [b1, 1 - b1, b2, 1 - b2].map((x) => tf.scalar(x))
        const stepSize = tf.scalar(rootBc2 / bc1)
        const epsHat = tf.scalar(eps * rootBc2)
        // Each leaf's expression in its own scope: its temporaries are freed at once rather
        // than when the whole tree is done (for GPT-2 124M, 8 temporaries of 154 MB for wte alone).
        const mu = zip(grads, state.mu, (g, m) => tf.tidy(() => tf.add(tf.mul(m, sb1), tf.mul(g, sc1))))
        const nu = zip(grads, state.nu, (g, v) => tf.tidy(() => tf.add(tf.mul(v, sb2), tf.mul(tf.square(g), sc2))))
        const updates = zip(mu, nu, (m, v) =>
          tf.tidy(() =>
            tf.div(
              tf.mul(m, stepSize),
              tf.tidy(() => tf.add(tf.sqrt(v), epsHat)),
            ),
          ),
        )
        return [updates as unknown as T, freeze({ count, mu, nu })] as const
      }),
  })
}

// ---------------------------------------------------------------------------------------
// Momentum

/** Options of {@link trace}. */
export interface TraceOptions {
  /** The momentum, in [0, 1). */
  readonly decay: number
  /** Nesterov's variant: the update looks one step ahead along the trace. */
  readonly nesterov?: boolean
}

/** The state of {@link trace}: the running trace (PyTorch's momentum buffer). */
export interface TraceState {
  /** One tensor per parameter. */
  readonly trace: Tree
}

/**
 * Momentum as PyTorch's SGD keeps it (dampening 0): `t ← decay·t + g`, and the update is `t`,
 * or `g + decay·t` with Nesterov. The trace starts at 0, so the first update is `g` (PyTorch
 * starts its buffer at the first gradient: the same thing). 2 tf ops per leaf (4 with Nesterov).
 */
export const trace = (options: TraceOptions): GradientTransformation<TraceState> => {
  orThrow(unitInterval('trace', 'decay', options.decay), options.nesterov === undefined ? undefined : boolean('trace', 'nesterov', options.nesterov))
  const { decay, nesterov = false } = options
  return freeze({
    init: <T>(params: T): TraceState => freeze({ trace: map(params, (p) => tf.zerosLike(p)) as Tree }),
    update: <T>(grads: T, state: TraceState) =>
      scoped(() => {
        const d = tf.scalar(decay)
        const next = zip(grads, state.trace, (g, t) => tf.add(tf.mul(t, d), g))
        const updates = nesterov ? zip(grads, next, (g, t) => tf.add(g, tf.mul(t, d))) : cloneTree(next)
        return [updates as unknown as T, freeze({ trace: next })] as const
      }),
  })
}

// ---------------------------------------------------------------------------------------
// Weight decay

/** Which parameters to decay, by dotted path and tensor: true to decay. */
export type DecayMask = (path: string, param: tf.Tensor) => boolean

/**
 * Decays matrices and leaves vectors alone: the GPT-2 / nanoGPT convention (weights of linear
 * layers and embeddings decay; biases and layer-norm gains do not).
 */
export const decayMatrices: DecayMask = (_path, param) => param.rank >= 2

/** @internal {@link addDecayedWeights} with the name to use in messages. */
export const addDecayedWeightsAs = (who: string, weightDecay: number, mask?: DecayMask): GradientTransformation<EmptyState> => {
  orThrow(nonNegative(who, 'weightDecay', weightDecay), mask === undefined ? undefined : func(who, 'mask', mask, 'a function (path, param) => boolean'))
  return freeze({
    recipe: mask === undefined ? { kind: 'addDecayedWeights' as const, weightDecay } : { kind: 'addDecayedWeights' as const, weightDecay, mask },
    init: () => emptyState,
    update: <T>(updates: T, state: EmptyState, params?: T) =>
      scoped(() => {
        if (params === undefined) throw new Error(`${who}: update needs the parameters (its third argument) to decay them`)
        if (weightDecay === 0) return [cloneTree(updates), state] as const
        const wd = tf.scalar(weightDecay)
        const out = zip(updates, params, (u, p, path) => (mask === undefined || mask(path, p) ? tf.add(u, tf.mul(p, wd)) : tf.clone(u)))
        return [out as unknown as T, state] as const
      }),
  })
}

/**
 * Adds `weightDecay · param` to the updates (Loshchilov & Hutter's decoupled weight decay when
 * it comes after the adaptive scaling and before the learning rate, as in {@link adamw}).
 * `mask` picks the parameters to decay (all by default; see {@link decayMatrices}).
 * Needs `params` in `update`. 2 tf ops per decayed leaf.
 */
export const addDecayedWeights = (weightDecay: number, mask?: DecayMask): GradientTransformation<EmptyState> => addDecayedWeightsAs('addDecayedWeights', weightDecay, mask)

// ---------------------------------------------------------------------------------------
// Scaling

/** Multiplies the updates by a fixed finite number `s`. 1 tf op per leaf. */
export const scale = (s: number): GradientTransformation<EmptyState> => {
  orThrow(finite('scale', 's', s))
  return freeze({
    init: () => emptyState,
    update: <T>(updates: T, state: EmptyState) =>
      scoped(() => {
        const f = tf.scalar(s)
        return [map(updates, (u) => tf.mul(u, f)) as unknown as T, state] as const
      }),
  })
}

/** @internal {@link scaleByLearningRate} with the name to use in messages. */
export const scaleByLearningRateAs = (who: string, lr: number | Schedule): GradientTransformation<CountState> => {
  orThrow(learningRate(who, lr))
  return freeze({
    recipe: { kind: 'scaleByLearningRate' as const, lr },
    init: () => freeze({ count: 0 }),
    update: <T>(updates: T, state: CountState) =>
      scoped(() => {
        const value = typeof lr === 'function' ? lr(state.count) : lr
        if (!(Number.isFinite(value) && value >= 0)) {
          throw new Error(`${who}: the lr schedule gave ${show(value)} at step ${state.count}; it must give finite numbers >= 0`)
        }
        const f = tf.scalar(-value)
        return [map(updates, (u) => tf.mul(u, f)) as unknown as T, freeze({ count: state.count + 1 })] as const
      }),
  })
}

/**
 * Multiplies the updates by `−lr` (descent), where `lr` is a number or a {@link Schedule} of
 * the step (0 for the first update, like PyTorch's LambdaLR stepped after each update).
 * The state is the step count, a plain number. 1 tf op per leaf.
 */
export const scaleByLearningRate = (lr: number | Schedule): GradientTransformation<CountState> => scaleByLearningRateAs('scaleByLearningRate', lr)

// ---------------------------------------------------------------------------------------
// Clipping

/**
 * The global L2 norm of a tree, `√(Σ_leaves Σ x²)`, as a scalar tensor: one sum of squares per
 * leaf, one addition of them all, one root. No host sync (read it with `.dataSync()` only
 * where you log it).
 */
export const globalNorm = (tree: unknown): tf.Scalar =>
  scoped(() => {
    const sums = leaves(tree).map((x) => tf.sum(tf.square(x)))
    if (sums.length === 0) return tf.scalar(0)
    return tf.sqrt(addAll(sums)) as tf.Scalar
  })

/** PyTorch's `clip_grad_norm_` factor for a global norm: min(1, maxNorm / (norm + 1e-6)). Shared by {@link clipByGlobalNorm} and the leafwise step. */
export const clipFactor = (norm: tf.Scalar, maxNorm: number): tf.Scalar => tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))), tf.scalar(1))
/** The most inputs of one `tf.addN` here: tfjs-webgpu binds each input and the output as storage buffers, 8 per shader on many devices. */
export const ADD_N_INPUTS = 7

/**
 * The sum of tensors of one shape: one `tf.addN` for up to {@link ADD_N_INPUTS} of them, a tree of
 * them beyond. tfjs-webgpu's AddN past the device's storage-buffer limit makes an invalid pipeline
 * and a wrong sum (Dawn prints a validation error, nothing throws).
 */
const addAll = (xs: readonly tf.Tensor[]): tf.Tensor => {
  if (xs.length === 1) return xs[0]
  if (xs.length <= ADD_N_INPUTS) return tf.addN([...xs])
  const groups = Array.from({ length: Math.ceil(xs.length / ADD_N_INPUTS) }, (_, i) => addAll(xs.slice(i * ADD_N_INPUTS, (i + 1) * ADD_N_INPUTS)))
  return addAll(groups)
}

/** @internal {@link clipByGlobalNorm} with the name to use in messages. */
export const clipByGlobalNormAs = (who: string, maxNorm: number): GradientTransformation<EmptyState> => {
  orThrow(positive(who, 'maxNorm', maxNorm))
  return freeze({
    recipe: { kind: 'clipByGlobalNorm' as const, maxNorm },
    init: () => emptyState,
    update: <T>(updates: T, state: EmptyState) =>
      scoped(() => {
        const factor = clipFactor(globalNorm(updates), maxNorm)
        return [map(updates, (u) => tf.mul(u, factor)) as unknown as T, state] as const
      }),
  })
}

/**
 * Scales all updates by one factor so that their global norm is at most `maxNorm`, with
 * PyTorch's `clip_grad_norm_` rule: `factor = min(1, maxNorm / (norm + 1e-6))`, applied
 * always (no branch, so no host sync). Put it first in a chain to clip the gradients, as the
 * HF Trainer does with `max_grad_norm`. 3 tf ops per leaf plus 5 for the whole tree.
 */
export const clipByGlobalNorm = (maxNorm: number): GradientTransformation<EmptyState> => clipByGlobalNormAs('clipByGlobalNorm', maxNorm)
