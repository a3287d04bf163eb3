/**
 * The training loop as a stream of events.
 *
 * `fit` yields an event after every step and every epoch, so whoever drives it decides what
 * to do with progress — the CLI draws a bar and writes checkpoints, a web worker posts
 * messages, a test just counts. The loop itself does no I/O.
 *
 * Randomness is keyed per epoch and per step (`foldIn(foldIn(key, epoch), step)`), so a run
 * resumed at epoch e from a checkpoint of epoch e − 1 continues exactly as the uninterrupted
 * run would have.
 */
import { foldIn, type Key } from '../core/key.js'
import type { GradientTransformation } from '../optim/base.js'
import { stepTrainer, trainStep, type LossFn, type StepFn, type TrainState } from './step.js'

/** How to train. */
export interface FitOptions<B> {
  /** Number of epochs in the whole run (epochs before `startEpoch` count as done). */
  readonly epochs: number
  /** The batches of an epoch, from that epoch's key (shuffle with it). */
  readonly batchesFor: (epoch: number, key: Key) => readonly B[]
  /** Tokens in a batch (for tokens/s). */
  readonly tokensOf: (batch: B) => number
  /** The run's key. */
  readonly key: Key
  /** First epoch to run (0-based), when resuming. */
  readonly startEpoch?: number
  /** Called after each epoch with the parameters: the validation loss, if any. */
  readonly evaluate?: (params: unknown) => Promise<number | undefined>
  /** Stops the loop between steps. */
  readonly signal?: AbortSignal
}

/** Emitted after each step. */
export interface StepEvent {
  readonly type: 'step'
  readonly epoch: number
  readonly step: number
  readonly stepsPerEpoch: number
  readonly loss: number
  /** Tokens per second over the epoch so far. */
  readonly tokensPerSecond: number
  /** Seconds since the epoch started. */
  readonly seconds: number
}

/** Emitted after each epoch, with the state to checkpoint (owned by the loop: copy or save it, do not dispose it). */
export interface EpochEvent<P, S> {
  readonly type: 'epoch'
  readonly epoch: number
  readonly epochs: number
  /** The notebook's metric: the mean of the batch losses (dropout on). */
  readonly trainLoss: number
  readonly valLoss?: number
  readonly seconds: number
  readonly tokensPerSecond: number
  readonly state: TrainState<P, S>
}

/** The events of {@link fit}. */
export type TrainEvent<P, S> = StepEvent | EpochEvent<P, S>

/**
 * Trains `initial` (which the loop takes ownership of) and yields events; returns the final
 * state, which the caller then owns.
 */
export function fit<P, B, S>(
  loss: LossFn<P, B>,
  optimizer: GradientTransformation<S>,
  initial: TrainState<P, S>,
  options: FitOptions<B>,
): AsyncGenerator<TrainEvent<P, S>, TrainState<P, S>> {
  return fitWith(trainStep(loss, optimizer), initial, options)
}

/**
 * {@link fit} with any step function (e.g. `leafwiseStep`, for models near the memory limit):
 * the same events, keys and ownership.
 */
export async function* fitWith<P, B, S>(step: StepFn<P, B, S>, initial: TrainState<P, S>, options: FitOptions<B>): AsyncGenerator<TrainEvent<P, S>, TrainState<P, S>> {
  const t = stepTrainer(step, initial)
  for (let epoch = options.startEpoch ?? 0; epoch < options.epochs; epoch++) {
    const epochKey = foldIn(options.key, epoch)
    const batches = options.batchesFor(epoch, foldIn(epochKey, -1))
    const start = performance.now()
    let tokens = 0
    let lossSum = 0
    for (const [i, batch] of batches.entries()) {
      if (options.signal?.aborted === true) return t.state
      const l = await t.step(batch, foldIn(epochKey, i))
      lossSum += l
      tokens += options.tokensOf(batch)
      const seconds = (performance.now() - start) / 1000
      yield { type: 'step', epoch, step: i, stepsPerEpoch: batches.length, loss: l, tokensPerSecond: tokens / seconds, seconds }
    }
    const seconds = (performance.now() - start) / 1000
    const valLoss = options.evaluate === undefined ? undefined : await options.evaluate(t.state.params)
    yield {
      type: 'epoch',
      epoch,
      epochs: options.epochs,
      trainLoss: lossSum / Math.max(batches.length, 1),
      ...(valLoss === undefined ? {} : { valLoss }),
      seconds,
      tokensPerSecond: tokens / seconds,
      state: t.state,
    }
  }
  return t.state
}
