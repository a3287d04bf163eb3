/**
 * Reference implementations of the usual logits processors, written independently of
 * src/sample (float64, from the papers' and Hugging Face's definitions, by sorting rather than
 * by the library's prefix scans), to check a processor's *values*, not only what it filters.
 *
 * A reference returns what the processed row must be: each token's expected logit
 * (`-Infinity` where it must be filtered) and the tokens whose fate is ambiguous — ties at a
 * top-k boundary, mass within rounding of top-p's threshold — which may be either kept (with
 * their expected value) or filtered. Compare with {@link matchesReference}.
 */
import type { ProcessorContext } from '../sample/processors.js'

/** What a processed row must be: expected logits, and tokens that may be kept or filtered. */
export interface Expected {
  readonly logits: Float64Array
  readonly ambiguous?: ReadonlySet<number>
}

/** A reference processor: the expected result for a context and a row. */
export type ReferenceProcessor = (ctx: ProcessorContext, logits: Float32Array) => Expected

const ROUNDING = 1e-6

const probabilities = (row: ArrayLike<number>): Float64Array => {
  let max = -Infinity
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i]
  const e = Float64Array.from(row as ArrayLike<number>, (x) => (x === -Infinity ? 0 : Math.exp(x - max)))
  const z = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / z)
}

const copy = (row: Float32Array): Float64Array => Float64Array.from(row)

const keepOnly = (row: Float32Array, keep: (i: number) => boolean): Float64Array => Float64Array.from(row, (x, i) => (keep(i) ? x : -Infinity))

/** Divides every logit by t. */
const temperature =
  (t: number): ReferenceProcessor =>
  (_ctx, row) => ({ logits: Float64Array.from(row, (x) => x / t) })

/** The k largest finite logits survive; tokens tied with the k-th are ambiguous (any of them may be the one kept). */
const topK =
  (k: number): ReferenceProcessor =>
  (_ctx, row) => {
    const finite = Array.from(row.keys()).filter((i) => row[i] !== -Infinity)
    if (finite.length <= k) return { logits: copy(row) }
    const sorted = finite.map((i) => row[i]).sort((a, b) => b - a)
    const kth = sorted[k - 1]
    const tied = finite.filter((i) => row[i] === kth)
    const strictlyAbove = finite.filter((i) => row[i] > kth).length
    const allTiedFit = strictlyAbove + tied.length <= k
    return { logits: keepOnly(row, (i) => row[i] >= kth), ambiguous: allTiedFit ? new Set() : new Set(tied) }
  }

/**
 * The smallest set of most likely tokens whose mass reaches p (the most likely always kept):
 * a token is kept when the mass strictly above it (in probability order) is below p. Tokens
 * whose mass-above is within rounding of p, or tied with such a token, are ambiguous.
 */
const topP =
  (p: number): ReferenceProcessor =>
  (_ctx, row) => {
    const probs = probabilities(row)
    const finite = Array.from(row.keys()).filter((i) => row[i] !== -Infinity)
    const above = (i: number) => finite.reduce((s, j) => (probs[j] > probs[i] ? s + probs[j] : s), 0)
    const keep = new Set<number>()
    const ambiguous = new Set<number>()
    for (const i of finite) {
      const a = above(i)
      const tiedMass = finite.reduce((s, j) => (j !== i && probs[j] === probs[i] ? s + probs[j] : s), 0)
      if (a + tiedMass < p - ROUNDING)
        keep.add(i) // every ordering of its ties keeps it
      else if (a < p + ROUNDING) ambiguous.add(i) // some ordering of its ties, or rounding, keeps it
    }
    const best = finite.reduce((b, i) => (probs[i] > probs[b] ? i : b), finite[0])
    if (!ambiguous.has(best)) keep.add(best)
    return { logits: keepOnly(row, (i) => keep.has(i) || ambiguous.has(i)), ambiguous }
  }

/** Tokens with probability ≥ m · p_max survive (within rounding: ambiguous). */
const minP =
  (m: number): ReferenceProcessor =>
  (_ctx, row) => {
    const probs = probabilities(row)
    const bar = m * Math.max(...probs)
    const ambiguous = new Set(Array.from(row.keys()).filter((i) => row[i] !== -Infinity && Math.abs(probs[i] - bar) <= ROUNDING * Math.max(bar, 1e-30)))
    return { logits: keepOnly(row, (i) => probs[i] >= bar || ambiguous.has(i)), ambiguous }
  }

/** Hugging Face's repetition penalty: seen tokens' positive logits divided by θ, negative ones multiplied. */
const repetitionPenalty =
  (theta: number): ReferenceProcessor =>
  (ctx, row) => {
    const seen = new Set(ctx.tokens)
    return { logits: Float64Array.from(row, (x, i) => (seen.has(i) ? (x > 0 ? x / theta : x * theta) : x)) }
  }

const generated = (ctx: ProcessorContext): number[] => ctx.tokens.slice(ctx.promptLength)

/** OpenAI's frequency penalty: minus penalty times the generated count. */
const frequencyPenalty =
  (penalty: number): ReferenceProcessor =>
  (ctx, row) => {
    const g = generated(ctx)
    return { logits: Float64Array.from(row, (x, i) => x - penalty * g.filter((t) => t === i).length) }
  }

