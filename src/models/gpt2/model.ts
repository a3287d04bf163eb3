/**
 * GPT-2 in the library's layers — the graph of Hugging Face's GPT2LMHeadModel:
 *
 *   ids → wte[ids] + wpe[positions]
 *       → n_layer × [x + attn(ln_1(x)); x + mlp(ln_2(x))]      attn: fused c_attn, causal
 *       → ln_f → logits = x · wteᵀ (the head is tied to the token embedding)
 *
 * The parameter tree flattens to Hugging Face's names (`wte.weight`, `h.0.attn.c_attn.weight`,
 * `h.11.mlp.c_proj.bias`, `ln_f.weight` …) with their Conv1D layouts ([in, out]), so loading
 * a checkpoint is flatten/unflatten plus validation. Dropout is applied in training mode at
 * Hugging Face's four places, with the config's rates (0.1 for GPT-2): the embeddings
 * (embd_pdrop), the attention probabilities (attn_pdrop), the attention and MLP outputs
 * (resid_pdrop).
 */
import * as tf from '@tensorflow/tfjs-core'
import { checkShape } from '../../core/errors.js'
import { normal } from '../../core/key.js'
import { compose, fold, type Layer, type ParamsOf, type TensorLayer } from '../../core/layer.js'
import { count, param, shapesOf } from '../../core/tree.js'
import { decoderMask } from '../../mask/index.js'
import { elementwise, geluErf, geluTanh } from '../../nn/activation.js'
import { attendSplitHeads, cacheLength, splitFusedHeads, type KVCache, type MhaInput, type MhaOutput } from '../../nn/attention.js'
import { add, rematerialised, stack, type BlockInput, type BlockOutput } from '../../nn/block.js'
import { dropoutOp, dropouts } from '../../nn/dropout.js'
import { embedding } from '../../nn/embedding.js'
import { linear, type LinearParams } from '../../nn/linear.js'
import { matmul2d } from '../../nn/matmul.js'
import { layerNorm } from '../../nn/norm.js'
import { innerDim, type Gpt2Config } from './config.js'

/** GPT-2's Conv1D: a linear map with weight [in, out] initialised N(0, std²) (std = initializer_range, 0.02), zero bias. */
const conv1d = (inDim: number, outDim: number, name: string, std: number): TensorLayer<LinearParams> => ({
  ...linear(inDim, outDim, name),
  init: (k) => Object.freeze({ weight: param([inDim, outDim], () => normal(k, inDim * outDim, std)), bias: param([outDim], () => new Float32Array(outDim)) }),
})

const activation = (c: Gpt2Config) => elementwise(c.activation_function === 'gelu' ? geluErf : c.activation_function === 'relu' ? tf.relu : geluTanh)

/** GPT-2's attention: one fused c_attn [E, 3E] for q, k, v; heads; the mask; dropout on the probabilities; c_proj. */
export const fusedSelfAttention = (e: number, heads: number, std: number, projStd: number, attnDropout = 0) => {
  const subs = { c_attn: conv1d(e, 3 * e, 'attn.c_attn', std), c_proj: conv1d(e, e, 'attn.c_proj', projStd) }
  return compose('attn', subs, ({ c_attn, c_proj }, input: MhaInput, ctx): MhaOutput => {
    const [q, k, v] = splitFusedHeads(c_attn(input.x), 3, heads)
    const drop = dropouts(attnDropout, ctx, 'h.attn.attn_dropout')
    const a = attendSplitHeads(q, k, v, input, ctx.training && attnDropout > 0 ? (w) => drop(2, w) : undefined)
    return { ...a, output: c_proj(a.output) }
  })
}

/** Dropout rates of the three kinds Hugging Face's GPT-2 has. */
export interface Gpt2Dropout {
  readonly embd: number
  readonly attn: number
  readonly resid: number
}

