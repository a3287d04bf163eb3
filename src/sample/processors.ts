/**
 * Logits processors: pure functions that reshape a row of next-token logits before a token is
 * chosen (penalties, bans, temperature, truncation).
 *
 * A {@link LogitsProcessor} is curried: `(ctx) => (logits) => logits`. Given the decoding
 * context it becomes a plain `Float32Array => Float32Array` endomorphism, so a chain for one
 * step is ordinary function composition, `flow(repetitionPenalty(1.2)(ctx), topK(40)(ctx))`
 * with fp-ts, or {@link composeProcessors} to build a reusable chain that is again a
 * `LogitsProcessor`. Processors never mutate their input: each returns a new row, or the input
 * itself when it has nothing to change (so treat rows as immutable). A filtered token's logit becomes `-Infinity`; finite
 * results are clamped to the float32 range so that finite logits stay finite.
 *
 * Nothing here depends on TensorFlow.js: logits can come from any model (ONNX, a server).
 */
import { FLOAT32_MAX, softmax, logSoftmax } from './softmax.js'

/** What a processor may look at besides the logits: the decoding state of one sequence. */
export interface ProcessorContext {
  /** Every token so far, the prompt included. */
  readonly tokens: readonly number[]
  /** How many of `tokens` are the prompt. */
  readonly promptLength: number
  /** How many tokens have been generated so far (`tokens.length - promptLength`). */
  readonly step: number
}

/** A pure logits transformation, curried on the decoding context. Never mutates its input. */
export type LogitsProcessor = (ctx: ProcessorContext) => (logits: Float32Array) => Float32Array

/** Builds the context for a sequence whose prompt is `prompt` and generated tokens `generated`. */
export const processorContext = (prompt: readonly number[], generated: readonly number[]): ProcessorContext => new LazyContext(prompt, generated)

// `tokens` is built on first use: most chains (temperature, top-k, top-p …) never read it, and
// the engine makes a context for every row at every step.
class LazyContext implements ProcessorContext {
  private all: readonly number[] | undefined
  readonly promptLength: number
  readonly step: number
  constructor(
    private readonly prompt: readonly number[],
    private readonly generated: readonly number[],
  ) {
    this.promptLength = prompt.length
    this.step = generated.length
  }
  get tokens(): readonly number[] {
    return (this.all ??= this.prompt.concat(this.generated))
  }
}

/**
 * Composes processors left to right (the first runs first) into one processor; built on
 * fp-ts-style function composition, `composeProcessors(a, b)(ctx) = flow(a(ctx), b(ctx))`.
 */
export const composeProcessors =
  (...processors: readonly LogitsProcessor[]): LogitsProcessor =>
  (ctx) => {
    const fs = processors.map((p) => p(ctx))
    return (logits) => fs.reduce((row, f) => f(row), logits)
  }

// ---------------------------------------------------------------------------------------------
// helpers

const clamp32 = (x: number): number => (x > FLOAT32_MAX ? FLOAT32_MAX : x < -FLOAT32_MAX && x !== -Infinity ? -FLOAT32_MAX : x)

const mapRow = (logits: Float32Array, f: (x: number, i: number) => number): Float32Array => {
  const out = new Float32Array(logits.length)
  for (let i = 0; i < logits.length; i++) out[i] = clamp32(f(logits[i], i))
  return out
}

const checkToken = (where: string, token: number, vocab: number): void => {
  if (!Number.isInteger(token) || token < 0 || token >= vocab) {
    throw new RangeError(`${where}: token ${token} is outside the vocabulary [0, ${vocab})`)
  }
}

/** A copy of `logits` with `banned` set to -Infinity (the input is not touched). */
const ban = (where: string, logits: Float32Array, banned: Iterable<number>): Float32Array => {
  const out = logits.slice()
  for (const t of banned) {
    checkToken(where, t, logits.length)
    out[t] = -Infinity
  }
  return out
}

/** Keeps exactly the indices in `keep` (everything else becomes -Infinity). */
const keepOnly = (logits: Float32Array, keep: ArrayLike<number>): Float32Array => {
  const out = new Float32Array(logits.length).fill(-Infinity)
  for (let j = 0; j < keep.length; j++) out[keep[j]] = logits[keep[j]]
  return out
}

/** Indices of the entries that are not -Infinity. */
const candidates = (logits: Float32Array): number[] => {
  const out: number[] = []
  for (let i = 0; i < logits.length; i++) if (logits[i] !== -Infinity) out.push(i)
  return out
}

/** Candidate indices sorted by key descending, ties by lower index. */
const sortedBy = (idx: number[], key: ArrayLike<number>, ascending = false): number[] =>
  idx.sort((a, b) => (key[a] === key[b] ? a - b : (ascending ? key[a] > key[b] : key[a] < key[b]) ? 1 : -1))

/** The shortest prefix of `order` whose probability mass reaches `mass` (at least one index). */
const prefixReaching = (order: readonly number[], probs: ArrayLike<number>, mass: number): number[] => {
  let cum = 0
  let n = 0
  while (n < order.length) {
    cum += probs[order[n]]
    n++
    if (cum >= mass) break
  }
  return order.slice(0, n)
}