/** OpenAI's presence penalty: minus penalty once for every generated token. */
const presencePenalty =
  (penalty: number): ReferenceProcessor =>
  (ctx, row) => {
    const g = new Set(generated(ctx))
    return { logits: Float64Array.from(row, (x, i) => (g.has(i) ? x - penalty : x)) }
  }

/** Bans every token that would complete an n-gram already in the context. */
const noRepeatNgram =
  (n: number): ReferenceProcessor =>
  (ctx, row) => {
    const toks = ctx.tokens
    const prefix = toks.slice(toks.length - (n - 1)).join(',')
    const banned = new Set<number>()
    for (let s = 0; s + n <= toks.length; s++) if (n === 1 || toks.slice(s, s + n - 1).join(',') === prefix) banned.add(toks[s + n - 1])
    return { logits: keepOnly(row, (i) => !banned.has(i)) }
  }

/** Bans the given tokens. */
const bannedTokens =
  (tokens: readonly number[]): ReferenceProcessor =>
  (_ctx, row) => ({ logits: keepOnly(row, (i) => !tokens.includes(i)) })

/** Adds a bias to chosen tokens. */
const logitBias =
  (bias: Readonly<Record<number, number>>): ReferenceProcessor =>
  (_ctx, row) => ({ logits: Float64Array.from(row, (x, i) => x + (bias[i] ?? 0)) })

/** Bans the end-of-sequence token(s) until `n` tokens have been generated. */
const minNewTokens =
  (n: number, eos: readonly number[]): ReferenceProcessor =>
  (ctx, row) => ({ logits: ctx.step < n ? keepOnly(row, (i) => !eos.includes(i)) : copy(row) })

/**
 * Locally typical sampling (Meister et al. 2022): tokens ordered by |−log p − H|, the smallest
 * such prefix whose mass reaches `mass`; tokens within rounding of the cut are ambiguous.
 */
const typicalP =
  (mass: number): ReferenceProcessor =>
  (_ctx, row) => {
    const probs = probabilities(row)
    const finite = Array.from(row.keys()).filter((i) => row[i] !== -Infinity)
    const entropy = -finite.reduce((s, i) => (probs[i] > 0 ? s + probs[i] * Math.log(probs[i]) : s), 0)
    const score = (i: number) => Math.abs(-Math.log(probs[i]) - entropy)
    const keep = new Set<number>()
    const ambiguous = new Set<number>()
    for (const i of finite) {
      const before = finite.reduce((s, j) => (score(j) < score(i) - ROUNDING ? s + probs[j] : s), 0)
      const tiedOrNear = finite.reduce((s, j) => (j !== i && Math.abs(score(j) - score(i)) <= ROUNDING ? s + probs[j] : s), 0)
      if (before + tiedOrNear < mass - ROUNDING) keep.add(i)
      else if (before < mass + ROUNDING) ambiguous.add(i)
    }
    if (keep.size === 0 && ambiguous.size === 0) keep.add(finite.reduce((b, i) => (score(i) < score(b) ? i : b), finite[0]))
    return { logits: keepOnly(row, (i) => keep.has(i) || ambiguous.has(i)), ambiguous }
  }

/** Bans the last token of each sequence whose other tokens end the context. */
const badWords =
  (sequences: readonly (readonly number[])[]): ReferenceProcessor =>
  (ctx, row) => {
    const banned = new Set(
      sequences
        .filter((s) => s.length - 1 <= ctx.tokens.length && ctx.tokens.slice(ctx.tokens.length - (s.length - 1)).join(',') === s.slice(0, -1).join(','))
        .map((s) => s[s.length - 1]),
    )
    return { logits: keepOnly(row, (i) => !banned.has(i)) }
  }

/** Bans the end-of-sequence token(s) while the whole sequence is shorter than n. */
const minLength =
  (n: number, eos: readonly number[]): ReferenceProcessor =>
  (ctx, row) => ({ logits: ctx.tokens.length < n ? keepOnly(row, (i) => !eos.includes(i)) : copy(row) })

/** Reference implementations of the usual processors, by the library's names. */
export const reference = {
  temperature,
  topK,
  topP,
  minP,
  typicalP,
  badWords,
  minLength,
  repetitionPenalty,
  frequencyPenalty,
  presencePenalty,
  noRepeatNgram,
  bannedTokens,
  logitBias,
  minNewTokens,
} as const

/** How a processed row differs from its reference, in words; undefined when it matches. */
export const mismatch = (got: Float32Array, want: Expected, tolerance = 1e-5): string | undefined => {
  if (got.length !== want.logits.length) return `it returned ${got.length} logits, the reference ${want.logits.length}`
  for (let i = 0; i < got.length; i++) {
    const g = got[i]
    const w = want.logits[i]
    const amb = want.ambiguous?.has(i) === true
    if (g === -Infinity) {
      if (w !== -Infinity && !amb) return `token ${i} was filtered, but the reference keeps it (logit ${w})`
      continue
    }
    if (w === -Infinity) return `token ${i} was kept (logit ${g}), but the reference filters it`
    const clamped = Math.max(-3.4028234663852886e38, Math.min(3.4028234663852886e38, w))
    if (!(Math.abs(g - clamped) <= tolerance * Math.max(1, Math.abs(clamped)))) return `token ${i}'s logit is ${g}, the reference gives ${clamped}`
  }
  return undefined
}
