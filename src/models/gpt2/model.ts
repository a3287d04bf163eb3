/**
 * GPT-2 in the library's layers — the graph of Hugging Face's GPT2LMHeadModel:
 *
 *   ids → wte[ids] + wpe[positions]
 *       → n_layer × [x + attn(ln_1(x)); x + mlp(ln_2(x))]      attn: fused c_attn, causal
 *       → ln_f → logits = x · wteᵀ (the head is tied to the token embedding)
 *
 * The parameter tree flattens to Hugging Face's names (`wte.weight`, `h.0.attn.c_attn.weight`,
 * `h.11.mlp.c_proj.bias`, `ln_f.weight` …) with their Conv1D layouts ([in, out]), so loading
 * a checkpoint is flatten/unflatten plus validation (src/models/gpt2/checkpoint.ts). Dropout
 * is applied in training mode at Hugging Face's four places, with its modules' names and the
 * config's rates (0.1 for GPT-2): `drop` on the embeddings (embd_pdrop), `h.N.attn.attn_dropout`
 * on the attention probabilities (attn_pdrop), `h.N.attn.resid_dropout` and `h.N.mlp.dropout`
 * on the attention and MLP outputs (resid_pdrop); each draws from the step's key at its path.
 * A quantized tree (src/quant) runs through the same graph: the layers read a matrix either way.
 */
import * as tf from '@tensorflow/tfjs-core'
import { checkShape } from '../../core/errors.js'
import { normal } from '../../core/key.js'
import { compose, named, type ApplyParamsOf, type Layer, type ParamsOf, type TensorLayer } from '../../core/layer.js'
import { count, param, shapesOf } from '../../core/tree.js'
import { decoderMask } from '../../mask/index.js'
import { elementwise, geluErf, geluTanh } from '../../nn/activation.js'
import { attendFusedHeads, cacheLength, type KVCache, type MhaInput, type MhaOutput } from '../../nn/attention.js'
import { add, rematerialised, stack, type BlockInput, type BlockOutput } from '../../nn/block.js'
import { dropout } from '../../nn/dropout.js'
import { embedding } from '../../nn/embedding.js'
import { linear, type LinearParams } from '../../nn/linear.js'
import { dense, transposed, type Matrix } from '../../nn/matmul.js'
import { layerNorm } from '../../nn/norm.js'
import { innerDim, type Gpt2Config } from './config.js'

/** GPT-2's Conv1D: a linear map with weight [in, out] initialised N(0, std²) (std = initializer_range, 0.02), zero bias. */
const conv1d = (inDim: number, outDim: number, std: number): TensorLayer<LinearParams, LinearParams<Matrix>> => ({
  ...linear(inDim, outDim),
  init: (k) => Object.freeze({ weight: param([inDim, outDim], () => normal(k, inDim * outDim, std), 'dense'), bias: param([outDim], () => new Float32Array(outDim)) }),
})

const activation = (c: Gpt2Config) => elementwise(c.activation_function === 'gelu' ? geluErf : c.activation_function === 'relu' ? tf.relu : geluTanh)

/** Dropout rates of the three kinds Hugging Face's GPT-2 has. */
export interface Gpt2Dropout {
  readonly embd: number
  readonly attn: number
  readonly resid: number
}

/** The config's dropout rates (GPT2Config's defaults, 0.1, where absent), or one rate for all three. */
export const gpt2Dropout = (c: Gpt2Config, rate?: number): Gpt2Dropout =>
  rate !== undefined ? { embd: rate, attn: rate, resid: rate } : { embd: c.embd_pdrop ?? 0.1, attn: c.attn_pdrop ?? 0.1, resid: c.resid_pdrop ?? 0.1 }

/** GPT-2's attention: one fused c_attn [E, 3E] for q, k, v; heads; the mask; attn_dropout on the probabilities; c_proj, then resid_dropout. */
export const fusedSelfAttention = (e: number, heads: number, std: number, projStd: number, rates: Pick<Gpt2Dropout, 'attn' | 'resid'> = { attn: 0, resid: 0 }) => {
  const subs = { c_attn: conv1d(e, 3 * e, std), c_proj: conv1d(e, e, projStd), attn_dropout: dropout(rates.attn), resid_dropout: dropout(rates.resid) }
  return compose(subs, ({ c_attn, c_proj, attn_dropout, resid_dropout }, input: MhaInput, ctx): MhaOutput => {
    const a = attendFusedHeads(c_attn(input.x), heads, input, ctx.training && rates.attn > 0 ? attn_dropout : undefined)
    return { ...a, output: resid_dropout(c_proj(a.output)) }
  })
}

/** GPT-2's MLP: c_fc, the activation, c_proj, dropout. */
const mlp = (c: Gpt2Config, std: number, projStd: number, rate: number) => {
  const act = activation(c)
  const subs = { c_fc: conv1d(c.n_embd, innerDim(c), std), c_proj: conv1d(innerDim(c), c.n_embd, projStd), dropout: dropout(rate) }
  return compose(subs, ({ c_fc, c_proj, dropout }, x: tf.Tensor3D) => dropout(c_proj(act(c_fc(x)))))
}

