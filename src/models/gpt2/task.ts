/**
 * Fine-tuning GPT-2 on a text file as the seed notebook does with Hugging Face (Part 2, §10):
 *
 *   TextDataset(file, block_size)        → {@link lmBlocks}: the whole text tokenized as one
 *                                          stream, cut into blocks of block_size tokens, the
 *                                          remainder dropped
 *   DataCollatorForLanguageModeling(mlm=False)
 *                                        → labels = the inputs (pad tokens ignored; the seed
 *                                          sets pad = eos), shifted inside the model
 *   GPT2LMHeadModel(labels=…)            → {@link gpt2LmLoss}: mean cross-entropy of
 *                                          logits[:, :-1] against ids[:, 1:]
 *   Trainer(num_train_epochs=3, per_device_train_batch_size=8, learning_rate=5e-5,
 *           warmup_steps=100)            → {@link finetuneOptimizer} (AdamW, weight decay 0,
 *                                          linear warmup then linear decay to 0, gradients
 *                                          clipped to norm 1) and {@link lmEpochBatches}
 *                                          (a keyed shuffle each epoch, the last batch smaller),
 *                                          driven by `fit` (src/train/loop.ts); or
 *                                          {@link finetuneStep}, the same step computed one
 *                                          parameter at a time, with `fitWith`, which 124M
 *                                          needs to fit in the wasm heap
 *
 * Dropout is on while training, at the config's rates (0.1), as in the Trainer.
 */
import * as tf from '@tensorflow/tfjs-core'
import { permutation, type Key } from '../../core/key.js'
import { EVAL, type Ctx } from '../../core/layer.js'
import { adamw, chain, clipByGlobalNorm, scale, warmupLinearDecay } from '../../optim/index.js'
import { leafwiseStep } from '../../train/leafwise.js'
import type { NllSum } from '../../train/loss.js'
import { tiedHeadNll } from '../../train/tied-head.js'
import type { Gpt2Config } from './config.js'
import { gpt2Trunk, type Gpt2Params } from './model.js'

/**
 * A token stream cut into consecutive blocks of `blockSize` tokens; the tokens after the last
 * full block are dropped (Hugging Face's TextDataset). Fewer than `blockSize` tokens give no block.
 */
export const lmBlocks = (ids: readonly number[], blockSize: number): number[][] => {
  if (!Number.isInteger(blockSize) || blockSize < 2) throw new RangeError(`lmBlocks: blockSize must be an integer >= 2, got ${blockSize}`)
  const out: number[][] = []
  for (let i = 0; i + blockSize <= ids.length; i += blockSize) out.push(ids.slice(i, i + blockSize))
  return out
}

/** A batch of equal-length blocks as host ints, row-major [size, length]. */
export interface LmBatch {
  readonly size: number
  readonly length: number
  readonly ids: Int32Array
}

/** Blocks (all of one length) as a batch. */
export const lmBatch = (blocks: readonly (readonly number[])[]): LmBatch => {
  if (blocks.length === 0) throw new RangeError('lmBatch: no blocks')
  const length = blocks[0].length
  const ids = new Int32Array(blocks.length * length)
  blocks.forEach((b, i) => {
    if (b.length !== length) throw new RangeError(`lmBatch: block ${i} has ${b.length} tokens, block 0 has ${length}`)
    ids.set(b, i * length)
  })
  return { size: blocks.length, length, ids }
}

/**
 * An epoch's batches: the blocks in an order drawn from the epoch's key, cut into batches of
 * `batchSize` (the last one smaller, as a DataLoader without drop_last). For `fit`'s `batchesFor`.
 */
export const lmEpochBatches =
  (blocks: readonly (readonly number[])[], batchSize: number) =>
  (_epoch: number, key: Key): LmBatch[] => {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`lmEpochBatches: batchSize must be a positive integer, got ${batchSize}`)
    const order = permutation(key, blocks.length)
    const out: LmBatch[] = []
    for (let i = 0; i < order.length; i += batchSize) out.push(lmBatch(Array.from(order.subarray(i, i + batchSize), (j) => blocks[j])))
    return out
  }

/** Optimizer steps of a run: ⌈blocks / batchSize⌉ per epoch (what the Trainer's schedule spans). */
export const lmSteps = (blocks: number, batchSize: number, epochs: number): number => Math.ceil(blocks / batchSize) * epochs

/**
 * The targets of a batch for the causal LM loss: ids shifted left by one, with -100 (ignored)
 * in the last column and wherever the target is `padTokenId`.
 */
export const lmTargets = (batch: LmBatch, padTokenId?: number): Int32Array => {
  const { size, length, ids } = batch
  const out = new Int32Array(size * length).fill(-100)
  for (let r = 0; r < size; r++) {
    for (let j = 0; j + 1 < length; j++) {
      const t = ids[r * length + j + 1]
      if (t !== padTokenId) out[r * length + j] = t
    }
  }
  return out
}

