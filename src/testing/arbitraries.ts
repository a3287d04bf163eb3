/**
 * fast-check arbitraries for transformer code: shapes, bounded float32 tensors (as plain data,
 * with a builder), token sequences and batches, padding masks, model configs valid by
 * construction, keys, logits rows, and parameter trees of any layer.
 *
 * Generated values are plain data wherever possible (numbers, arrays), so counterexamples
 * print readably and shrink well; tensors are built from them inside the property, where the
 * property's owner can dispose them.
 *
 * @example
 * import { fc } from '@fast-check/vitest'
 * test.prop([tokenBatch({ vocabSize: 11, maxLength: 8 })])('logits are finite', (tokens) => { … })
 */
import * as tf from '@tensorflow/tfjs-core'
import * as fc from 'fast-check'
import { key, type Key } from '../core/key.js'
import type { Layer } from '../core/layer.js'
import { MiniGptConfigCodec, type MiniGptConfig } from '../models/minigpt/config.js'
import { Gpt2ConfigCodec, type Gpt2Config } from '../models/gpt2/config.js'

// ---------------------------------------------------------------------------------------------
// shapes and float tensors

/** Limits for {@link shape}. */
export interface ShapeLimits {
  readonly minRank?: number
  readonly maxRank?: number
  readonly minDim?: number
  readonly maxDim?: number
  /** Largest number of elements (default 256). */
  readonly maxSize?: number
}

/** Tensor shapes: rank in [minRank, maxRank] (default 0–4), each size in [minDim, maxDim] (default 1–5), at most maxSize elements. */
export const shape = (limits: ShapeLimits = {}): fc.Arbitrary<number[]> => {
  const { minRank = 0, maxRank = 4, minDim = 1, maxDim = 5, maxSize = 256 } = limits
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank }).filter((s) => s.reduce((a, b) => a * b, 1) <= maxSize)
}

/** Bounds for {@link float32}: finite, in [min, max] (default ±10). */
export interface FloatBounds {
  readonly min?: number
  readonly max?: number
}

/** Finite float32 numbers in [min, max] (default ±10), no NaN, no infinities (-0 may appear). */
export const float32 = (bounds: FloatBounds = {}): fc.Arbitrary<number> =>
  fc.float({ min: Math.fround(bounds.min ?? -10), max: Math.fround(bounds.max ?? 10), noNaN: true, noDefaultInfinity: true })

/** A tensor as plain data: its shape and row-major values. Build it with {@link toTensor}. */
export interface TensorData {
  readonly shape: readonly number[]
  readonly values: readonly number[]
}

/**
 * Finite, bounded float32 tensors as {@link TensorData}: the shape fixed or drawn from `shape`
 * (default: {@link shape}()), values from {@link float32}(bounds).
 */
export const tensorData = (options: { readonly shape?: readonly number[] | fc.Arbitrary<readonly number[]> } & FloatBounds = {}): fc.Arbitrary<TensorData> => {
  const shapes: fc.Arbitrary<readonly number[]> =
    options.shape === undefined ? shape() : Array.isArray(options.shape) ? fc.constant(options.shape as readonly number[]) : (options.shape as fc.Arbitrary<readonly number[]>)
  return shapes.chain((s) => {
    const n = s.reduce((a, b) => a * b, 1)
    return fc.array(float32(options), { minLength: n, maxLength: n }).map((values) => ({ shape: s, values }))
  })
}

/** Builds the tensor (float32 unless told) of {@link TensorData}. The caller owns it: dispose it, or build it inside `tf.tidy`. */
export const toTensor = (data: TensorData, dtype: 'float32' | 'int32' = 'float32'): tf.Tensor => tf.tensor([...data.values], [...data.shape], dtype)

// ---------------------------------------------------------------------------------------------
// tokens and masks

/** Token ids in [0, vocabSize). */
export const token = (vocabSize: number): fc.Arbitrary<number> => {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`token: vocabSize must be an integer ≥ 1, got ${vocabSize}`)
  return fc.integer({ min: 0, max: vocabSize - 1 })
}

/** Limits for token sequences and batches. */
export interface TokenLimits {
  readonly vocabSize: number
  readonly minLength?: number
  /** The longest sequence (required: keep it within the model's context). */
  readonly maxLength: number
  /**
   * How long the generated sequences get: fast-check's `size` (default `'small'`, which keeps
   * lengths to about 10 whatever `maxLength` is; `'max'` draws lengths uniformly up to it).
   */
  readonly size?: fc.SizeForArbitrary
}