const check = (ok: boolean, what: string): void => {
  if (!ok) throw new RangeError(what)
}

const eosList = (eos: number | readonly number[]): readonly number[] => (typeof eos === 'number' ? [eos] : eos)

// ---------------------------------------------------------------------------------------------
// processors

/** Leaves the logits as they are (the unit of {@link composeProcessors}). */
export const identityProcessor: LogitsProcessor = () => (logits) => logits

/** Divides every logit by `t` (> 0): below 1 sharpens the distribution, above 1 flattens it. */
export const temperature = (t: number): LogitsProcessor => {
  check(Number.isFinite(t) && t > 0, `temperature must be finite and > 0, got ${t}`)
  return () => (logits) => mapRow(logits, (x) => x / t)
}

/**
 * Keeps the `k` most likely tokens (or every candidate when fewer than `k` are finite). Ties at
 * the boundary are broken by lower index, so exactly min(k, candidates) tokens survive.
 */
export const topK = (k: number): LogitsProcessor => {
  check(Number.isInteger(k) && k >= 1, `top_k must be an integer >= 1, got ${k}`)
  return () => (logits) => {
    const idx = candidates(logits)
    if (idx.length <= k) return logits.slice()
    const vals = Float32Array.from(idx, (i) => logits[i]).sort()
    const threshold = vals[vals.length - k] // the k-th largest value
    let above = 0
    for (const i of idx) if (logits[i] > threshold) above++
    let equalLeft = k - above
    const out = new Float32Array(logits.length)
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i]
      if (x > threshold) out[i] = x
      else if (x === threshold && equalLeft > 0) {
        out[i] = x
        equalLeft--
      } else out[i] = -Infinity
    }
    return out
  }
}

/**
 * Nucleus filtering: sorts tokens by probability (ties by lower index) and keeps the smallest
 * prefix whose mass reaches `p` (in (0, 1]). The most likely token is always kept.
 */
export const topP = (p: number): LogitsProcessor => {
  check(p > 0 && p <= 1, `top_p must be in (0, 1], got ${p}`)
  return () => (logits) => {
    const probs = softmax(logits)
    return keepOnly(logits, prefixReaching(sortedBy(candidates(logits), logits), probs, p))
  }
}

/**
 * Keeps exactly the tokens whose probability is at least `minP · p_max` (`minP` in [0, 1]);
 * the most likely token always qualifies.
 */
export const minP = (m: number): LogitsProcessor => {
  check(m >= 0 && m <= 1, `min_p must be in [0, 1], got ${m}`)
  return () => (logits) => {
    const probs = softmax(logits)
    let pmax = 0
    for (let i = 0; i < probs.length; i++) if (probs[i] > pmax) pmax = probs[i]
    const bar = m * pmax
    return mapRow(logits, (x, i) => (probs[i] >= bar ? x : -Infinity))
  }
}

/**
 * Locally typical sampling (Meister et al. 2022, as in Hugging Face's TypicalLogitsWarper):
 * orders tokens by |−log p − H| (H the entropy; ties by lower index) and keeps the smallest
 * prefix whose mass reaches `mass` (in (0, 1]). At least one token survives: the most
 * *typical*, which need not be the most likely (forcing the argmax in would defeat the method).
 */
export const typicalP = (mass: number): LogitsProcessor => {
  check(mass > 0 && mass <= 1, `typical_p must be in (0, 1], got ${mass}`)
  return () => (logits) => {
    const logp = logSoftmax(logits)
    const idx = candidates(logits)
    let entropy = 0
    for (const i of idx) if (logp[i] > -Infinity) entropy -= Math.exp(logp[i]) * logp[i]
    const shifted = new Float64Array(logits.length)
    for (const i of idx) shifted[i] = Math.abs(-logp[i] - entropy)
    const probs = Float64Array.from(logp, Math.exp)
    return keepOnly(logits, prefixReaching(sortedBy(idx, shifted, true), probs, mass))
  }
}

/**
 * Hugging Face's repetition penalty (Keskar et al. 2019): for every token already in the
 * context (prompt included), a positive logit is divided by `penalty` and a negative one
 * multiplied by it. `penalty` > 1 discourages repetition; 1 is the identity.
 */
export const repetitionPenalty = (penalty: number): LogitsProcessor => {
  check(Number.isFinite(penalty) && penalty > 0, `repetition_penalty must be finite and > 0, got ${penalty}`)
  return (ctx) => (logits) => {
    const seen = new Set(ctx.tokens)
    for (const t of seen) checkToken('repetitionPenalty', t, logits.length)
    return mapRow(logits, (x, i) => (seen.has(i) ? (x > 0 ? x / penalty : x * penalty) : x))
  }
}

const generatedCounts = (ctx: ProcessorContext, vocab: number, where: string): Map<number, number> => {
  const counts = new Map<number, number>()
  for (let j = ctx.promptLength; j < ctx.tokens.length; j++) {
    const t = ctx.tokens[j]
    checkToken(where, t, vocab)
    counts.set(t, (counts.get(t) ?? 0) + 1)
  }
  return counts
}