/** Options of {@link gpt2LmLoss}. */
export interface LmLossOptions {
  /** Targets equal to this id are ignored (DataCollatorForLanguageModeling's rule for pad tokens). */
  readonly padTokenId?: number
  /** One dropout rate for all kinds, instead of the config's. */
  readonly dropout?: number
  /** Rematerialise the blocks (`Gpt2TrunkOptions.remat`): less memory, a third more compute. Default false. */
  readonly remat?: boolean
}

const batchTensors = (batch: LmBatch, padTokenId?: number) => ({
  ids: tf.tensor2d(batch.ids, [batch.size, batch.length], 'int32'),
  targets: tf.tensor1d(lmTargets(batch, padTokenId), 'int32'),
})

/** The summed NLL of a batch under a model's trunk and its tied head (the head fused with the loss: `tiedHeadNll`). */
const batchNll = (trunk: ReturnType<typeof gpt2Trunk>, c: Gpt2Config, params: Gpt2Params, batch: LmBatch, ctx: Ctx, padTokenId?: number): NllSum => {
  const { ids, targets } = batchTensors(batch, padTokenId)
  const hidden = tf.reshape(trunk.apply(params, { ids }, ctx).hidden, [-1, c.n_embd]) as tf.Tensor2D
  return tiedHeadNll(hidden, params.wte.weight, targets)
}

/**
 * GPT2LMHeadModel's loss with labels = input ids: the mean next-token cross-entropy over the
 * batch's predicted positions (block_size − 1 per block, fewer if pad targets are ignored).
 * A {@link LossFn} for `trainStep` / `fit`. The tied head is fused with the cross-entropy
 * (`tiedHeadNll`), which keeps a 124M training step within wasm's memory.
 */
export const gpt2LmLoss = (c: Gpt2Config, options: LmLossOptions = {}) => {
  const trunk = gpt2Trunk(c, { dropout: options.dropout, remat: options.remat })
  return (params: Gpt2Params, batch: LmBatch, ctx: Ctx): tf.Scalar => {
    const { sum, count } = batchNll(trunk, c, params, batch, ctx, options.padTokenId)
    return tf.div(sum, tf.maximum(count, 1)) as tf.Scalar
  }
}

/** The summed NLL of a batch in evaluation mode and its number of predicted tokens (for scores and validation). */
export const gpt2Nll = (c: Gpt2Config, params: Gpt2Params, padTokenId?: number) => {
  const trunk = gpt2Trunk(c)
  return (batch: LmBatch): NllSum => batchNll(trunk, c, params, batch, EVAL, padTokenId)
}

/** Hyper-parameters of {@link finetuneOptimizer}; the defaults are the HF Trainer's. */
export interface FinetuneOptions {
  /** Peak learning rate (default 5e-5). */
  readonly lr?: number
  /** Linear warmup steps (default 0; the seed uses 100). */
  readonly warmup?: number
  /** All optimizer steps of the run: the schedule decays to 0 there. */
  readonly totalSteps: number
  /** Gradient clipping by global norm (default 1, the Trainer's max_grad_norm; 0 turns it off). */
  readonly maxGradNorm?: number
  /** AdamW's decoupled weight decay (default 0, the Trainer's). */
  readonly weightDecay?: number
}

const trainerAdamw = (o: FinetuneOptions) =>
  adamw({ lr: warmupLinearDecay(o.warmup ?? 0, Math.max(o.totalSteps, o.warmup ?? 0), o.lr ?? 5e-5), weightDecay: o.weightDecay ?? 0, eps: 1e-8 })

/**
 * The HF Trainer's optimizer: gradients clipped to global norm 1, then AdamW (β 0.9/0.999,
 * ε 1e-8, weight decay 0) with `get_linear_schedule_with_warmup` — 0 → lr over `warmup`
 * steps, then linearly to 0 at `totalSteps`.
 */
export const finetuneOptimizer = (o: FinetuneOptions) => {
  const clip = o.maxGradNorm ?? 1
  return chain(clip > 0 ? clipByGlobalNorm(clip) : scale(1), trainerAdamw(o))
}

/**
 * The fine-tuning step with {@link finetuneOptimizer}'s arithmetic, made to fit GPT-2 124M
 * with AdamW in the wasm heap: the optimizer runs one parameter at a time (`leafwiseStep`,
 * donating the old state: a step consumes the state it is given, as `stepTrainer` expects)
 * and the blocks are rematerialised (`remat`, on unless `remat: false`). `{ init, step }`
 * for `fitWith` / `stepTrainer`. The loss is {@link gpt2LmLoss}.
 */
export const finetuneStep = (c: Gpt2Config, o: FinetuneOptions & LmLossOptions) =>
  leafwiseStep(gpt2LmLoss(c, { ...o, remat: o.remat ?? true }), trainerAdamw(o), { maxGradNorm: o.maxGradNorm ?? 1, donate: true })
