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
import { compose, fold, replicate, type Ctx, type Layer, type ParamsOf } from '../../core/layer.js'
import { causalMask } from '../../mask/index.js'
import { geluErf, geluTanh } from '../../nn/activation.js'
import { attendCached, cacheLength, extendCache, mergeHeads, splitHeads, type KVCache, type MhaInput, type MhaOutput } from '../../nn/attention.js'
import { runBlocks, type BlockInput, type BlockOutput } from '../../nn/block.js'
import { dropoutOp } from '../../nn/dropout.js'
import { embedding, lookup, lookupTransposed } from '../../nn/embedding.js'
import { linear } from '../../nn/linear.js'
import { matmul2d } from '../../nn/matmul.js'
import { layerNorm } from '../../nn/norm.js'
import { normal } from '../../core/key.js'
import { remat } from '../../core/remat.js'
import { count, shapeOnly } from '../../core/tree.js'
import { innerDim, type Gpt2Config } from './config.js'

/** GPT-2's Conv1D: a linear map with weight [in, out] initialised N(0, std²) (std = initializer_range, 0.02), zero bias. */
const conv1d = (inDim: number, outDim: number, name: string, std: number) => {
  const base = linear(inDim, outDim, name)
  return {
    ...base,
    init: (k: Parameters<typeof base.init>[0]) =>
      Object.freeze({ weight: tf.tensor2d(normal(k, inDim * outDim, std), [inDim, outDim]), bias: tf.zeros([outDim]) as tf.Tensor1D }),
  }
}

const activation = (c: Gpt2Config) => (c.activation_function === 'gelu' ? geluErf : c.activation_function === 'relu' ? tf.relu : geluTanh)

/** GPT-2's attention: one fused c_attn [E, 3E] for q, k, v; heads; the mask; dropout on the probabilities; c_proj. */
export const fusedSelfAttention = (e: number, heads: number, std: number, projStd: number, attnDropout = 0) =>
  compose('attn', { c_attn: conv1d(e, 3 * e, 'attn.c_attn', std), c_proj: conv1d(e, e, 'attn.c_proj', projStd) }, (l) => (p, input: MhaInput, ctx: Ctx): MhaOutput => {
    const [q, k, v] = tf.split(l.c_attn.apply(p.c_attn, input.x, ctx), 3, -1).map((z) => splitHeads(z, heads))
    const cache = extendCache(input.cache, k, v)
    const drop = ctx.training && attnDropout > 0 ? (w: tf.Tensor) => dropoutOp(w, attnDropout, fold(ctx, 2), 'h.attn.attn_dropout') : undefined
    const att = attendCached(q, cache, input.mask, input.returnWeights === true, drop)
    const output = l.c_proj.apply(p.c_proj, mergeHeads(att.output as tf.Tensor4D), ctx) as tf.Tensor3D
    return att.weights === undefined ? { output, cache } : { output, cache, weights: att.weights as tf.Tensor4D }
  })

/** Dropout rates of the three kinds Hugging Face's GPT-2 has. */
export interface Gpt2Dropout {
  readonly embd: number
  readonly attn: number
  readonly resid: number
}

/** The config's dropout rates (GPT2Config's defaults, 0.1, where absent), or one rate for all three. */
export const gpt2Dropout = (c: Gpt2Config, rate?: number): Gpt2Dropout =>
  rate !== undefined
    ? { embd: rate, attn: rate, resid: rate }
    : { embd: c.embd_pdrop ?? 0.1, attn: c.attn_pdrop ?? 0.1, resid: c.resid_pdrop ?? 0.1 }

