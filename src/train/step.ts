/**
 * One training step as a pure function: (params, optimizer state, batch, key) → the new
 * params, the new state and the loss. The step runs in its own scope; the caller owns the
 * old and the new values (see src/core/scope.ts) — {@link trainer} does that bookkeeping.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { valueAndGrad } from '../core/grad.js'
import type { Key } from '../core/key.js'
import { training, type Ctx } from '../core/layer.js'
import { replace, scoped } from '../core/scope.js'
import type { GradientTransformation } from '../optim/base.js'
import { updateAndApply } from '../optim/fused.js'

/** A loss: a scalar from parameters, a batch and a context (training mode, dropout key). */
export type LossFn<P, B> = (params: P, batch: B, ctx: Ctx) => tf.Scalar

/** What a training step carries from one step to the next. */
export interface TrainState<P, S> {
  readonly params: P
  readonly opt: S
}

/** The result of one step: the next state and the batch's loss (a scalar tensor). */
export interface StepResult<P, S> {
  readonly state: TrainState<P, S>
  readonly loss: tf.Scalar
}

/**
 * The pure step: gradients of the loss, the optimizer's updates, the new parameters. Where the
 * optimizer is an Adam(W) chain and the backend has the kernel (optim/fused.ts), the update and
 * its application are one pass over the tree.
 */
export const trainStep =
  <P, B, S>(loss: LossFn<P, B>, optimizer: GradientTransformation<S>) =>
  (state: TrainState<P, S>, batch: B, key: Key): StepResult<P, S> =>
    scoped(() => {
      const { value, grads } = valueAndGrad((p: P) => loss(p, batch, training(key)))(state.params)
      const [params, opt] = updateAndApply(optimizer, grads, state.opt, state.params)
      return { state: { params, opt }, loss: value }
    })

/** A training step: the next state and the loss from a state, a batch and a key (see {@link trainStep}, {@link leafwiseStep}). */
export type StepFn<P, B, S> = (state: TrainState<P, S>, batch: B, key: Key) => StepResult<P, S>

/**
 * Runs a step function and owns its memory: each call replaces the held state by the next
 * one and disposes what the old one no longer shares, so the tensor count stays flat.
 */
export const stepTrainer = <P, B, S>(step: StepFn<P, B, S>, initial: TrainState<P, S>) => {
  let state = initial
  return {
    /** The current parameters and optimizer state (owned by the trainer; do not dispose). */
    get state(): TrainState<P, S> {
      return state
    },
    /** One step on a batch; resolves to the batch's loss as a number. */
    async step(batch: B, key: Key): Promise<number> {
      const r = step(state, batch, key)
      state = replace(state, r.state)
      const [l] = await r.loss.data()
      r.loss.dispose()
      return l
    },
  }
}

/** {@link stepTrainer} of {@link trainStep}: runs `optimizer` on `loss` and owns the memory. */
export const trainer = <P, B, S>(loss: LossFn<P, B>, optimizer: GradientTransformation<S>, initial: TrainState<P, S>) => stepTrainer(trainStep(loss, optimizer), initial)
