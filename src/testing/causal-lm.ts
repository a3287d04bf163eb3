/**
 * Invariants every causal language model should satisfy, as fast-check properties over any
 * {@link CausalLm}:
 *
 * - causal invariance: changing future tokens never changes past logits;
 * - prefix consistency: the logits of a prefix are the prefix of the logits;
 * - KV-cache equivalence: incremental decoding gives the logits of the full computation;
 * - batch invariance: a row's logits do not depend on its batch mates;
 * - padding invariance: padding (under the attention mask, anywhere) does not change real positions;
 * - left-padding invariance: a left-padded row equals the row alone, whole and through the cache;
 * - determinism: the same input gives bit-identical logits;
 * - backend agreement: cpu and wasm (or any backends) agree to a tolerance;
 * - finite outputs: every logit is finite for in-vocabulary inputs;
 * - attention distributions: every attention row is a distribution with zeros above the diagonal.
 *
 * Each is a {@link LmProperty} with `check` (a report, never throws on a violation) and
 * `assert` (throws a {@link PropertyViolation} whose message is the counterexample in words).
 * The model description is validated first (description.ts): a bad one fails every
 * invariant. Each runs sampled cases, then one at the long end (the longest length, the
 * largest batch).
 */
import * as tf from '@tensorflow/tfjs-core'
import * as fc from 'fast-check'
import { initBackend } from '../backend/index.js'
import { attentionMask, tokenBatch, tokenSequence } from './arbitraries.js'
import { callAttention, callLogits, guard, ModelError, modelName, readNextLogits, type CausalLm, type Logits, type TokenBatch } from './model.js'
import { describeProblems } from './description.js'
import { assertReport, assertReports, runProperty, skipped, Violation, type PropertyReport, type RunOptions } from './run.js'
import { batchInWords, compareRows, differenceInWords, numberInWords, rowInWords, tokensInWords, type Sides } from './words.js'

/** Options of the causal-LM properties. */
export interface CausalLmOptions extends RunOptions {
  /**
   * How far logits may differ and still count as equal: `tolerance · max(1, |expected|)`,
   * absolute below 1 and relative above (default 1e-5). Determinism is always exact.
   */
  readonly tolerance?: number
  /** The tolerance between backends (default 1e-4: kernels sum in different orders). */
  readonly backendTolerance?: number
  /**
   * The longest sequence tried (default: the model's maxLength, at most {@link LONG_CONTEXT};
   * a report says when the model's context is longer than what was tried). Lengths are
   * sampled, mostly short (bugs shrink there), and the longest length is always tried once.
   */
  readonly maxLength?: number
  /** The largest batch tried (default 8; the largest is always tried once). */
  readonly maxBatch?: number
  /** The backends compared by backend agreement, the first being the reference (default cpu, wasm). */
  readonly backends?: readonly string[]
}

/**
 * The longest sequence tried by default (64): longer contexts are tried only when asked for
 * (`maxLength`), since one case costs as much as a forward pass at that length.
 */
export const LONG_CONTEXT = 64

/** The largest batch tried by default. */
export const DEFAULT_MAX_BATCH = 8

/** The invariants by id. */
export type LmPropertyId =
  | 'causalInvariance'
  | 'prefixConsistency'
  | 'kvCacheEquivalence'
  | 'batchInvariance'
  | 'paddingInvariance'
  | 'leftPadding'
  | 'determinism'
  | 'backendAgreement'
  | 'finiteOutputs'
  | 'attentionDistributions'

/** One invariant of causal language models. */
export interface LmProperty {
  readonly id: LmPropertyId
  /** The invariant in words (`causal invariance`): the start of every message. */
  readonly name: string
  /** What it says, in a sentence. */
  readonly summary: string
  /**
   * Why the invariant cannot be checked on this model (a capability it declares it lacks), or
   * undefined. An invalid model description is never a reason to skip: it is a failure.
   */
  readonly skipReason: (model: CausalLm<any, any>, options?: CausalLmOptions) => string | undefined
  /** Checks the invariant; resolves to a report (failed, passed or skipped) and never throws on a violation. */
  readonly check: <P, S>(model: CausalLm<P, S>, options?: CausalLmOptions) => Promise<PropertyReport>
  /** Checks the invariant and throws a {@link PropertyViolation} (the counterexample in words) if it fails. */
  readonly assert: <P, S>(model: CausalLm<P, S>, options?: CausalLmOptions) => Promise<PropertyReport>
}

/** The sizes a property draws its cases from. */
interface Limits {
  readonly vocab: number
  /** The shortest sequence drawn (1 when sampling; the longest in the long-end run). */
  readonly minLength: number
  readonly maxLength: number
  readonly minBatch: number
  readonly maxBatch: number
  readonly tolerance: number
  /** fast-check's size for sequences: mostly short, sometimes up to maxLength. */
  readonly size: fc.SizeForArbitrary
}

