/**
 * Mini-GPT: the seed notebook's character-level decoder-only transformer, written with the
 * library's layers.
 *
 *   ids → embedding·√d → + sinusoidal positions → dropout
 *       → N × [x + drop(attn(norm1(x), causal mask)); x + drop(ff(norm2(x)))]
 *       → LayerNorm → linear head → logits
 *
 * The parameter tree flattens to the seed's PyTorch `state_dict` names
 * (`embedding.weight`, `layers.0.attn.W_q.weight`, `layers.0.ff.net.3.bias`, `norm.weight`,
 * `head.bias` …); linear weights are kept as [in, out] and transposed at the file boundary
 * (src/models/minigpt/checkpoint.ts). Dropout sits where the seed has it, under its modules'
 * names (`pos_encoding.dropout`, `layers.N.dropout` — applied twice, each call its own mask —,
 * `layers.N.ff.net.2` and `.4`), each drawing from the step's key at its path. The forward
 * pass takes an optional key/value cache (one per layer) for incremental decoding, can return
 * every layer's attention weights, and runs a float or a quantized tree (src/quant).
 */
import * as tf from '@tensorflow/tfjs-core'
import { checkShape } from '../../core/errors.js'
import { at, compose, named, type ApplyParamsOf, type Ctx, type ParamsOf } from '../../core/layer.js'
import { shapesOf } from '../../core/tree.js'
import { decoderMask } from '../../mask/index.js'
import { cacheLength, multiHeadAttention, type KVCache } from '../../nn/attention.js'
import { add, cacheCountError, stack, type BlockInput, type BlockOutput } from '../../nn/block.js'
import { dropout, dropoutOp } from '../../nn/dropout.js'
import { embedding } from '../../nn/embedding.js'
import { feedForward } from '../../nn/feedforward.js'
import { linear } from '../../nn/linear.js'
import { layerNorm } from '../../nn/norm.js'
import { sinusoidalTable } from '../../nn/positional.js'
import { contextLength, type MiniGptConfig } from './config.js'

/** The seed's pre-norm DecoderBlock: attn, ff, norm1, norm2 and one dropout, applied after attn and after ff. */
export const decoderBlock = (c: MiniGptConfig) => {
  const d = c.embed_dim
  const subs = { attn: multiHeadAttention(d, c.num_heads), ff: feedForward(d, c.ff_dim, c.dropout), norm1: layerNorm(d), norm2: layerNorm(d), dropout: dropout(c.dropout) }
  return compose(subs, ({ attn, ff, norm1, norm2, dropout }, input: BlockInput): BlockOutput => {
    const { output, ...rest } = attn({ ...input, x: norm1(input.x) })
    const x = add(input.x, dropout(output))
    return { ...rest, x: add(x, dropout(ff(norm2(x)))) }
  })
}

/** Input of the Mini-GPT forward pass. */
export interface MiniGptInput {
  /** Token ids [batch, length] (int32). */
  readonly ids: tf.Tensor2D
  /** Per-layer caches of earlier positions (incremental decoding); the new ids follow them. */
  readonly cache?: readonly KVCache[]
  /** An extra additive mask broadcastable to [batch, heads, length, keys] (e.g. a padding mask). */
  readonly mask?: tf.Tensor
  /** Also return every layer's attention weights [batch, heads, length, keys]. */
  readonly returnAttention?: boolean
  /** With no cache given, also return the per-layer caches of these positions, to decode on from this pass (a decoder's prefill). */
  readonly returnCache?: boolean
}

/** Output of the Mini-GPT forward pass. */
export interface MiniGptOutput {
  /** [batch, length, vocab]. */
  readonly logits: tf.Tensor3D
  /** Per-layer caches covering every position seen so far: the given ones extended, new ones when asked (`returnCache`), else none ([]). */
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/** The Mini-GPT layer for a config: `init(key)` and `apply(params, input, ctx)`. */
export const miniGpt = (c: MiniGptConfig) => {
  const positions = contextLength(c)
  // The table is a constant of the layer (PyTorch's buffer): computed once on the host, turned
  // into a tensor inside each call so that the call's scope owns it.
  const peTable = sinusoidalTable(positions, c.embed_dim)
  const subs = {
    embedding: embedding(c.vocab_size, c.embed_dim, { paddingIdx: c.pad_idx }),
    layers: stack(c.num_layers, decoderBlock(c)),
    norm: layerNorm(c.embed_dim),
    head: linear(c.embed_dim, c.vocab_size),
  }
  const model = compose(subs, ({ embedding, layers, norm, head }, input: MiniGptInput, ctx: Ctx): MiniGptOutput => {
    checkShape('minigpt', 'ids', input.ids.shape, [null, null])
    const t = input.ids.shape[1]
    const past = cacheLength(input.cache?.[0])
    if (input.cache !== undefined && input.cache.length !== c.num_layers) throw cacheCountError('minigpt', c.num_layers, input.cache.length)
    if (past + t > positions) throw new RangeError(`minigpt: ${past + t} positions exceed the model's context of ${positions} (max_len ${c.max_len} + 2)`)
    const pos = tf.tensor2d(peTable.subarray(past * c.embed_dim, (past + t) * c.embed_dim), [t, c.embed_dim])
    const x = dropoutOp(add(tf.mul<tf.Tensor3D>(embedding(input.ids), Math.sqrt(c.embed_dim)), pos), c.dropout, at(ctx, 'pos_encoding.dropout'))
    const out = layers({ x, mask: decoderMask(t, past, input.mask), cache: input.cache, returnAttention: input.returnAttention, returnCache: input.returnCache })
    const logits = head(norm(out.x))
    return input.returnAttention === true ? { logits, cache: out.cache, attention: out.attention } : { logits, cache: out.cache }
  })
  return named('minigpt', model)
}

/** Mini-GPT's parameter tree. */
export type MiniGptParams = ParamsOf<ReturnType<typeof miniGpt>>

/** The trees Mini-GPT runs: {@link MiniGptParams}, or the same tree with quantized matrices (`Quantized<MiniGptParams>`, src/quant). */
export type MiniGptWeights = ApplyParamsOf<ReturnType<typeof miniGpt>>

/** The parameter tree of a config with shape-only leaves (`shapesOf`): structure, shapes and matrix roles, nothing allocated. */
export const miniGptShapes = (c: MiniGptConfig): MiniGptParams => shapesOf(miniGpt(c))

/** Logits [batch, length, vocab] for ids [batch, length] in evaluation mode: the plain `(params, tokens) → logits`. */
export const miniGptLogits = (c: MiniGptConfig) => {
  const model = miniGpt(c)
  return (params: MiniGptWeights, ids: tf.Tensor2D, ctx: Ctx = { training: false }): tf.Tensor3D => model.apply(params, { ids }, ctx).logits
}
