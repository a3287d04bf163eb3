/**
 * Mini-GPT on names: the glue between the data (names → batches), the model (logits) and
 * training (the loss, the validation metric).
 */
import * as tf from '@tensorflow/tfjs-core'
import type { Key } from '../../core/key.js'
import type { Ctx } from '../../core/layer.js'
import { batches, bucketBatches, encodeExample, shuffle, type Batch, type Example } from '../../data/names.js'
import type { CharVocab } from '../../data/vocab.js'
import { crossEntropy, nllSum, type NllSum } from '../../train/loss.js'
import type { MiniGptConfig } from './config.js'
import { miniGpt, type MiniGptParams, type MiniGptWeights } from './model.js'

/** A batch's ids and targets as int32 tensors [size, length]. */
export const batchTensors = (b: Batch): { readonly ids: tf.Tensor2D; readonly targets: tf.Tensor2D } => ({
  ids: tf.tensor2d(b.input, [b.size, b.length], 'int32'),
  targets: tf.tensor2d(b.target, [b.size, b.length], 'int32'),
})

/** The training loss: mean cross-entropy over non-PAD targets (PyTorch's CrossEntropyLoss(ignore_index=PAD)). */
export const namesLoss = (c: MiniGptConfig) => {
  const model = miniGpt(c)
  return (params: MiniGptParams, batch: Batch, ctx: Ctx): tf.Scalar => {
    const { ids, targets } = batchTensors(batch)
    return crossEntropy(model.apply(params, { ids }, ctx).logits, targets, c.pad_idx)
  }
}

/** The summed NLL of a batch in eval mode (for the validation metric), of a float or a quantized tree. */
export const namesNll = (c: MiniGptConfig, params: MiniGptWeights) => {
  const model = miniGpt(c)
  return (batch: Batch): NllSum => {
    const { ids, targets } = batchTensors(batch)
    return nllSum(model.apply(params, { ids }, { training: false }).logits, targets, c.pad_idx)
  }
}

/** Names → examples with the seed's encoding (names must use only the vocabulary's characters). */
export const namesExamples = (vocab: CharVocab, names: readonly string[], c: MiniGptConfig) => names.map((n) => encodeExample(vocab, n, c.max_len))

/**
 * An epoch's batches: the examples shuffled with the epoch's key, cut into padded batches, or
 * with `bucket`, batched by length ({@link bucketBatches}) so that batches pad less.
 */
export const epochBatches =
  (examples: readonly Example[], batchSize: number, padIdx: number, bucket = false) =>
  (_epoch: number, key: Key): Batch[] =>
    bucket ? bucketBatches(key, examples, batchSize, padIdx) : batches(shuffle(key, examples), batchSize, padIdx)

/**
 * Every layer's attention weights for one token sequence in eval mode, as plain numbers:
 * [layer][head][query][key] (for pictures and for tests).
 */
export const attentionMaps = async (c: MiniGptConfig, params: MiniGptParams, ids: readonly number[]): Promise<number[][][][]> => {
  const model = miniGpt(c)
  const att = tf.tidy(() => {
    const out = model.apply(params, { ids: tf.tensor2d([[...ids]], [1, ids.length], 'int32'), returnAttention: true }, { training: false })
    return tf.stack((out.attention ?? []).map((a) => tf.squeeze(a, [0])))
  })
  // Read asynchronously: a synchronous read stalls GPU backends (and fails on webgpu in Node, which has no OffscreenCanvas).
  const arr = (await att.array()) as number[][][][]
  att.dispose()
  return arr
}