const limitsOf = (model: CausalLm<any, any>, options: CausalLmOptions): Limits => ({
  vocab: model.vocabSize,
  minLength: 1,
  maxLength: Math.max(1, Math.min(options.maxLength ?? LONG_CONTEXT, model.maxLength)),
  minBatch: 1,
  maxBatch: Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH),
  tolerance: options.tolerance ?? 1e-5,
  size: 'small',
})

/** The limits of the one run at the long end: the longest sequences in the largest batch. */
const longEnd = (l: Limits): Limits => ({ ...l, minLength: l.maxLength, minBatch: l.maxBatch, size: 'max' })

/** A call of the model's logits that reports NaN at a real position as NaN, before any comparison. */
type LogitsCall = <P>(model: CausalLm<P, any>, tokens: TokenBatch, mask?: TokenBatch) => Promise<Logits>

interface Definition<T> {
  readonly id: LmPropertyId
  readonly name: string
  readonly summary: string
  readonly runs: number
  readonly requires: (model: CausalLm<any, any>, limits: Limits, options: CausalLmOptions) => string | undefined
  /** The cases, within the limits: sequences of minLength to maxLength tokens, minBatch to maxBatch rows where it draws batches. */
  readonly cases: (limits: Limits, model: CausalLm<any, any>) => fc.Arbitrary<T>
  readonly holds: <P, S>(model: CausalLm<P, S>, c: T, limits: Limits, options: CausalLmOptions, call: LogitsCall) => Promise<void>
  /** Set-up around the whole run (switching backends); may return a reason to skip. */
  readonly around?: (options: CausalLmOptions, run: () => Promise<PropertyReport>) => Promise<PropertyReport | string>
}

/** The first NaN at a real position of logits returned for `tokens`, as a violation naming the call. */
const nanFirst =
  (property: string): LogitsCall =>
  async (model, tokens, mask) => {
    const logits = await callLogits(model, tokens, mask)
    logits.forEach((row, b) =>
      row.forEach((l, q) => {
        if (mask !== undefined && mask[b][q] === 0) return
        const v = l.findIndex((x) => Number.isNaN(x))
        if (v >= 0) {
          const m = mask === undefined ? '' : ` with attention mask ${tokensInWords(mask[b])}`
          throw new Violation(
            `NaN in the logits (found while checking ${property}): the logits of ${tokensInWords(tokens[b])}${m} at position ${q} include NaN (token ${v}'s logit)${rowInWords(b, tokens.length)}; the model is not finite there, which breaks every comparison`,
          )
        }
      }),
    )
    return logits
  }

/** A failed report for an invalid model description: the problems, each naming its field. */
const invalidDescription = (property: string, subject: string, problems: readonly string[]): PropertyReport => ({
  property,
  subject,
  status: 'failed',
  message: `${property} could not be checked: the model description is invalid: ${problems.join('; ')}`,
  runs: 0,
  seed: 0,
})

const define = <T>(d: Definition<T>): LmProperty => {
  const skipReason = (model: CausalLm<any, any>, options: CausalLmOptions = {}) =>
    describeProblems(model).length > 0 ? undefined : d.requires(model, limitsOf(model, options), options)
  const check = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions = {}): Promise<PropertyReport> => {
    const subject = typeof (model as { name?: unknown })?.name === 'string' ? modelName(model) : 'the model'
    const problems = describeProblems(model)
    if (problems.length > 0) return invalidDescription(d.name, subject, problems)
    const reason = skipReason(model, options)
    if (reason !== undefined) return skipped(d.name, subject, reason)
    const limits = limitsOf(model, options)
    const call = nanFirst(d.name)
    const holds = (l: Limits) => (c: T) => d.holds(model, c, l, options, call)
    const run = () => runSampled(d.name, subject, limits, model, options, d, holds)
    const report = d.around === undefined ? await run() : await d.around(options, run)
    return typeof report === 'string' ? skipped(d.name, subject, report) : report
  }
  return {
    id: d.id,
    name: d.name,
    summary: d.summary,
    skipReason,
    check,
    assert: async (model, options) => assertReport(await check(model, options)),
  }
}

/**
 * The two runs of a property: the sampled cases (mostly short, some up to the longest; a
 * failure shrinks there and replays from `{ seed, path }`), then, if they held, one case at
 * the long end: the longest sequences in the largest batch, for bugs that show only at length
 * 9 or batch 4 (a replay with `path` skips it). The report counts both, and says when the
 * model's context is longer than what was tried.
 */