/**
 * OpenAI's frequency penalty: subtracts `count · penalty` from each token's logit, where
 * count is how often it was generated so far (the prompt is not counted, as in vLLM).
 */
export const frequencyPenalty = (penalty: number): LogitsProcessor => {
  check(Number.isFinite(penalty), `frequency_penalty must be finite, got ${penalty}`)
  return (ctx) => (logits) => {
    const counts = generatedCounts(ctx, logits.length, 'frequencyPenalty')
    return mapRow(logits, (x, i) => x - (counts.get(i) ?? 0) * penalty)
  }
}

/** OpenAI's presence penalty: subtracts `penalty` once from every token generated so far. */
export const presencePenalty = (penalty: number): LogitsProcessor => {
  check(Number.isFinite(penalty), `presence_penalty must be finite, got ${penalty}`)
  return (ctx) => (logits) => {
    const counts = generatedCounts(ctx, logits.length, 'presencePenalty')
    return mapRow(logits, (x, i) => (counts.has(i) ? x - penalty : x))
  }
}

/**
 * Forbids repeating any n-gram of the context (prompt included): bans every token that would
 * complete an n-gram already present. `n = 1` bans every token seen so far.
 */
export const noRepeatNgram = (n: number): LogitsProcessor => {
  check(Number.isInteger(n) && n >= 1, `no_repeat_ngram_size must be an integer >= 1, got ${n}`)
  return (ctx) => (logits) => {
    const toks = ctx.tokens
    const L = toks.length
    if (L + 1 < n) return logits.slice()
    const banned: number[] = []
    // the last n-1 tokens are the prefix; every earlier occurrence of it bans its follower
    for (let s = 0; s + n <= L; s++) {
      let match = true
      for (let j = 0; j < n - 1 && match; j++) match = toks[s + j] === toks[L - n + 1 + j]
      if (match) banned.push(toks[s + n - 1])
    }
    return ban('noRepeatNgram', logits, banned)
  }
}

/** Bans individual tokens at every step (Hugging Face's `suppress_tokens`). */
export const bannedTokens = (tokens: readonly number[]): LogitsProcessor => {
  for (const t of tokens) check(Number.isInteger(t) && t >= 0, `banned token must be a non-negative integer, got ${t}`)
  return () => (logits) => ban('bannedTokens', logits, tokens)
}

/**
 * Bans token sequences (Hugging Face's `bad_words_ids`): the last token of a sequence is
 * banned whenever the context ends with the rest of it. A one-token sequence is always banned.
 */
export const badWords = (sequences: readonly (readonly number[])[]): LogitsProcessor => {
  for (const s of sequences) {
    check(s.length > 0, 'bad_words_ids must not contain an empty sequence')
    for (const t of s) check(Number.isInteger(t) && t >= 0, `bad word token must be a non-negative integer, got ${t}`)
  }
  return (ctx) => (logits) => {
    const toks = ctx.tokens
    const banned: number[] = []
    for (const s of sequences) {
      const k = s.length - 1
      if (k > toks.length) continue
      let match = true
      for (let j = 0; j < k && match; j++) match = toks[toks.length - k + j] === s[j]
      if (match) banned.push(s[k])
    }
    return ban('badWords', logits, banned)
  }
}

/** Bans the end-of-sequence token(s) while the whole sequence (prompt included) is shorter than `n`. */
export const minLength = (n: number, eos: number | readonly number[]): LogitsProcessor => {
  check(Number.isInteger(n) && n >= 0, `min_length must be an integer >= 0, got ${n}`)
  return (ctx) => (logits) => (ctx.tokens.length < n ? ban('minLength', logits, eosList(eos)) : logits)
}

/** Bans the end-of-sequence token(s) until `n` tokens have been generated. */
export const minNewTokens = (n: number, eos: number | readonly number[]): LogitsProcessor => {
  check(Number.isInteger(n) && n >= 0, `min_new_tokens must be an integer >= 0, got ${n}`)
  return (ctx) => (logits) => (ctx.step < n ? ban('minNewTokens', logits, eosList(eos)) : logits)
}

/** Adds a fixed value to chosen tokens' logits (OpenAI's `logit_bias`): token → bias. */
export const logitBias = (bias: ReadonlyMap<number, number> | Readonly<Record<number, number>>): LogitsProcessor => {
  const entries: readonly (readonly [number, number])[] = bias instanceof Map ? [...bias.entries()] : Object.entries(bias).map(([k, v]) => [Number(k), v] as const)
  for (const [t, b] of entries) {
    check(Number.isInteger(t) && t >= 0, `logit_bias key must be a non-negative integer token id, got ${t}`)
    check(Number.isFinite(b), `logit_bias[${t}] must be finite, got ${b}`)
  }
  return () => (logits) => {
    for (const [t] of entries) checkToken('logitBias', t, logits.length)
    const out = logits.slice()
    for (const [t, b] of entries) out[t] = clamp32(out[t] + b)
    return out
  }
}