/** The config's dropout rates (GPT2Config's defaults, 0.1, where absent), or one rate for all three. */
export const gpt2Dropout = (c: Gpt2Config, rate?: number): Gpt2Dropout =>
  rate !== undefined ? { embd: rate, attn: rate, resid: rate } : { embd: c.embd_pdrop ?? 0.1, attn: c.attn_pdrop ?? 0.1, resid: c.resid_pdrop ?? 0.1 }

/** GPT-2's MLP: c_fc, the activation, c_proj. */
const mlp = (c: Gpt2Config, std: number, projStd: number) => {
  const act = activation(c)
  const subs = { c_fc: conv1d(c.n_embd, innerDim(c), 'mlp.c_fc', std), c_proj: conv1d(innerDim(c), c.n_embd, 'mlp.c_proj', projStd) }
  return compose('mlp', subs, ({ c_fc, c_proj }, x: tf.Tensor3D) => c_proj(act(c_fc(x))))
}

/** One transformer block: ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj). Input and output as Mini-GPT's blocks. */
export const gpt2Block = (c: Gpt2Config, dropout: Gpt2Dropout = gpt2Dropout(c)) => {
  const eps = c.layer_norm_epsilon ?? 1e-5
  const std = c.initializer_range ?? 0.02
  const projStd = std / Math.sqrt(2 * c.n_layer) // GPT-2 scales the init of residual projections by 1/√(2·n_layer)
  const subs = {
    ln_1: layerNorm(c.n_embd, eps, 'ln_1'),
    attn: fusedSelfAttention(c.n_embd, c.n_head, std, projStd, dropout.attn),
    ln_2: layerNorm(c.n_embd, eps, 'ln_2'),
    mlp: mlp(c, std, projStd),
  }
  return compose('h', subs, ({ ln_1, attn, ln_2, mlp }, input: BlockInput, ctx): BlockOutput => {
    const drop = dropouts(dropout.resid, ctx, 'h.resid_dropout')
    const { output, ...rest } = attn({ ...input, x: ln_1(input.x) })
    const x = add(input.x, drop(0, output))
    return { ...rest, x: add(x, drop(1, mlp(ln_2(x)))) }
  })
}

/** Input of the GPT-2 forward pass. */
export interface Gpt2Input {
  /** Token ids [batch, length] (int32). */
  readonly ids: tf.Tensor2D
  /** Per-layer caches of the positions before `ids`. */
  readonly cache?: readonly KVCache[]
  /** An extra additive mask broadcastable to [batch, heads, length, keys]. */
  readonly mask?: tf.Tensor
  readonly returnAttention?: boolean
  /**
   * The token embeddings of `ids` [batch, length, n_embd], when the caller has them (a decoder
   * keeping wteᵀ reads them from its columns, `embedTransposed`); otherwise wte[ids]. When
   * given, `p.wte` is not read: a decoder may keep wteᵀ alone (`gpt2Decoder`'s `ownsParams`).
   */
  readonly tokens?: tf.Tensor3D
}