const runSampled = async <T>(
  name: string,
  subject: string,
  limits: Limits,
  model: CausalLm<any, any>,
  options: CausalLmOptions,
  d: Definition<T>,
  holds: (l: Limits) => (c: T) => Promise<void>,
): Promise<PropertyReport> => {
  const sampledLimits: Limits = { ...limits, size: limits.maxLength > 10 ? 'medium' : 'small' }
  const sampled = await runProperty(name, subject, d.cases(sampledLimits, model), holds(sampledLimits), d.runs, options)
  if (sampled.status !== 'passed') return sampled
  const longest = longEnd(limits)
  const long =
    options.path !== undefined || (limits.maxLength <= 2 && limits.maxBatch <= 1)
      ? undefined
      : await runProperty(name, subject, d.cases(longest, model), holds(longest), 1, {
          ...options,
          seed: options.seed ?? sampled.seed,
          numRuns: 1,
          path: undefined,
          endOnFailure: true,
        })
  if (long?.status === 'failed') {
    return {
      ...long,
      seed: sampled.seed,
      path: undefined,
      message: long.message.replace(
        /\n {2}found by fast-check .*$/s,
        `\n  found on the long-end case (${limits.maxLength} tokens, batch of up to ${limits.maxBatch}) after ${sampled.runs} shorter cases held; replay with { seed: ${sampled.seed} }`,
      ),
    }
  }
  const runs = sampled.runs + (long?.runs ?? 0)
  const note = long === undefined ? undefined : `one case at the long end: ${limits.maxLength} tokens in a batch of up to ${limits.maxBatch}`
  const contextNote =
    model.maxLength > limits.maxLength ? `; the model's context is ${model.maxLength} tokens, only lengths up to ${limits.maxLength} were tried (pass maxLength to try longer)` : ''
  return {
    ...sampled,
    runs,
    message: sampled.message.replace(/^(.*?): held on \d+ cases/, `$1: held on ${runs} cases`) + contextNote,
    ...(note === undefined ? {} : { note }),
  }
}

const needs = (limits: Limits, length: number, vocab: number): string | undefined =>
  limits.maxLength < length
    ? `it needs sequences of ${length} tokens; the model (or maxLength) allows ${limits.maxLength}`
    : limits.vocab < vocab
      ? `it needs a vocabulary of at least ${vocab} tokens`
      : undefined

/** Offsets in [1, vocab): adding one (mod vocab) always changes a token. */
const offsets = (limits: Limits) => fc.array(fc.integer({ min: 1, max: limits.vocab - 1 }), { minLength: limits.maxLength, maxLength: limits.maxLength })

const tol = (limits: Limits) => limits.tolerance

/** Token sequences within the limits, of at least `min` tokens. */
const sequences = (l: Limits, min: number) => tokenSequence({ vocabSize: l.vocab, minLength: Math.max(min, l.minLength), maxLength: l.maxLength, size: l.size })

/** Token batches within the limits, of at least `min` tokens and `minBatch` rows. */
const batches = (l: Limits, min = 1, minBatch = 1) =>
  tokenBatch({
    vocabSize: l.vocab,
    minLength: Math.max(min, l.minLength),
    maxLength: l.maxLength,
    minBatch: Math.max(minBatch, l.minBatch),
    maxBatch: Math.max(minBatch, l.maxBatch),
    size: l.size,
  })