/** One transformer block: ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj). Input and output as Mini-GPT's blocks. */
export const gpt2Block = (c: Gpt2Config, rates: Gpt2Dropout = gpt2Dropout(c)) => {
  const eps = c.layer_norm_epsilon ?? 1e-5
  const std = c.initializer_range ?? 0.02
  const projStd = std / Math.sqrt(2 * c.n_layer) // GPT-2 scales the init of residual projections by 1/√(2·n_layer)
  const subs = {
    ln_1: layerNorm(c.n_embd, eps),
    attn: fusedSelfAttention(c.n_embd, c.n_head, std, projStd, rates),
    ln_2: layerNorm(c.n_embd, eps),
    mlp: mlp(c, std, projStd, rates.resid),
  }
  return compose(subs, ({ ln_1, attn, ln_2, mlp }, input: BlockInput): BlockOutput => {
    const { output, ...rest } = attn({ ...input, x: ln_1(input.x) })
    const x = add(input.x, output)
    return { ...rest, x: add(x, mlp(ln_2(x))) }
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
  /** With no cache given, also return the per-layer caches of these positions, to decode on from this pass (a decoder's prefill). */
  readonly returnCache?: boolean
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
  /** Per-layer caches of every position seen so far: the given ones extended, new ones when asked (`returnCache`), else none ([]). */
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/** Output of {@link gpt2Trunk}: the final hidden states (after ln_f), before the head. */
export interface Gpt2TrunkOutput {
  /** [batch, length, n_embd]. */
  readonly hidden: tf.Tensor3D
  /** As {@link Gpt2Output}'s. */
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
    wte: embedding(c.vocab_size, c.n_embd, { std }),
    wpe: embedding(c.n_positions, c.n_embd, { std }),
    h: stack(c.n_layer, options.remat === true ? rematerialised(block) : block),
    ln_f: layerNorm(c.n_embd, c.layer_norm_epsilon ?? 1e-5),
    drop: dropout(rates.embd),
  }
  const trunk = compose(subs, ({ wte, wpe, h, ln_f, drop }, input: Gpt2Input): Gpt2TrunkOutput => {
    checkShape('gpt2', 'ids', input.ids.shape, [null, null])
    const t = input.ids.shape[1]
    const past = cacheLength(input.cache?.[0])
    if (past + t > c.n_positions) throw new RangeError(`gpt2: ${past + t} positions exceed n_positions=${c.n_positions}`)
    const positions = tf.reshape<tf.Rank.R2>(tf.range(past, past + t, 1, 'int32'), [1, t])
    const x = drop(add(input.tokens ?? wte(input.ids), wpe(positions)))
    const out = h({ x, mask: decoderMask(t, past, input.mask), cache: input.cache, returnAttention: input.returnAttention, returnCache: input.returnCache })
    const hidden = ln_f(out.x)
    return input.returnAttention === true ? { hidden, cache: out.cache, attention: out.attention } : { hidden, cache: out.cache }
  })
  return named('gpt2', trunk)
}

/** The tied head: logits = hidden · wteᵀ, for hidden [batch, length, n_embd] and wteᵀ (`transposed(wte)`: [n_embd, vocab], or the quantized wte itself). */
export const tiedHead = (hidden: tf.Tensor3D, wteT: Matrix): tf.Tensor3D => dense(hidden, wteT, undefined, 'lm_head')

/**
 * The GPT-2 layer for a config: {@link gpt2Trunk} and the head tied to the token embedding,
 * logits = hidden · wteᵀ. Dropout (training mode only) uses the config's rates, or `rate`
 * for all three kinds when given.
 */
export const gpt2 = (c: Gpt2Config, rate?: number): Layer<Gpt2Params, Gpt2Input, Gpt2Output, Gpt2Weights> => {
  const trunk = gpt2Trunk(c, { dropout: rate })
  return {
    name: 'gpt2',
    init: trunk.init,
    apply: (p, input, ctx) => {
      const { hidden, ...rest } = trunk.apply(p, input, ctx)
      return { ...rest, logits: tiedHead(hidden, transposed(p.wte.weight)) }
    },
  }
}

/** GPT-2's parameter tree (Hugging Face names without the `transformer.` prefix). */
export type Gpt2Params = ParamsOf<ReturnType<typeof gpt2Trunk>>

/** The trees GPT-2 runs: {@link Gpt2Params}, or the same tree with quantized matrices (`Quantized<Gpt2Params>`, src/quant). */
export type Gpt2Weights = ApplyParamsOf<ReturnType<typeof gpt2Trunk>>

/**
 * The parameter tree of a config with shape-only leaves ({@link shapesOf} of `gpt2(c).init`):
 * the structure and shapes it makes, without allocating or drawing anything. Loaders validate
 * a checkpoint against it (`tree.unflattenLike`), and `tree.count(gpt2Shapes(c))` counts the
 * parameters of a 1.5B preset in microseconds.
 */
export const gpt2Shapes = (c: Gpt2Config): Gpt2Params => shapesOf(gpt2Trunk(c))

/** The number of parameters of a config (the tied head counted once, as Hugging Face does). */
export const gpt2ParamCount = (c: Gpt2Config): number => count(gpt2Shapes(c))
