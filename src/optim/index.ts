/**
 * Optax-style pure optimizers over parameter trees.
 *
 * An optimizer is a {@link GradientTransformation}: `init(params) → state` and
 * `update(grads, state, params) → [updates, state]`, with the state a value (tensor trees and
 * plain numbers). Small transformations compose with {@link chain}; {@link sgd}, {@link adam}
 * and {@link adamw} are ready-made chains with PyTorch's rules and defaults; schedules are
 * plain functions of the step. See base.ts for who disposes what.
 *
 * {@link updateAndApply} is update and applyUpdates in one call, one kernel for an Adam(W) chain
 * on wasm (fused.ts).
 *
 * @example
 * const opt = chain(clipByGlobalNorm(1), adamw({ lr: warmupLinearDecay(100, 5000, 3e-4) }))
 * let state = opt.init(params)
 * const [next, nextState] = tf.tidy(() => {
 *   const [updates, s] = opt.update(grads(params), state, params)
 *   return [applyUpdates(params, updates), s]
 * })
 */
export { updateAndApply } from './fused.js'
export {
  applyUpdates,
  chain,
  disposeState,
  emptyState,
  type CountState,
  type EmptyState,
  type GradientTransformation,
  type Recipe,
} from './base.js'
export {
  addDecayedWeights,
  clipByGlobalNorm,
  decayMatrices,
  globalNorm,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  trace,
  type AdamOptions,
  type DecayMask,
  type ScaleByAdamState,
  type TraceOptions,
  type TraceState,
} from './transforms.js'
export {
  adam,
  adamw,
  sgd,
  type AdamAliasOptions,
  type AdamState,
  type AdamWOptions,
  type AdamWState,
  type LearningRate,
  type SgdOptions,
  type SgdState,
} from './alias.js'
export { constant, linearWarmup, warmupCosineDecay, warmupLinearDecay, type Schedule } from './schedules.js'
export {
  OptimizerConfig,
  decodeOptimizerConfig,
  lrFromConfig,
  optimizerFromConfig,
  type LrConfig,
  type ScheduleConfig,
} from './config.js'