/**
 * Arrays of `minLength` to `maxLength` items that shrink well: fast-check's array shrinker
 * cannot drop the last item once the rest is at `minLength` (`[4, 0]` would never become
 * `[4]`), so these are drawn from length 0 and filtered.
 */
const arrayOf = <T>(item: fc.Arbitrary<T>, minLength: number, maxLength: number, size?: fc.SizeForArbitrary): fc.Arbitrary<T[]> => {
  const all = fc.array(item, size === undefined ? { maxLength } : { maxLength, size })
  // A minimum that is most of the range would filter out nearly everything: draw it directly then.
  if (minLength > 0 && minLength > maxLength / 2) return fc.array(item, { minLength, maxLength })
  return minLength === 0 ? all : all.filter((xs) => xs.length >= minLength)
}

/** A token sequence over [0, vocabSize) of length in [minLength (default 1), maxLength]. */
export const tokenSequence = (limits: TokenLimits): fc.Arbitrary<number[]> => arrayOf(token(limits.vocabSize), limits.minLength ?? 1, limits.maxLength, limits.size)

/** Batch limits: rows in [minBatch (default 1), maxBatch (default 3)]. */
export interface BatchLimits extends TokenLimits {
  readonly minBatch?: number
  readonly maxBatch?: number
}

/**
 * Batches of equal-length token rows ([batch][position]). The first row sets the length; the
 * other rows are full-length rows cut to it. So a failing batch shrinks to fewer rows, and
 * the first row shrinks like any array (dropping tokens anywhere, not only at the end).
 */
export const tokenBatch = (limits: BatchLimits): fc.Arbitrary<number[][]> => {
  const { minLength = 1, maxLength, minBatch = 1, maxBatch = 3 } = limits
  const first = arrayOf(token(limits.vocabSize), minLength, maxLength, limits.size)
  const rest = fc.array(fc.array(token(limits.vocabSize), { minLength: maxLength, maxLength }), {
    minLength: Math.max(0, minBatch - 1),
    maxLength: Math.max(0, maxBatch - 1),
  })
  return fc.tuple(first, rest).map(([head, others]) => [head, ...others.map((r) => r.slice(0, head.length))])
}

/**
 * Where padding may go: only after the real tokens (`'right'`), only before them (`'left'`,
 * as batched generation pads prompts), or anywhere (`'any'`; by default the first position
 * stays real, see {@link attentionMask}).
 */
export type PaddingPlacement = 'right' | 'left' | 'any'

/**
 * An attention mask of `length` positions: 1 for a real token, 0 for padding, with at least
 * one real token. `'right'` masks are real tokens followed by padding, `'left'` masks padding
 * followed by real tokens. `'any'` masks keep the first position real unless `paddedStart` is
 * set: a query that may attend to no key at all has no defined softmax, and a model built on
 * `-Infinity` masks returns NaN there — which is exactly what `paddedStart` is for finding.
 */
export const attentionMask = (length: number, placement: PaddingPlacement = 'any', paddedStart = false): fc.Arbitrary<number[]> => {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`attentionMask: length must be an integer ≥ 1, got ${length}`)
  const right = fc.integer({ min: 1, max: length }).map((real) => Array.from({ length }, (_, i) => (i < real ? 1 : 0)))
  const left = fc.integer({ min: 1, max: length }).map((real) => Array.from({ length }, (_, i) => (i >= length - real ? 1 : 0)))
  if (placement === 'right') return right
  if (placement === 'left') return left
  const any = paddedStart
    ? fc
        .array(fc.boolean(), { minLength: length, maxLength: length })
        .filter((bs) => bs.some((b) => !b))
        .map((bs) => bs.map((b) => (b ? 0 : 1)))
    : fc.array(fc.boolean(), { minLength: length - 1, maxLength: length - 1 }).map((bs) => [1, ...bs.map((b) => (b ? 0 : 1))])
  return paddedStart ? fc.oneof(right, left, any) : fc.oneof(right, any)
}

/** A batch of token rows with an attention mask per row (1 real, 0 padding; see {@link attentionMask}). */
export interface PaddedBatch {
  readonly tokens: number[][]
  readonly attentionMask: number[][]
}