/** Throws a {@link Violation} at the first position in `positions` where `actual` and `expected` differ. */
const firstDifference = (
  actual: readonly Float32Array[],
  expected: readonly Float32Array[],
  positions: Iterable<number>,
  tolerance: number,
  sides: Sides,
  say: (position: number, difference: string) => string,
): void => {
  for (const q of positions) {
    const d = compareRows(actual[q], expected[q], tolerance)
    if (!d.within) throw new Violation(say(q, differenceInWords(d, tolerance, sides)))
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)

// ---------------------------------------------------------------------------------------------

/** Changing future tokens never changes past logits. */
export const causalInvariance: LmProperty = define({
  id: 'causalInvariance',
  name: 'causal invariance',
  summary: 'changing the tokens after a position never changes the logits at or before it',
  runs: 25,
  requires: (_m, l) => needs(l, 2, 2),
  cases: (l) =>
    fc.record({ tokens: sequences(l, 2), cut: fc.nat(), offsets: offsets(l) }).map(({ tokens, cut, offsets }) => {
      const position = cut % (tokens.length - 1)
      return { tokens, position, changed: tokens.map((t, i) => (i <= position ? t : (t + offsets[i]) % l.vocab)) }
    }),
  holds: async (model, { tokens, position, changed }, l, _o, call) => {
    const before = await call(model, [tokens])
    const after = await call(model, [changed])
    firstDifference(
      after[0],
      before[0],
      range(0, position + 1),
      tol(l),
      ['before', 'after'],
      (q, by) =>
        `causal invariance violated: changing the tokens after position ${position} of ${tokensInWords(tokens)} (to ${tokensInWords(changed)}) changed the logits at position ${q} by ${by}`,
    )
  },
})

/** The logits of a prefix equal the prefix of the logits. */
export const prefixConsistency: LmProperty = define({
  id: 'prefixConsistency',
  name: 'prefix consistency',
  summary: 'the logits of a prefix equal the first positions of the logits of the whole sequence',
  runs: 20,
  requires: (_m, l) => needs(l, 2, 1),
  cases: (l) =>
    fc.record({ tokens: sequences(l, 2), cut: fc.nat() }).map(({ tokens, cut }) => ({
      tokens,
      prefix: tokens.slice(0, 1 + (cut % (tokens.length - 1))),
    })),
  holds: async (model, { tokens, prefix }, l, _o, call) => {
    const whole = await call(model, [tokens])
    const part = await call(model, [prefix])
    firstDifference(
      part[0],
      whole[0],
      range(0, prefix.length),
      tol(l),
      ['in the whole sequence', 'in the prefix'],
      (q, by) =>
        `prefix consistency violated: the logits of the prefix ${tokensInWords(prefix)} at position ${q} differ by ${by} from those of the whole sequence ${tokensInWords(tokens)}`,
    )
  },
})

/**
 * Feeds `rows` to incremental decoding: prefill the first `prompt` positions (with `mask`'s
 * columns when given), then one token at a time; `compare(logits, position)` sees every
 * position's next-token logits. Releases every cache exactly once.
 */
const decode = async <P, S>(
  model: CausalLm<P, S>,
  rows: TokenBatch,
  prompt: number,
  mask: TokenBatch | undefined,
  compare: (got: readonly Float32Array[], position: number) => void,
): Promise<void> => {
  const inc = model.incremental
  if (inc === undefined) throw new ModelError(`${modelName(model)} offers no incremental decoding`)
  const b = rows.length
  const prompts = rows.map((r) => r.slice(0, prompt))
  const attentionMask = mask?.map((r) => r.slice(0, prompt))
  const said = `incremental.prefill(${batchInWords(prompts)}${attentionMask === undefined ? '' : `, attention mask ${batchInWords(attentionMask)}`})`
  let out = await guard(said, () => (attentionMask === undefined ? inc.prefill(prompts) : inc.prefill(prompts, { attentionMask })))
  let cache = out.cache
  try {
    compare(await readNextLogits(out.logits, b, model.vocabSize, said), prompt - 1)
    for (let j = prompt; j < rows[0].length; j++) {
      const fed = rows.map((r) => r[j])
      out = await guard(`incremental.step(…, ${tokensInWords(fed)}) at position ${j}`, () => inc.step(cache, fed))
      if (out.cache !== cache) inc.release(cache)
      cache = out.cache
      compare(await readNextLogits(out.logits, b, model.vocabSize, `incremental.step(…, ${tokensInWords(fed)}) at position ${j}`), j)
    }
  } finally {
    inc.release(cache)
  }
}

/** Incremental decoding (prefill, then one token at a time) equals the full computation. */
export const kvCacheEquivalence: LmProperty = define({
  id: 'kvCacheEquivalence',
  name: 'KV-cache equivalence',
  summary: 'prefilling a prompt and feeding the rest one token at a time gives the logits of computing the whole sequence at once',
  runs: 20,
  requires: (m, l) => (m.incremental === undefined ? 'the model offers no incremental decoding (incremental)' : needs(l, 2, 1)),
  cases: (l) =>
    fc.record({ rows: batches(l, 2), cut: fc.nat() }).map(({ rows, cut }) => ({
      rows,
      prompt: 1 + (cut % (rows[0].length - 1)),
    })),
  holds: async (model, { rows, prompt }, l, _o, call) => {
    const full = await call(model, rows)
    const b = rows.length
    const say = (position: number, row: number, by: string) =>
      `KV-cache equivalence violated: for ${tokensInWords(rows[row])}, prefilling ${tokensInWords(rows[row].slice(0, prompt))} and then feeding ${rows[row].slice(prompt, position + 1).join(', ') || 'nothing'} one token at a time gave logits at position ${position} that differ from the full computation by ${by}${rowInWords(row, b)}`
    await decode(model, rows, prompt, undefined, (got, position) => {
      got.forEach((r, row) => {
        const d = compareRows(r, full[row][position], tol(l))
        if (!d.within) throw new Violation(say(position, row, differenceInWords(d, tol(l), ['computed whole', 'decoded incrementally'])))
      })
    })
  },
})

/** A sequence's logits do not depend on the other rows of its batch. */
export const batchInvariance: LmProperty = define({
  id: 'batchInvariance',
  name: 'batch invariance',
  summary: "a sequence's logits are the same alone and inside any batch",
  runs: 15,
  requires: (_m, l) => (l.maxBatch < 2 ? 'it needs batches of 2 rows; maxBatch is 1' : undefined),
  cases: (l) => batches(l, 1, 2),
  holds: async (model, rows, l, _o, call) => {
    const together = await call(model, rows)
    for (let i = 0; i < rows.length; i++) {
      const alone = await call(model, [rows[i]])
      firstDifference(
        together[i],
        alone[0],
        range(0, rows[i].length),
        tol(l),
        ['alone', 'in the batch'],
        (q, by) =>
          `batch invariance violated: the logits of ${tokensInWords(rows[i])} at position ${q} changed by ${by} when it was row ${i} of the batch ${batchInWords(rows)} instead of alone`,
      )
    }
  },
})

interface PaddingCase {
  /** Tokens with the baseline fillers at padding positions. */
  readonly tokens: number[][]
  /** The same tokens with other fillers at padding positions. */
  readonly other: number[][]
  readonly mask: number[][]
}

const isRightPadded = (mask: readonly number[]): boolean => mask.every((x, i) => i === 0 || x <= mask[i - 1])

const takesMask = (m: CausalLm<any, any>): boolean => m.padding === 'mask' || m.padding === 'left'

/** Throws unless every logit at a real position is finite (NaN is caught earlier, as NaN). */
const finiteAtReal = (logits: Logits, tokens: TokenBatch, mask: TokenBatch, property: string): void => {
  logits.forEach((row, b) =>
    row.forEach((l, q) => {
      if (mask[b][q] === 0) return
      const v = l.findIndex((x) => !Number.isFinite(x))
      if (v >= 0) {
        throw new Violation(
          `${property} violated: with attention mask ${tokensInWords(mask[b])}, the logits of ${tokensInWords(tokens[b])} at real position ${q} include ${l[v]} (token ${v}'s logit)${rowInWords(b, tokens.length)}`,
        )
      }
    }),
  )
}

/** Padding under the attention mask changes nothing at real positions. */
export const paddingInvariance: LmProperty = define<PaddingCase>({
  id: 'paddingInvariance',
  name: 'padding invariance',
  summary:
    'the tokens at padding positions (anywhere, the first positions included) never change the logits at real positions, which stay finite, and a right-padded row has the logits of the row alone',
  runs: 20,
  requires: (m, l) =>
    m.padding === undefined ? 'the model does not declare padding support (padding: "mask", "left" or { padId })' : takesMask(m) ? needs(l, 2, 2) : needs(l, 2, 1),
  cases: (l, model) => {
    const padId = typeof model.padding === 'object' ? model.padding.padId : undefined
    const placement = takesMask(model) ? 'any' : 'right'
    const masks = fc.array(attentionMask(l.maxLength, placement, takesMask(model)), { minLength: l.maxBatch, maxLength: l.maxBatch })
    return fc.record({ rows: batches(l, 2), masks, offsets: l.vocab >= 2 ? offsets(l) : fc.constant([]) }).map(({ rows, masks, offsets }) => {
      // A mask cut to the row's length may have lost its real tokens: keep the last one real then.
      const mask = rows.map((r, b) => {
        const m = masks[b].slice(0, r.length)
        return m.includes(1) ? m : m.map((x, i) => (i === m.length - 1 ? 1 : x))
      })
      const tokens = rows.map((r, b) => r.map((t, i) => (mask[b][i] === 1 || padId === undefined ? t : padId)))
      const other = tokens.map((r, b) => r.map((t, i) => (mask[b][i] === 1 || padId !== undefined ? t : (t + offsets[i]) % l.vocab)))
      return { tokens, other, mask }
    })
  },
  holds: async (model, { tokens, other, mask }, l, _o, call) => {
    const b = tokens.length
    const base = await call(model, tokens, mask)
    if (takesMask(model)) {
      finiteAtReal(base, tokens, mask, 'padding invariance')
      const changed = await call(model, other, mask)
      for (let row = 0; row < b; row++) {
        const real = range(0, mask[row].length).filter((i) => mask[row][i] === 1)
        firstDifference(
          changed[row],
          base[row],
          real,
          tol(l),
          ['before', 'after'],
          (q, by) =>
            `padding invariance violated: with attention mask ${tokensInWords(mask[row])}, changing the padding tokens of ${tokensInWords(tokens[row])} (to ${tokensInWords(other[row])}) changed the logits at real position ${q} by ${by}${rowInWords(row, b)}`,
        )
      }
    }
    for (let row = 0; row < b; row++) {
      const m = mask[row]
      const real = m.filter((x) => x === 1).length
      if (!isRightPadded(m) || real === m.length) continue
      const alone = await call(model, [tokens[row].slice(0, real)])
      firstDifference(
        base[row],
        alone[0],
        range(0, real),
        tol(l),
        ['unpadded', 'padded'],
        (q, by) =>
          `padding invariance violated: the logits of ${tokensInWords(tokens[row].slice(0, real))} at position ${q} differ by ${by} between running it unpadded and right-padded as ${tokensInWords(tokens[row])} (attention mask ${tokensInWords(m)})${rowInWords(row, b)}`,
      )
    }
  },
})

interface LeftPaddingCase {
  /** Left-padded rows (arbitrary tokens at padding positions). */
  readonly tokens: number[][]
  readonly mask: number[][]
  /** How many padding positions each row starts with. */
  readonly pads: number[]
  /** The prompt length prefilled (covers every row's padding and at least one real token). */
  readonly prompt: number
}

/**
 * Left padding, as batched generation does it (Hugging Face's `padding_side='left'` with
 * positions counted over the real tokens): a left-padded row has the logits of the row alone
 * at its real positions, in one pass and through the cache.
 */
export const leftPaddingInvariance: LmProperty = define<LeftPaddingCase>({
  id: 'leftPadding',
  name: 'left-padding invariance',
  summary:
    'rows of different lengths left-padded into one batch have the logits of each row alone at their real positions (finite there), computed whole and, given incremental decoding, through a cache prefilled with the padded prompts and their mask',
  runs: 15,
  requires: (m, l) =>
    m.padding !== 'left' ? 'the model does not declare left padding (padding: "left": it honours the mask and counts positions over real tokens)' : needs(l, 2, 1),
  cases: (l) =>
    fc.record({ rows: batches(l, 2), reals: fc.array(fc.nat(), { minLength: l.maxBatch, maxLength: l.maxBatch }), cut: fc.nat() }).map(({ rows, reals, cut }) => {
      const t = rows[0].length
      // The first row is never padded (the batch is as long as its longest row), the others may be.
      const pads = rows.map((_, b) => (b === 0 ? 0 : t - 1 - (reals[b] % t)))
      const most = Math.max(...pads)
      return {
        tokens: rows.map((r) => [...r]),
        mask: rows.map((_, b) => Array.from({ length: t }, (_, i) => (i < pads[b] ? 0 : 1))),
        pads,
        prompt: most + 1 + (cut % (t - most)),
      }
    }),
  holds: async (model, { tokens, mask, pads, prompt }, l, _o, call) => {
    const b = tokens.length
    const full = await call(model, tokens, mask)
    finiteAtReal(full, tokens, mask, 'left-padding invariance')
    const alone: Logits[] = []
    for (let row = 0; row < b; row++) {
      const real = tokens[row].slice(pads[row])
      alone.push(await call(model, [real]))
      firstDifference(
        full[row].slice(pads[row]),
        alone[row][0],
        range(0, real.length),
        tol(l),
        ['alone', 'left-padded'],
        (q, by) =>
          `left-padding invariance violated: the logits of ${tokensInWords(real)} at position ${q} differ by ${by} between running it alone and left-padded as ${tokensInWords(tokens[row])} (attention mask ${tokensInWords(mask[row])}) in the batch ${batchInWords(tokens)}`,
      )
    }
    if (model.incremental === undefined) return
    await decode(model, tokens, prompt, mask, (got, position) => {
      got.forEach((r, row) => {
        const q = position - pads[row]
        const d = compareRows(r, alone[row][0][q], tol(l))
        if (!d.within) {
          throw new Violation(
            `left-padding invariance violated: prefilling ${tokensInWords(tokens[row].slice(0, prompt))} with attention mask ${tokensInWords(mask[row].slice(0, prompt))} and decoding ${tokensInWords(tokens[row].slice(prompt, position + 1))} one token at a time gave logits at position ${position} that differ by ${differenceInWords(d, tol(l), ['alone', 'through the padded cache'])} from those of ${tokensInWords(tokens[row].slice(pads[row]))} alone at position ${q}${rowInWords(row, b)}`,
          )
        }
      })
    })
  },
})

/** The same input gives bit-identical logits. */
export const determinism: LmProperty = define({
  id: 'determinism',
  name: 'determinism',
  summary: 'computing the logits of the same tokens twice gives identical values (no hidden randomness or state)',
  runs: 10,
  requires: () => undefined,
  cases: (l) => batches(l),
  holds: async (model, rows, _l, _o, call) => {
    const first = await call(model, rows)
    const second = await call(model, rows)
    for (let row = 0; row < rows.length; row++) {
      for (let q = 0; q < rows[row].length; q++) {
        const d = compareRows(second[row][q], first[row][q], 0)
        if (!d.within) {
          throw new Violation(
            `determinism violated: computing the logits of ${batchInWords(rows)} twice gave different values at position ${q}${rowInWords(row, rows.length)}: token ${d.at}'s logit was ${d.expected}, then ${d.actual} (a difference of ${numberInWords(d.by)}; they must be identical)`,
          )
        }
      }
    }
  },
})

const backendsOf = (options: CausalLmOptions): readonly string[] => options.backends ?? ['cpu', 'wasm']

/** The active backend's name, or undefined when none has been started yet (tf.getBackend() starts none). */
const currentBackend = (): string | undefined => {
  const name: unknown = tf.getBackend()
  return typeof name === 'string' && name !== '' ? name : undefined
}

/**
 * Makes the backend found before the check active again. When none had started (a model in
 * plain arrays, say, checked before any tensor op), the reference backend — the first listed —
 * is left active rather than the last one compared: tfjs cannot return to "no backend".
 */
const restore = async (name: string | undefined, reference: string): Promise<void> => {
  const target = name ?? reference
  if (tf.getBackend() !== target) await initBackend(target)
}

/** Starts each backend once (to know whether it can run here), leaving the active one active. */
const startable = async (names: readonly string[]): Promise<string | undefined> => {
  const original = currentBackend()
  try {
    for (const name of names) {
      try {
        await initBackend(name)
      } catch (e) {
        return `the ${name} backend cannot start here: ${(e as Error).message}`
      }
    }
    return undefined
  } finally {
    await restore(original, names[0])
  }
}

/** cpu and wasm (or the given backends) compute the same logits, to a tolerance. */
export const backendAgreement: LmProperty = define({
  id: 'backendAgreement',
  name: 'backend agreement',
  summary: 'every backend computes the same logits as the first one, to a tolerance (the suite switches backends itself)',
  runs: 8,
  requires: (_m, _l, o) => (backendsOf(o).length < 2 ? 'it needs two backends to compare' : undefined),
  cases: (l) => batches(l),
  around: async (options, run) => {
    const reason = await startable(backendsOf(options))
    if (reason !== undefined) return reason
    const original = currentBackend()
    try {
      return await run()
    } finally {
      await restore(original, backendsOf(options)[0])
    }
  },
  holds: async (model, rows, _l, options, call) => {
    const names = backendsOf(options)
    const tolerance = options.backendTolerance ?? 1e-4
    const original = currentBackend()
    const results: Logits[] = []
    try {
      for (const name of names) {
        await initBackend(name)
        results.push(await call(model, rows))
      }
    } finally {
      await restore(original, names[0])
    }
    for (let i = 1; i < names.length; i++) {
      for (let row = 0; row < rows.length; row++) {
        firstDifference(
          results[i][row],
          results[0][row],
          range(0, rows[row].length),
          tolerance,
          [`on ${names[0]}`, `on ${names[i]}`],
          (q, by) =>
            `backend agreement violated: the logits of ${tokensInWords(rows[row])} at position ${q} differ by ${by} between ${names[0]} and ${names[i]}${rowInWords(row, rows.length)}`,
        )
      }
    }
  },
})

/** Every logit is finite for in-vocabulary tokens (and any attention mask, when the model takes one). */
export const finiteOutputs: LmProperty = define({
  id: 'finiteOutputs',
  name: 'finite outputs',
  summary: 'the logits at every real position are finite for any in-vocabulary tokens up to the maximum length',
  runs: 20,
  requires: () => undefined,
  cases: (l, model) =>
    fc
      .record({
        rows: batches(l),
        masks: takesMask(model)
          ? fc.option(fc.array(attentionMask(l.maxLength, 'any', true), { minLength: l.maxBatch, maxLength: l.maxBatch }), { nil: undefined })
          : fc.constant(undefined),
      })
      .map(({ rows, masks }) => ({
        rows,
        mask: masks?.slice(0, rows.length).map((m) => {
          const cut = m.slice(0, rows[0].length)
          return cut.includes(1) ? cut : cut.map((x, i) => (i === cut.length - 1 ? 1 : x))
        }),
      })),
  holds: async (model, { rows, mask }) => {
    const logits = await callLogits(model, rows, mask)
    rows.forEach((r, row) => {
      r.forEach((_, q) => {
        if (mask !== undefined && mask[row][q] === 0) return
        const v = logits[row][q].findIndex((x) => !Number.isFinite(x))
        if (v >= 0) {
          const m = mask === undefined ? '' : ` (attention mask ${tokensInWords(mask[row])})`
          throw new Violation(
            `finite outputs violated: the logits of ${tokensInWords(r)}${m} at position ${q} include ${logits[row][q][v]} (token ${v}'s logit)${rowInWords(row, rows.length)}`,
          )
        }
      })
    })
  },
})

/** Attention rows are distributions with zeros above the diagonal. */
export const attentionDistributions: LmProperty = define({
  id: 'attentionDistributions',
  name: 'attention distributions',
  summary: "every layer's attention weights are non-negative, sum to 1 over the keys, and are 0 on later positions",
  runs: 20,
  requires: (m) => (m.attention === undefined ? 'the model does not expose its attention weights (attention)' : undefined),
  cases: (l) => batches(l),
  holds: async (model, rows, l) => {
    const layers = await callAttention(model, rows)
    const n = rows[0].length
    const t = tol(l)
    layers.forEach(({ shape, values }, layer) => {
      const [b, heads, q, k] = shape
      if (b !== rows.length || q !== n || k !== n) {
        throw new Violation(
          `attention distributions could not be checked: layer ${layer}'s weights for ${batchInWords(rows)} have shape [${shape.join(', ')}], expected [${rows.length}, heads, ${n}, ${n}]`,
        )
      }
      for (let row = 0; row < b; row++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < q; i++) {
            const base = ((row * heads + h) * q + i) * k
            const where = `in layer ${layer}, head ${h}, query ${i} of ${tokensInWords(rows[row])}${rowInWords(row, b)}`
            let sum = 0
            for (let j = 0; j < k; j++) {
              const w = values[base + j]
              if (!(Number.isFinite(w) && w >= -t))
                throw new Violation(`attention distributions violated: ${where} puts weight ${numberInWords(w)} on key ${j}, which is not a probability`)
              if (j > i && Math.abs(w) > t) {
                throw new Violation(
                  `attention distributions violated: ${where} puts weight ${numberInWords(w)} on key ${j}, a later position (it must be 0; tolerance ${numberInWords(t)})`,
                )
              }
              sum += w
            }
            if (!(Math.abs(sum - 1) <= t * Math.max(1, k))) {
              throw new Violation(
                `attention distributions violated: ${where} has weights summing to ${numberInWords(sum, 6)}, not 1 (tolerance ${numberInWords(t * Math.max(1, k))})`,
              )
            }
          }
        }
      }
    })
  },
})