/** One transformer block: ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj). Input and output as Mini-GPT's blocks. */
export const gpt2Block = (c: Gpt2Config, dropout: Gpt2Dropout = gpt2Dropout(c)) => {
  const e = c.n_embd
  const eps = c.layer_norm_epsilon ?? 1e-5
  const std = c.initializer_range ?? 0.02
  // GPT-2 scales the init of residual projections by 1/√(2·n_layer).
  const projStd = std / Math.sqrt(2 * c.n_layer)
  const act = activation(c)
  return compose(
    'h',
    {
      ln_1: layerNorm(e, eps, 'ln_1'),
      attn: fusedSelfAttention(e, c.n_head, std, projStd, dropout.attn),
      ln_2: layerNorm(e, eps, 'ln_2'),
      mlp: compose('mlp', { c_fc: conv1d(e, innerDim(c), 'mlp.c_fc', std), c_proj: conv1d(innerDim(c), e, 'mlp.c_proj', projStd) }, (l) => (p, x: tf.Tensor, ctx) =>
        l.c_proj.apply(p.c_proj, act(l.c_fc.apply(p.c_fc, x, ctx)), ctx),
      ),
    },
    (l) =>
      (p, input: BlockInput, ctx: Ctx): BlockOutput => {
        const a = l.attn.apply(p.attn, { x: l.ln_1.apply(p.ln_1, input.x, ctx) as tf.Tensor3D, mask: input.mask, cache: input.cache, returnWeights: input.returnWeights }, ctx)
        const x1 = tf.add(input.x, dropoutOp(a.output, dropout.resid, fold(ctx, 0), 'h.attn.resid_dropout')) as tf.Tensor3D
        const m = l.mlp.apply(p.mlp, l.ln_2.apply(p.ln_2, x1, ctx), ctx)
        const x = tf.add(x1, dropoutOp(m, dropout.resid, fold(ctx, 1), 'h.mlp.dropout')) as tf.Tensor3D
        return a.weights === undefined ? { x, cache: a.cache } : { x, cache: a.cache, weights: a.weights }
      },
  )
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
   * wteᵀ [n_embd, vocab] computed once by the caller (decoding), instead of a transpose per
   * call. When given, it is both the head and the source of the token embeddings (its
   * columns), and `p.wte` is not read: a decoder may keep wteᵀ alone (`gpt2Decoder`'s
   * `ownsParams`).
   */
  readonly wteT?: tf.Tensor2D
  /** Return logits for the last position only ([batch, 1, vocab]): what decoding needs. */
  readonly lastOnly?: boolean
  /**
   * Rematerialise the blocks (src/core/remat.ts): a training pass keeps only each block's
   * input and recomputes the block in the backward pass — less memory, about a third more
   * compute. No cache is returned (`cache` is empty); `cache` and `returnAttention` must be unset.
   */
  readonly remat?: boolean
}

