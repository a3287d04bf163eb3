/**
 * Mini-GPT with quantized weights, for evaluation and generation: the embedding table (read
 * by rows), every linear layer of the blocks (W_q, W_k, W_v, W_o, ff.net.0, ff.net.3) and the
 * head are {@link QuantizedMatrix} values; the LayerNorms, biases and the sinusoidal table
 * stay float32. The graph is models/minigpt's in evaluation mode (no dropout):
 *
 *   ids → embedding[ids]·√d + positions → N × [x + attn(norm1(x)); x + ff(norm2(x))] → norm → head
 *
 * The tree keeps the seed's state_dict names (`layers.0.ff.net.3`, `head` …), so a quantized
 * checkpoint names its tensors as the float one does.
 */
import * as tf from '@tensorflow/tfjs-core'
import { checkShape } from '../core/errors.js'
import type { Batch, Example } from '../data/names.js'
import { batches } from '../data/names.js'
import { causalMask } from '../mask/index.js'
import { geluErf } from '../nn/activation.js'
import { attendCached, cacheLength, extendCache, mergeHeads, splitHeads, type KVCache } from '../nn/attention.js'
import { normalize, type LayerNormParams } from '../nn/norm.js'
import { sinusoidalTable } from '../nn/positional.js'
import { contextLength, type MiniGptConfig } from '../models/minigpt/config.js'
import type { MiniGptParams } from '../models/minigpt/model.js'
import { batchTensors } from '../models/minigpt/task.js'
import type { DecoderModel } from '../sample/model.js'
import { tfjsDecoder, type LayerCaches } from '../models/tfjs-decoder.js'
import { evaluateNll, type EvalResult } from '../train/evaluate.js'
import { nllSum } from '../train/loss.js'
import { disposeQuantTree, quantizedDense, quantizedLookup, quantizeLinear, uploadQuantized, type QuantLinear, type QuantizedMatrix } from './matrix.js'
import { quantizeRows, type QuantFormat } from './quantize.js'

/** One quantized decoder block (the seed's names). */
export interface QuantMiniGptBlock {
  readonly attn: { readonly W_q: QuantLinear; readonly W_k: QuantLinear; readonly W_v: QuantLinear; readonly W_o: QuantLinear }
  readonly ff: { readonly net: { readonly 0: QuantLinear; readonly 3: QuantLinear } }
  readonly norm1: LayerNormParams
  readonly norm2: LayerNormParams
}

/** Mini-GPT's parameters with quantized matrices. */
export interface QuantMiniGptParams {
  readonly format: QuantFormat
  readonly embedding: QuantizedMatrix
  readonly layers: readonly QuantMiniGptBlock[]
  readonly norm: LayerNormParams
  readonly head: QuantLinear
}

const cloneNorm = (n: LayerNormParams): LayerNormParams => ({ weight: tf.clone(n.weight), bias: tf.clone(n.bias) })

/** Quantizes a float Mini-GPT tree (left untouched, still the caller's). */
export const quantizeMiniGpt = (params: MiniGptParams, format: QuantFormat): QuantMiniGptParams => {
  const lin = (l: { readonly weight: tf.Tensor2D; readonly bias: tf.Tensor1D }) => quantizeLinear(format, l.weight, l.bias)
  const [vocab, dim] = params.embedding.weight.shape
  return {
    format,
    embedding: uploadQuantized(quantizeRows(format, params.embedding.weight.dataSync() as Float32Array, vocab, dim)),
    layers: params.layers.map((l) => ({
      attn: { W_q: lin(l.attn.W_q), W_k: lin(l.attn.W_k), W_v: lin(l.attn.W_v), W_o: lin(l.attn.W_o) },
      ff: { net: { 0: lin(l.ff.net[0] as MiniGptParams['head']), 3: lin(l.ff.net[3] as MiniGptParams['head']) } },
      norm1: cloneNorm(l.norm1),
      norm2: cloneNorm(l.norm2),
    })),
    norm: cloneNorm(params.norm),
    head: lin(params.head),
  }
}

/** Frees a quantized Mini-GPT's tensors. */
export const disposeQuantMiniGpt = (p: QuantMiniGptParams): void => disposeQuantTree(p)

/** The quantized forward pass: logits [batch, length, vocab] and the caches extended by `ids`. */
export const quantMiniGpt = (c: MiniGptConfig) => {
  const positions = contextLength(c)
  const table = sinusoidalTable(positions, c.embed_dim)
  const q = quantizedDense
  return (p: QuantMiniGptParams, ids: tf.Tensor2D, cache?: readonly KVCache[]): { readonly logits: tf.Tensor3D; readonly cache: readonly KVCache[] } => {
    checkShape('minigpt', 'ids', ids.shape, [null, null])
    const t = ids.shape[1]
    const past = cacheLength(cache?.[0])
    if (past + t > positions) throw new RangeError(`minigpt: ${past + t} positions exceed the model's context of ${positions} (max_len ${c.max_len} + 2)`)
    const emb = tf.mul(quantizedLookup(p.embedding, ids), Math.sqrt(c.embed_dim))
    let x = tf.add(emb, tf.tensor2d(table.subarray(past * c.embed_dim, (past + t) * c.embed_dim), [t, c.embed_dim]))
    const mask = t === 1 ? undefined : causalMask(t, past + t)
    const caches: KVCache[] = []
    p.layers.forEach((l, i) => {
      const h = normalize(x, l.norm1.weight, l.norm1.bias)
      const kv = extendCache(cache?.[i], splitHeads(q(h, l.attn.W_k), c.num_heads), splitHeads(q(h, l.attn.W_v), c.num_heads))
      caches.push(kv)
      const a = q(mergeHeads(attendCached(splitHeads(q(h, l.attn.W_q), c.num_heads), kv, mask).output as tf.Tensor4D), l.attn.W_o)
      const x1 = tf.add(x, a)
      x = tf.add(x1, q(geluErf(q(normalize(x1, l.norm2.weight, l.norm2.bias), l.ff.net[0])), l.ff.net[3]))
    })
    return { logits: q(normalize(x, p.norm.weight, p.norm.bias), p.head) as tf.Tensor3D, cache: caches }
  }
}

/** The validation metric (evaluateNames's: eval mode, PAD excluded, EOS included) of a quantized Mini-GPT. */
export const evaluateQuantNames = (c: MiniGptConfig, p: QuantMiniGptParams, examples: readonly Example[], batchSize = 256): Promise<EvalResult> => {
  const forward = quantMiniGpt(c)
  return evaluateNll(batches(examples, batchSize, c.pad_idx), (batch: Batch) => {
    const { ids, targets } = batchTensors(batch)
    return nllSum(forward(p, ids).logits, targets, c.pad_idx)
  })
}

/** A quantized Mini-GPT as a decoder for the generation engine (the parameters stay the caller's). */
export const quantMiniGptDecoder = (c: MiniGptConfig, p: QuantMiniGptParams): DecoderModel<LayerCaches> =>
  tfjsDecoder(quantMiniGpt(c), p, { vocabSize: c.vocab_size, contextLength: contextLength(c) })