/** Every causal-LM invariant, in the order the suites run them. */
export const LM_PROPERTIES: readonly LmProperty[] = [
  causalInvariance,
  prefixConsistency,
  kvCacheEquivalence,
  batchInvariance,
  paddingInvariance,
  leftPaddingInvariance,
  determinism,
  finiteOutputs,
  attentionDistributions,
  backendAgreement,
]

/** Which invariants to check: all by default, or `only` these, minus `skip`; and the time for all of them. */
export interface Selection {
  readonly only?: readonly LmPropertyId[]
  readonly skip?: readonly LmPropertyId[]
  /**
   * A time budget for the whole check, in ms: each invariant gets an equal share of what is
   * left (as its `timeLimitMs`), so a slow model is checked on fewer cases instead of for
   * longer; the reports say where the limit stopped a run.
   */
  readonly timeBudgetMs?: number
}

/** The invariants a selection picks, in {@link LM_PROPERTIES} order. */
export const selectProperties = (s: Selection = {}): readonly LmProperty[] =>
  LM_PROPERTIES.filter((p) => (s.only === undefined || s.only.includes(p.id)) && !(s.skip ?? []).includes(p.id))

/** The property name of the report that fails a check in which every invariant was skipped. */
export const NOTHING_CHECKED = 'nothing checked'

