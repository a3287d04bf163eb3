/**
 * Ready-made optimizers, each a {@link chain} of transformations from transforms.ts, with
 * PyTorch's defaults and PyTorch's update rules (so a recipe written for `torch.optim` gives
 * the same numbers here, up to float32 rounding).
 *
 * Options are checked at once; a bad one throws an Error naming the optimizer, the option and
 * the value: `adamw: lr must be a finite number > 0, got NaN`.
 */
import { chain, type CountState, type EmptyState, type GradientTransformation } from './base.js'
import type { Schedule } from './schedules.js'
import { adamProblems, addDecayedWeightsAs, scaleByAdam, scaleByLearningRateAs, trace, type DecayMask, type ScaleByAdamState, type TraceState } from './transforms.js'
import { boolean, func, learningRate, nonNegative, orThrow, problems, unitInterval } from './validate.js'

/** A learning rate: a fixed number or a schedule of the step. */
export type LearningRate = number | Schedule

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** The learning rate (> 0) or a schedule. */
  readonly lr: LearningRate
  /** Momentum in [0, 1); 0 (the default) keeps no state besides the step. */
  readonly momentum?: number
  /** Nesterov momentum (needs momentum > 0). */
  readonly nesterov?: boolean
}

/** The state of {@link sgd}: [step] without momentum, [momentum buffer, step] with it. */
export type SgdState = readonly [CountState] | readonly [TraceState, CountState]

/** What is wrong with {@link sgd} options (the config codec reports the same lines). */
export const sgdProblems = (o: { readonly [K in 'lr' | 'momentum' | 'nesterov']?: unknown }): string[] => {
  const { lr, momentum = 0, nesterov = false } = o
  return problems(
    learningRate('sgd', lr),
    unitInterval('sgd', 'momentum', momentum),
    boolean('sgd', 'nesterov', nesterov),
    nesterov === true && momentum === 0 ? 'sgd: nesterov needs momentum > 0, got momentum 0' : undefined,
  )
}

/**
 * Stochastic gradient descent as `torch.optim.SGD` (dampening 0, no weight decay):
 * `buf ← momentum·buf + g`, `p ← p − lr·buf` (or `p − lr·(g + momentum·buf)` with Nesterov).
 */
export const sgd = (options: SgdOptions): GradientTransformation<SgdState> => {
  orThrow(...sgdProblems(options))
  const { lr, momentum = 0, nesterov = false } = options
  const descend = scaleByLearningRateAs('sgd', lr)
  const t = momentum > 0 ? chain(trace({ decay: momentum, nesterov }), descend) : chain(descend)
  return t as unknown as GradientTransformation<SgdState>
}

/** Options of {@link adam}; the defaults are PyTorch's. */
export interface AdamAliasOptions {
  /** The learning rate (> 0) or a schedule. */
  readonly lr: LearningRate
  /** Default 0.9. */
  readonly b1?: number
  /** Default 0.999. */
  readonly b2?: number
  /** Default 1e-8, on every backend (tfjs's own default depends on the backend). */
  readonly eps?: number
}

/** The state of {@link adam}: [moments and step, learning-rate step]. */
export type AdamState = readonly [ScaleByAdamState, CountState]

/** What is wrong with {@link adam} options. */
export const adamAliasProblems = (o: { readonly [K in 'lr' | 'b1' | 'b2' | 'eps']?: unknown }): string[] => {
  const { lr, b1 = 0.9, b2 = 0.999, eps = 1e-8 } = o
  return problems(learningRate('adam', lr), ...adamProblems('adam', { b1, b2, eps }))
}

/** Adam as `torch.optim.Adam` (no weight decay): `chain(scaleByAdam, scaleByLearningRate)`. */
export const adam = (options: AdamAliasOptions): GradientTransformation<AdamState> => {
  orThrow(...adamAliasProblems(options))
  const { lr, b1 = 0.9, b2 = 0.999, eps = 1e-8 } = options
  return chain(scaleByAdam({ b1, b2, eps }), scaleByLearningRateAs('adam', lr))
}

/** Options of {@link adamw}; the defaults are PyTorch's. */
export interface AdamWOptions extends AdamAliasOptions {
  /** Decoupled weight decay, >= 0; default 0.01 (PyTorch's AdamW default). */
  readonly weightDecay?: number
  /** Which parameters to decay (all by default); see `decayMatrices`. */
  readonly mask?: DecayMask
}

/** The state of {@link adamw}: [moments and step, nothing (decay), learning-rate step]. */
export type AdamWState = readonly [ScaleByAdamState, EmptyState, CountState]

/** What is wrong with {@link adamw} options. */
export const adamwProblems = (o: { readonly [K in 'lr' | 'b1' | 'b2' | 'eps' | 'weightDecay' | 'mask']?: unknown }): string[] => {
  const { lr, b1 = 0.9, b2 = 0.999, eps = 1e-8, weightDecay = 0.01, mask } = o
  return problems(
    learningRate('adamw', lr),
    ...adamProblems('adamw', { b1, b2, eps }),
    nonNegative('adamw', 'weightDecay', weightDecay),
    mask === undefined ? undefined : func('adamw', 'mask', mask, 'a function (path, param) => boolean'),
  )
}

/**
 * AdamW as `torch.optim.AdamW`. PyTorch does, at step t with learning rate lr_t (the scheduled
 * value for that step):
 *
 *     p ← p·(1 − lr_t·wd)                       (decoupled decay, from the old p)
 *     p ← p − lr_t · m̂ / (√v̂ + eps)             (the Adam step)
 *
 * Both terms use the old p and the same lr_t, so this is `p + (−lr_t)·(adam(g) + wd·p)`:
 * `chain(scaleByAdam, addDecayedWeights(wd, mask), scaleByLearningRate(lr))`, in that order.
 * (Decaying before Adam instead would be Adam with an L2 penalty, a different optimizer.)
 */
export const adamw = (options: AdamWOptions): GradientTransformation<AdamWState> => {
  orThrow(...adamwProblems(options))
  const { lr, b1 = 0.9, b2 = 0.999, eps = 1e-8, weightDecay = 0.01, mask } = options
  return chain(scaleByAdam({ b1, b2, eps }), addDecayedWeightsAs('adamw', weightDecay, mask), scaleByLearningRateAs('adamw', lr))
}