/** Padded batches: a {@link tokenBatch} and one {@link attentionMask} per row; padding positions hold `padId` when given. */
export const paddedBatch = (limits: BatchLimits & { readonly placement?: PaddingPlacement; readonly padId?: number }): fc.Arbitrary<PaddedBatch> =>
  tokenBatch(limits).chain((tokens) =>
    fc.tuple(...tokens.map(() => attentionMask(tokens[0].length, limits.placement))).map((masks) => ({
      tokens: tokens.map((r, b) => (limits.padId === undefined ? r : r.map((t, i) => (masks[b][i] === 1 ? t : (limits.padId as number))))),
      attentionMask: masks,
    })),
  )

/**
 * The additive key-padding mask [batch, 1, 1, length] of an attention mask (1 real → 0,
 * 0 padding → -1e9): what the library's models take as `mask`. The caller owns it.
 *
 * Padding gets a large finite value, not -Infinity (as Hugging Face uses the dtype's minimum):
 * a query whose visible keys are all padding (the first positions of a left-padded row) then
 * gets a finite, meaningless row instead of NaN; with -Infinity that NaN would reach the real
 * positions of the next layer through 0 · NaN in the attention-weighted sum. Against the
 * causal mask's -Infinity, exp(-1e9 - max) is exactly 0 in float32, so real positions are
 * unaffected.
 */
export const keyPaddingMask = (mask: readonly (readonly number[])[]): tf.Tensor4D =>
  tf.tidy(() => {
    const b = mask.length
    const t = mask[0]?.length ?? 0
    const allowed = tf.tensor2d(
      mask.map((r) => r.map((x) => (x === 0 ? 0 : 1))),
      [b, t],
      'bool',
    )
    return tf.reshape(tf.where(allowed, tf.zeros([b, t]), tf.fill([b, t], PADDING_SCORE)), [b, 1, 1, t]) as tf.Tensor4D
  })

/** The additive score of a padding key in {@link keyPaddingMask}: finite, so fully padded queries stay finite. */
export const PADDING_SCORE = -1e9

// ---------------------------------------------------------------------------------------------
// keys, seeds, parameters

/** Seeds for {@link key}: non-negative 32-bit integers. */
export const seed = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0x7fffffff })

/** Keys made from {@link seed}s. */
export const keys = (): fc.Arbitrary<Key> => seed().map((s) => key(s))

/** A parameter tree together with the seed it was initialised from (printed as `init(key(17))`). */
export interface SeededParams<P> {
  readonly seed: number
  readonly params: P
}

/**
 * Parameter trees of any layer, one per seed: `layer.init(key(seed))`.
 *
 * Disposal: each generated tree is new tensors that belong to the property run that receives
 * it; dispose it at the end of the run (`try { … } finally { tree.dispose(p.params) }`). For
 * many runs of a large layer, prefer drawing {@link seed}s and calling `init` inside the run,
 * under `tf.tidy`. A counterexample prints as `<layer>.init(key(17))`; rebuild it from the seed.
 */
export const paramsOf = <P>(layer: Pick<Layer<P, unknown, unknown>, 'init' | 'name'>): fc.Arbitrary<SeededParams<P>> =>
  seed().map((s) => ({
    seed: s,
    params: layer.init(key(s)),
    [fc.toStringMethod]: () => `${layer.name}.init(key(${s}))`,
  }))

// ---------------------------------------------------------------------------------------------
// model configs, valid by construction

/** Size limits for {@link miniGptConfig}. */
export interface MiniGptConfigLimits {
  readonly maxVocab?: number
  readonly maxHeads?: number
  readonly maxHeadDim?: number
  readonly maxLayers?: number
  readonly maxFf?: number
  readonly maxLen?: number
  /** A fixed dropout rate (default: drawn from [0, 0.5]). */
  readonly dropout?: number
}

/**
 * Mini-GPT configs that {@link MiniGptConfigCodec} accepts, built to its constraints (every
 * size a positive integer, num_heads dividing embed_dim, pad_idx < vocab_size, dropout in
 * [0, 1)) and small by default (vocab ≤ 16, ≤ 4 heads of ≤ 8 features, ≤ 2 layers, ff ≤ 32,
 * max_len ≤ 8). The codec filters the result too, so a constraint added to it later cannot slip by.
 */
