/**
 * The seed notebook's Part 1 recipe as one function: Mini-GPT trained on names with AdamW
 * (lr 1e-3, PyTorch's default weight decay 0.01), gradients clipped to norm 1, batches of 64
 * shuffled each epoch, cross-entropy ignoring PAD — and, when validation names are given, the
 * validation metric after each epoch (nats per predicted token, eval mode).
 */
import type { Key } from '../../core/key.js'
import { batches, type Batch, type Example } from '../../data/names.js'
import type { MiniGptConfig } from './config.js'
import type { MiniGptParams, MiniGptWeights } from './model.js'
import { epochBatches, namesLoss, namesNll } from './task.js'
import { adamw, chain, clipByGlobalNorm, type GradientTransformation } from '../../optim/index.js'
import { evaluateNll, type EvalResult } from '../../train/evaluate.js'
import { fit, type TrainEvent } from '../../train/loop.js'
import type { TrainState } from '../../train/step.js'

/** The seed's optimizer: clip the global norm to 1, then AdamW(lr, weight decay 0.01, eps 1e-8). */
export const seedOptimizer = (lr = 1e-3) => chain(clipByGlobalNorm(1), adamw({ lr, weightDecay: 0.01, eps: 1e-8 }))

/** The optimizer state of {@link seedOptimizer}. */
export type SeedOptState = ReturnType<ReturnType<typeof seedOptimizer>['init']>

/** A names training run. */
export interface NamesRun {
  readonly config: MiniGptConfig
  readonly train: readonly Example[]
  readonly val?: readonly Example[]
  readonly epochs: number
  readonly batchSize: number
  readonly key: Key
  readonly optimizer: GradientTransformation<SeedOptState>
  /** Batch names of similar length together (length bucketing; fewer padded positions). Default false: the seed's uniform shuffle. */
  readonly bucket?: boolean
  /** When resuming: the first epoch to run. */
  readonly startEpoch?: number
  readonly signal?: AbortSignal
}

/** The validation metric of a Mini-GPT, float or quantized, on examples (eval mode, PAD excluded, EOS included). */
export const evaluateNames = (config: MiniGptConfig, params: MiniGptWeights, examples: readonly Example[], batchSize = 256): Promise<EvalResult> =>
  evaluateNll(batches(examples, batchSize, config.pad_idx), namesNll(config, params))

/** Trains (taking ownership of `initial`) and yields the loop's events; returns the final state. */
export const trainNames = (
  run: NamesRun,
  initial: TrainState<MiniGptParams, SeedOptState>,
): AsyncGenerator<TrainEvent<MiniGptParams, SeedOptState>, TrainState<MiniGptParams, SeedOptState>> =>
  fit(namesLoss(run.config), run.optimizer, initial, {
    epochs: run.epochs,
    batchesFor: epochBatches(run.train, run.batchSize, run.config.pad_idx, run.bucket === true),
    tokensOf: (b: Batch) => b.size * b.length,
    key: run.key,
    ...(run.startEpoch !== undefined ? { startEpoch: run.startEpoch } : {}),
    ...(run.signal !== undefined ? { signal: run.signal } : {}),
    ...(run.val !== undefined && run.val.length > 0 ? { evaluate: async (p: unknown) => (await evaluateNames(run.config, p as MiniGptParams, run.val ?? [])).loss } : {}),
  })