/** Output of the GPT-2 forward pass. */
export interface Gpt2Output {
  readonly logits: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/** Output of {@link gpt2Trunk}: the final hidden states (after ln_f), before the head. */
export interface Gpt2TrunkOutput {
  /** [batch, length, n_embd], or [batch, 1, n_embd] with `lastOnly`. */
  readonly hidden: tf.Tensor3D
  readonly cache: readonly KVCache[]
  readonly attention?: readonly tf.Tensor4D[]
}

/**
 * GPT-2 without its head: embeddings, blocks, ln_f. Same parameters as {@link gpt2} (the
 * head has none of its own). A loss that fuses the tied head with the cross-entropy starts
 * here (src/train/tied-head.ts), so training never materialises wteᵀ.
 */
export const gpt2Trunk = (c: Gpt2Config, dropout?: number) => {
  const rates = gpt2Dropout(c, dropout)
  const block = gpt2Block(c, rates)
  const std = c.initializer_range ?? 0.02
  return compose(
    'gpt2',
    {
      wte: embedding(c.vocab_size, c.n_embd, { std, name: 'wte' }),
      wpe: embedding(c.n_positions, c.n_embd, { std, name: 'wpe' }),
      h: replicate(c.n_layer, block),
      ln_f: layerNorm(c.n_embd, c.layer_norm_epsilon ?? 1e-5, 'ln_f'),
    },
    (l) =>
      (p, input: Gpt2Input, ctx: Ctx): Gpt2TrunkOutput => {
        const { ids } = input
        checkShape('gpt2', 'ids', ids.shape, [null, null])
        if (input.remat === true && (input.cache !== undefined || input.returnAttention === true)) {
          throw new Error('gpt2: remat recomputes the blocks in the backward pass; it cannot return a cache or attention weights, nor start from a cache')
        }
        const [b, t] = ids.shape
        const past = cacheLength(input.cache?.[0])
        if (past + t > c.n_positions) {
          throw new RangeError(`gpt2: ${past + t} positions exceed n_positions=${c.n_positions}`)
        }
        const positions = tf.range(past, past + t, 1, 'int32')
        const tokens = input.wteT === undefined ? l.wte.apply(p.wte, ids, ctx) : lookupTransposed(input.wteT, ids)
        const x0 = tf.add(tokens, lookup(p.wpe.weight, positions))
        const x = dropoutOp(x0, rates.embd, fold(ctx, 0), 'drop') as tf.Tensor3D
        // One new position sees every cached one: its causal row is all zeros, so no mask.
        const causal = t === 1 ? undefined : causalMask(t, past + t)
        const mask = input.mask === undefined ? causal : causal === undefined ? input.mask : tf.add(causal, input.mask)
        let stack: { readonly x: tf.Tensor3D; readonly cache: readonly KVCache[]; readonly attention: readonly tf.Tensor4D[] }
        if (input.remat === true) {
          // Training: keep only each block's input; its backward pass recomputes the rest.
          let h = x
          p.h.forEach((hp, i) => {
            const run = (xi: tf.Tensor, ph: typeof hp, aux: { readonly mask: tf.Tensor } | undefined) => block.apply(ph, { x: xi as tf.Tensor3D, mask: aux?.mask }, fold(ctx, i + 1)).x
            h = remat(run)(h, hp, mask === undefined ? undefined : { mask }) as tf.Tensor3D
          })
          stack = { x: h, cache: [], attention: [] }
        } else {
          stack = runBlocks(block, p.h, { x, mask, cache: input.cache, returnAttention: input.returnAttention }, ctx)
        }
        const last = input.lastOnly === true ? (tf.slice(stack.x, [0, t - 1, 0], [b, 1, c.n_embd]) as tf.Tensor3D) : stack.x
        const hidden = l.ln_f.apply(p.ln_f, last, ctx) as tf.Tensor3D
        return input.returnAttention === true ? { hidden, cache: stack.cache, attention: stack.attention } : { hidden, cache: stack.cache }
      },
  )
}

/**
 * The GPT-2 layer for a config: {@link gpt2Trunk} and the head tied to the token embedding,
 * logits = hidden · wteᵀ. Dropout (training mode only) uses the config's rates, or `dropout`
 * for all three kinds when given.
 */
export const gpt2 = (c: Gpt2Config, dropout?: number) => {
  const trunk = gpt2Trunk(c, dropout)
  return {
    name: 'gpt2',
    init: trunk.init,
    apply: (p: Gpt2Params, input: Gpt2Input, ctx: Ctx): Gpt2Output => {
      const out = trunk.apply(p, input, ctx)
      const [b, t] = out.hidden.shape
      const wteT = input.wteT ?? (tf.transpose(p.wte.weight) as tf.Tensor2D)
      const logits = tf.reshape(matmul2d(tf.reshape(out.hidden, [-1, c.n_embd]) as tf.Tensor2D, wteT), [b, t, c.vocab_size]) as tf.Tensor3D
      return out.attention === undefined ? { logits, cache: out.cache } : { logits, cache: out.cache, attention: out.attention }
    },
  } satisfies Layer<Gpt2Params, Gpt2Input, Gpt2Output>
}

/** GPT-2's parameter tree (Hugging Face names without the `transformer.` prefix). */
export type Gpt2Params = ParamsOf<ReturnType<typeof gpt2Trunk>>

/**
 * The parameter tree of a config with shape-only leaves ({@link shapeOnly}): the structure
 * and shapes `gpt2(c).init` makes, without allocating or drawing anything. Loaders validate a
 * checkpoint against it (`tree.unflattenLike`), and `tree.count(gpt2Shapes(c))` counts the
 * parameters of a 1.5B preset in microseconds.
 */
export const gpt2Shapes = (c: Gpt2Config): Gpt2Params => {
  const e = c.n_embd
  const inner = innerDim(c)
  const s = (...shape: number[]) => shapeOnly(shape)
  const affine = (i: number, o: number) => ({ weight: s(i, o), bias: s(o) })
  const norm = () => ({ weight: s(e), bias: s(e) })
  const block = () => ({
    ln_1: norm(),
    attn: { c_attn: affine(e, 3 * e), c_proj: affine(e, e) },
    ln_2: norm(),
    mlp: { c_fc: affine(e, inner), c_proj: affine(inner, e) },
  })
  return {
    wte: { weight: s(c.vocab_size, e) },
    wpe: { weight: s(c.n_positions, e) },
    h: Array.from({ length: c.n_layer }, block),
    ln_f: norm(),
  } as unknown as Gpt2Params
}

/** The number of parameters of a config (the tied head counted once, as Hugging Face does). */
export const gpt2ParamCount = (c: Gpt2Config): number => count(gpt2Shapes(c))