export const miniGptConfig = (limits: MiniGptConfigLimits = {}): fc.Arbitrary<MiniGptConfig> => {
  const { maxVocab = 16, maxHeads = 4, maxHeadDim = 8, maxLayers = 2, maxFf = 32, maxLen = 8 } = limits
  return fc
    .record({
      vocab_size: fc.integer({ min: 2, max: maxVocab }),
      num_heads: fc.integer({ min: 1, max: maxHeads }),
      head_dim: fc.integer({ min: 1, max: maxHeadDim }),
      num_layers: fc.integer({ min: 1, max: maxLayers }),
      ff_dim: fc.integer({ min: 1, max: maxFf }),
      max_len: fc.integer({ min: 1, max: maxLen }),
      dropout: limits.dropout === undefined ? fc.double({ min: 0, max: 0.5, noNaN: true }) : fc.constant(limits.dropout),
      pad: fc.nat(),
    })
    .map(({ head_dim, pad, ...c }) => ({ ...c, embed_dim: c.num_heads * head_dim, pad_idx: pad % c.vocab_size }))
    .map(
      (c): MiniGptConfig => ({
        vocab_size: c.vocab_size,
        embed_dim: c.embed_dim,
        num_heads: c.num_heads,
        num_layers: c.num_layers,
        ff_dim: c.ff_dim,
        max_len: c.max_len,
        dropout: c.dropout,
        pad_idx: c.pad_idx,
      }),
    )
    .filter((c) => MiniGptConfigCodec.is(c))
}

/** Size limits for {@link gpt2Config}. */
export interface Gpt2ConfigLimits {
  readonly maxVocab?: number
  readonly maxPositions?: number
  readonly maxHeads?: number
  readonly maxHeadDim?: number
  readonly maxLayers?: number
  readonly maxInner?: number
}

/**
 * GPT-2 configs that {@link Gpt2ConfigCodec} accepts: n_head divides n_embd, n_inner null or
 * a positive integer, one of the supported activations, a positive layer-norm epsilon; small
 * by default (vocab ≤ 32, ≤ 16 positions, ≤ 4 heads of ≤ 8 features, ≤ 2 layers).
 */
export const gpt2Config = (limits: Gpt2ConfigLimits = {}): fc.Arbitrary<Gpt2Config> => {
  const { maxVocab = 32, maxPositions = 16, maxHeads = 4, maxHeadDim = 8, maxLayers = 2, maxInner = 32 } = limits
  return fc
    .record({
      vocab_size: fc.integer({ min: 2, max: maxVocab }),
      n_positions: fc.integer({ min: 1, max: maxPositions }),
      n_head: fc.integer({ min: 1, max: maxHeads }),
      head_dim: fc.integer({ min: 1, max: maxHeadDim }),
      n_layer: fc.integer({ min: 1, max: maxLayers }),
      n_inner: fc.option(fc.integer({ min: 1, max: maxInner }), { nil: null }),
      activation_function: fc.constantFrom('gelu_new' as const, 'gelu' as const, 'gelu_pytorch_tanh' as const, 'relu' as const),
      layer_norm_epsilon: fc.constantFrom(1e-5, 1e-6, 1e-3),
    })
    .map(({ head_dim, ...c }): Gpt2Config => ({ ...c, n_embd: c.n_head * head_dim, model_type: 'gpt2' }))
    .filter((c) => Gpt2ConfigCodec.is(c))
}

// ---------------------------------------------------------------------------------------------
// logits rows (for processors and samplers)

/** Limits for {@link logitsRow}. */
export interface LogitsRowLimits extends FloatBounds {
  readonly minLength?: number
  readonly maxLength?: number
  /** Whether some entries are -Infinity (already filtered); default true. At least one entry stays finite. */
  readonly filtered?: boolean
}

/**
 * Rows of next-token logits as `Float32Array`: finite float32 values in [min, max] (default
 * ±20; mostly multiples of 1/4, which shrink to readable counterexamples), length in [minLength, maxLength] (default 2–16), with some -Infinity entries unless
 * `filtered: false`; at least one entry is finite.
 */
export const logitsRow = (limits: LogitsRowLimits = {}): fc.Arbitrary<Float32Array> => {
  const min = limits.min ?? -20
  const max = limits.max ?? 20
  // Mostly quarter steps, which shrink to readable rows ([0, -0.25]); any float32 now and then.
  const grid = fc.integer({ min: Math.ceil(min * 4), max: Math.floor(max * 4) }).map((q) => q / 4)
  const entry = fc.oneof({ withCrossShrink: true }, { weight: 3, arbitrary: grid }, { weight: 1, arbitrary: float32({ min, max }) })
  const withFiltered = limits.filtered === false ? entry : fc.oneof({ weight: 6, arbitrary: entry }, { weight: 1, arbitrary: fc.constant(-Infinity) })
  return arrayOf(withFiltered, limits.minLength ?? 2, limits.maxLength ?? 16)
    .filter((xs) => xs.some((x) => x !== -Infinity))
    .map((xs) => Float32Array.from(xs))
}