/** Output of the GPT-2 forward pass. */
export interface Gpt2Output {
  readonly logits: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/** Output of {@link gpt2Trunk}: the final hidden states (after ln_f), before the head. */
export interface Gpt2TrunkOutput {
  /** [batch, length, n_embd]. */
  readonly hidden: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/** How {@link gpt2Trunk} runs. */
export interface Gpt2TrunkOptions {
  /** One dropout rate for all three kinds, instead of the config's. */
  readonly dropout?: number
  /**
   * Rematerialise the blocks (`rematerialised` in nn/block.ts): a training pass keeps only each
   * block's input and recomputes the block in the backward pass — less memory, about a third
   * more compute. Such a trunk returns no cache and no attention weights, and takes no cache.
   */
  readonly remat?: boolean
}

/**
 * GPT-2 without its head: embeddings, blocks, ln_f. Same parameters as {@link gpt2} (the
 * head has none of its own). A loss that fuses the tied head with the cross-entropy starts
 * here (src/train/tied-head.ts), so training never materialises wteᵀ.
 */
export const gpt2Trunk = (c: Gpt2Config, options: Gpt2TrunkOptions = {}) => {
  const rates = gpt2Dropout(c, options.dropout)
  const block = gpt2Block(c, rates)
  const std = c.initializer_range ?? 0.02
  const subs = {
    wte: embedding(c.vocab_size, c.n_embd, { std, name: 'wte' }),
    wpe: embedding(c.n_positions, c.n_embd, { std, name: 'wpe' }),
    h: stack(c.n_layer, options.remat === true ? rematerialised(block) : block),
    ln_f: layerNorm(c.n_embd, c.layer_norm_epsilon ?? 1e-5, 'ln_f'),
  }
  return compose('gpt2', subs, ({ wte, wpe, h, ln_f }, input: Gpt2Input, ctx): Gpt2TrunkOutput => {
    checkShape('gpt2', 'ids', input.ids.shape, [null, null])
    const t = input.ids.shape[1]
    const past = cacheLength(input.cache?.[0])
    if (past + t > c.n_positions) throw new RangeError(`gpt2: ${past + t} positions exceed n_positions=${c.n_positions}`)
    const positions = tf.reshape<tf.Rank.R2>(tf.range(past, past + t, 1, 'int32'), [1, t])
    const x = dropoutOp(add(input.tokens ?? wte(input.ids), wpe(positions)), rates.embd, fold(ctx, 0), 'drop')
    const out = h({ x, mask: decoderMask(t, past, input.mask), cache: input.cache, returnAttention: input.returnAttention })
    const hidden = ln_f(out.x)
    return input.returnAttention === true ? { hidden, cache: out.cache, attention: out.attention } : { hidden, cache: out.cache }
  })
}

/** The tied head: logits = hidden · wteᵀ, for hidden [batch, length, n_embd] and wteᵀ [n_embd, vocab]. */
export const tiedHead = (hidden: tf.Tensor3D, wteT: tf.Tensor2D): tf.Tensor3D => {
  const [b, t, e] = hidden.shape
  return tf.reshape<tf.Rank.R3>(matmul2d(tf.reshape<tf.Rank.R2>(hidden, [b * t, e]), wteT), [b, t, wteT.shape[1]])
}

/**
 * The GPT-2 layer for a config: {@link gpt2Trunk} and the head tied to the token embedding,
 * logits = hidden · wteᵀ. Dropout (training mode only) uses the config's rates, or `dropout`
 * for all three kinds when given.
 */
export const gpt2 = (c: Gpt2Config, dropout?: number): Layer<Gpt2Params, Gpt2Input, Gpt2Output> => {
  const trunk = gpt2Trunk(c, { dropout })
  return {
    name: 'gpt2',
    init: trunk.init,
    apply: (p, input, ctx) => {
      const { hidden, ...rest } = trunk.apply(p, input, ctx)
      return { ...rest, logits: tiedHead(hidden, tf.transpose(p.wte.weight)) }
    },
  }
}

/** GPT-2's parameter tree (Hugging Face names without the `transformer.` prefix). */
export type Gpt2Params = ParamsOf<ReturnType<typeof gpt2Trunk>>

/**
 * The parameter tree of a config with shape-only leaves ({@link shapesOf} of `gpt2(c).init`):
 * the structure and shapes it makes, without allocating or drawing anything. Loaders validate
 * a checkpoint against it (`tree.unflattenLike`), and `tree.count(gpt2Shapes(c))` counts the
 * parameters of a 1.5B preset in microseconds.
 */
export const gpt2Shapes = (c: Gpt2Config): Gpt2Params => shapesOf(gpt2Trunk(c))

/** The number of parameters of a config (the tied head counted once, as Hugging Face does). */
export const gpt2ParamCount = (c: Gpt2Config): number => count(gpt2Shapes(c))