/** A failed report for a run in which every selected invariant was skipped: a green run that checked nothing. */
export const nothingChecked = (subject: string, reports: readonly PropertyReport[]): PropertyReport => ({
  property: NOTHING_CHECKED,
  subject,
  status: 'failed',
  message: `${NOTHING_CHECKED}: every selected invariant was skipped for ${subject}, so nothing was checked (${reports.map((r) => r.message.replace(/^[^:]*: skipped for [^:]*: /, `${r.property}: `)).join('; ') || 'no invariant was selected'})`,
  runs: 0,
  seed: 0,
})

/**
 * Checks every (selected) invariant on the model, one after another; resolves to one report
 * per invariant (skipped where the model declares it lacks what one needs). Never throws on a
 * violation. An invalid model description fails every invariant, naming the field; when every
 * selected invariant is skipped, a last failed report says that nothing was checked.
 */
export const checkCausalLm = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions & Selection = {}): Promise<readonly PropertyReport[]> => {
  const reports: PropertyReport[] = []
  const selected = selectProperties(options)
  const start = Date.now()
  for (const [i, p] of selected.entries()) {
    const share = options.timeBudgetMs === undefined ? undefined : Math.max(1, (options.timeBudgetMs - (Date.now() - start)) / (selected.length - i))
    reports.push(await p.check(model, share === undefined ? options : { ...options, timeLimitMs: Math.min(share, options.timeLimitMs ?? Infinity) }))
  }
  if (reports.every((r) => r.status === 'skipped')) reports.push(nothingChecked(reports[0]?.subject ?? 'the model', reports))
  return reports
}

/** {@link checkCausalLm}, then throws one {@link PropertyViolation} listing every failed invariant. */
export const assertCausalLm = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions & Selection = {}): Promise<readonly PropertyReport[]> =>
  assertReports(await checkCausalLm(model, options))
