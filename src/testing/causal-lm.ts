/**
 * Invariants every causal language model should satisfy, as fast-check properties over any
 * {@link CausalLm}:
 *
 * - causal invariance: changing future tokens never changes past logits;
 * - prefix consistency: the logits of a prefix are the prefix of the logits;
 * - KV-cache equivalence: incremental decoding gives the logits of the full computation;
 * - batch invariance: a row's logits do not depend on its batch mates;
 * - padding invariance: padding (under the attention mask) does not change real positions;
 * - determinism: the same input gives bit-identical logits;
 * - backend agreement: cpu and wasm (or any backends) agree to a tolerance;
 * - finite outputs: every logit is finite for in-vocabulary inputs;
 * - attention distributions: every attention row is a distribution with zeros above the diagonal.
 *
 * Each is a {@link LmProperty} with `check` (a report, never throws on a violation) and
 * `assert` (throws a {@link PropertyViolation} whose message is the counterexample in words).
 */
import * as tf from '@tensorflow/tfjs-core'
import * as fc from 'fast-check'
import { initBackend } from '../backend/index.js'
import { attentionMask, tokenBatch, tokenSequence } from './arbitraries.js'
import {
  callAttention,
  callLogits,
  fromDecoderModel,
  guard,
  isDecoderModel,
  modelName,
  readNextLogits,
  type CausalLm,
  type Incremental,
  type Logits,
} from './model.js'
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
  /** The longest sequence tried (default: the model's maxLength, at most 8). */
  readonly maxLength?: number
  /** The largest batch tried (default 3). */
  readonly maxBatch?: number
  /** The backends compared by backend agreement, the first being the reference (default cpu, wasm). */
  readonly backends?: readonly string[]
}

/** The invariants by id. */
export type LmPropertyId =
  | 'causalInvariance'
  | 'prefixConsistency'
  | 'kvCacheEquivalence'
  | 'batchInvariance'
  | 'paddingInvariance'
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
  /** Why the invariant cannot be checked on this model (a missing capability), or undefined. */
  readonly skipReason: (model: CausalLm<any, any>, options?: CausalLmOptions) => string | undefined // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Checks the invariant; resolves to a report (failed, passed or skipped) and never throws on a violation. */
  readonly check: <P, S>(model: CausalLm<P, S>, options?: CausalLmOptions) => Promise<PropertyReport>
  /** Checks the invariant and throws a {@link PropertyViolation} (the counterexample in words) if it fails. */
  readonly assert: <P, S>(model: CausalLm<P, S>, options?: CausalLmOptions) => Promise<PropertyReport>
}

/** The sizes a property draws its cases from. */
interface Limits {
  readonly vocab: number
  readonly maxLength: number
  readonly maxBatch: number
  readonly tolerance: number
}

const limitsOf = (model: CausalLm<any, any>, options: CausalLmOptions): Limits => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
  vocab: model.vocabSize,
  maxLength: Math.max(1, Math.min(options.maxLength ?? 8, model.maxLength)),
  maxBatch: Math.max(1, options.maxBatch ?? 3),
  tolerance: options.tolerance ?? 1e-5,
})

interface Definition<T> {
  readonly id: LmPropertyId
  readonly name: string
  readonly summary: string
  readonly runs: number
  readonly requires: (model: CausalLm<any, any>, limits: Limits, options: CausalLmOptions) => string | undefined // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly cases: (limits: Limits, model: CausalLm<any, any>) => fc.Arbitrary<T> // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly holds: <P, S>(model: CausalLm<P, S>, c: T, limits: Limits, options: CausalLmOptions) => Promise<void>
  /** Set-up around the whole run (switching backends); may return a reason to skip. */
  readonly around?: (options: CausalLmOptions, run: () => Promise<PropertyReport>) => Promise<PropertyReport | string>
}

const checkModel = (model: CausalLm<any, any>): string | undefined => { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!Number.isInteger(model.vocabSize) || model.vocabSize < 1) return `vocabSize must be an integer ≥ 1, got ${model.vocabSize}`
  if (!Number.isInteger(model.maxLength) || model.maxLength < 1) return `maxLength must be an integer ≥ 1, got ${model.maxLength}`
  if (typeof model.logits !== 'function') return 'logits must be a function (params, tokens, options) → logits'
  return undefined
}

const define = <T>(d: Definition<T>): LmProperty => {
  const skipReason = (model: CausalLm<any, any>, options: CausalLmOptions = {}) => checkModel(model) ?? d.requires(model, limitsOf(model, options), options) // eslint-disable-line @typescript-eslint/no-explicit-any
  const check = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions = {}): Promise<PropertyReport> => {
    const subject = modelName(model)
    const reason = skipReason(model, options)
    if (reason !== undefined) return skipped(d.name, subject, reason)
    const limits = limitsOf(model, options)
    const run = () => runProperty(d.name, subject, d.cases(limits, model), (c) => d.holds(model, c, limits, options), d.runs, options)
    if (d.around === undefined) return run()
    const r = await d.around(options, run)
    return typeof r === 'string' ? skipped(d.name, subject, r) : r
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

const needs = (limits: Limits, length: number, vocab: number): string | undefined =>
  limits.maxLength < length
    ? `it needs sequences of ${length} tokens; the model (or maxLength) allows ${limits.maxLength}`
    : limits.vocab < vocab
      ? `it needs a vocabulary of at least ${vocab} tokens`
      : undefined

/** Offsets in [1, vocab): adding one (mod vocab) always changes a token. */
const offsets = (limits: Limits) => fc.array(fc.integer({ min: 1, max: limits.vocab - 1 }), { minLength: limits.maxLength, maxLength: limits.maxLength })

const tol = (limits: Limits) => limits.tolerance

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
    fc.record({ tokens: tokenSequence({ vocabSize: l.vocab, minLength: 2, maxLength: l.maxLength }), cut: fc.nat(), offsets: offsets(l) }).map(({ tokens, cut, offsets }) => {
      const position = cut % (tokens.length - 1)
      return { tokens, position, changed: tokens.map((t, i) => (i <= position ? t : (t + offsets[i]) % l.vocab)) }
    }),
  holds: async (model, { tokens, position, changed }, l) => {
    const before = await callLogits(model, [tokens])
    const after = await callLogits(model, [changed])
    firstDifference(after[0], before[0], range(0, position + 1), tol(l), ['before', 'after'], (q, by) =>
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
    fc.record({ tokens: tokenSequence({ vocabSize: l.vocab, minLength: 2, maxLength: l.maxLength }), cut: fc.nat() }).map(({ tokens, cut }) => ({
      tokens,
      prefix: tokens.slice(0, 1 + (cut % (tokens.length - 1))),
    })),
  holds: async (model, { tokens, prefix }, l) => {
    const whole = await callLogits(model, [tokens])
    const part = await callLogits(model, [prefix])
    firstDifference(part[0], whole[0], range(0, prefix.length), tol(l), ['in the whole sequence', 'in the prefix'], (q, by) =>
      `prefix consistency violated: the logits of the prefix ${tokensInWords(prefix)} at position ${q} differ by ${by} from those of the whole sequence ${tokensInWords(tokens)}`,
    )
  },
})

const incrementalOf = <P, S>(model: CausalLm<P, S>): Incremental<P, S> =>
  (isDecoderModel(model.incremental) ? fromDecoderModel(model.incremental) : model.incremental) as Incremental<P, S>

/** Incremental decoding (prefill, then one token at a time) equals the full computation. */
export const kvCacheEquivalence: LmProperty = define({
  id: 'kvCacheEquivalence',
  name: 'KV-cache equivalence',
  summary: 'prefilling a prompt and feeding the rest one token at a time gives the logits of computing the whole sequence at once',
  runs: 20,
  requires: (m, l) => (m.incremental === undefined ? 'the model offers no incremental decoding (incremental)' : needs(l, 2, 1)),
  cases: (l) =>
    fc.record({ rows: tokenBatch({ vocabSize: l.vocab, minLength: 2, maxLength: l.maxLength, maxBatch: l.maxBatch }), cut: fc.nat() }).map(({ rows, cut }) => ({
      rows,
      prompt: 1 + (cut % (rows[0].length - 1)),
    })),
  holds: async (model, { rows, prompt }, l) => {
    const inc = incrementalOf(model)
    const params = model.params as never
    const full = await callLogits(model, rows)
    const n = rows[0].length
    const b = rows.length
    const say = (position: number, row: number, by: string) =>
      `KV-cache equivalence violated: for ${tokensInWords(rows[row])}, prefilling ${tokensInWords(rows[row].slice(0, prompt))} and then feeding ${rows[row].slice(prompt, position + 1).join(', ') || 'nothing'} one token at a time gave logits at position ${position} that differ from the full computation by ${by}${rowInWords(row, b)}`
    const compare = (got: readonly Float32Array[], position: number) => {
      got.forEach((r, row) => {
        const d = compareRows(r, full[row][position], tol(l))
        if (!d.within) throw new Violation(say(position, row, differenceInWords(d, tol(l), ['computed whole', 'decoded incrementally'])))
      })
    }
    const prompts = rows.map((r) => r.slice(0, prompt))
    let out = await guard(`incremental.prefill(${batchInWords(prompts)})`, () => inc.prefill(params, prompts))
    let state = out.state
    try {
      compare(await readNextLogits(out.logits, b, model.vocabSize, `incremental.prefill(${batchInWords(prompts)})`), prompt - 1)
      for (let j = prompt; j < n; j++) {
        const fed = rows.map((r) => r[j])
        out = await guard(`incremental.step(…, ${tokensInWords(fed)}) at position ${j}`, () => inc.step(params, state, fed))
        if (out.state !== state) inc.release?.(state)
        state = out.state
        compare(await readNextLogits(out.logits, b, model.vocabSize, `incremental.step(…, ${tokensInWords(fed)}) at position ${j}`), j)
      }
    } finally {
      inc.release?.(state)
    }
  },
})

/** A sequence's logits do not depend on the other rows of its batch. */
export const batchInvariance: LmProperty = define({
  id: 'batchInvariance',
  name: 'batch invariance',
  summary: "a sequence's logits are the same alone and inside any batch",
  runs: 15,
  requires: (_m, l) => (l.maxBatch < 2 ? 'it needs batches of 2 rows; maxBatch is 1' : undefined),
  cases: (l) => tokenBatch({ vocabSize: l.vocab, maxLength: l.maxLength, minBatch: 2, maxBatch: Math.max(2, l.maxBatch) }),
  holds: async (model, rows, l) => {
    const together = await callLogits(model, rows)
    for (let i = 0; i < rows.length; i++) {
      const alone = await callLogits(model, [rows[i]])
      firstDifference(together[i], alone[0], range(0, rows[i].length), tol(l), ['alone', 'in the batch'], (q, by) =>
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

/** Padding under the attention mask changes nothing at real positions. */
export const paddingInvariance: LmProperty = define<PaddingCase>({
  id: 'paddingInvariance',
  name: 'padding invariance',
  summary: 'the tokens at padding positions never change the logits at real positions, and a right-padded row has the logits of the row alone',
  runs: 20,
  requires: (m, l) =>
    m.padding === undefined
      ? 'the model does not declare padding support (padding: "mask" or { padId })'
      : m.padding === 'mask'
        ? needs(l, 2, 2)
        : !(Number.isInteger(m.padding.padId) && m.padding.padId >= 0 && m.padding.padId < l.vocab)
          ? `padId must be a token id in [0, ${l.vocab}), got ${m.padding.padId}`
          : needs(l, 2, 1),
  cases: (l, model) => {
    const padId = model.padding === 'mask' || model.padding === undefined ? undefined : model.padding.padId
    const placement = model.padding === 'mask' ? 'any' : 'right'
    const masks = fc.array(attentionMask(l.maxLength, placement), { minLength: l.maxBatch, maxLength: l.maxBatch })
    return fc
      .record({ rows: tokenBatch({ vocabSize: l.vocab, minLength: 2, maxLength: l.maxLength, maxBatch: l.maxBatch }), masks, offsets: l.vocab >= 2 ? offsets(l) : fc.constant([]) })
      .map(({ rows, masks, offsets }) => {
        const mask = rows.map((r, b) => masks[b].slice(0, r.length))
        const tokens = rows.map((r, b) => r.map((t, i) => (mask[b][i] === 1 || padId === undefined ? t : padId)))
        const other = tokens.map((r, b) => r.map((t, i) => (mask[b][i] === 1 || padId !== undefined ? t : (t + offsets[i]) % l.vocab)))
        return { tokens, other, mask }
      })
  },
  holds: async (model, { tokens, other, mask }, l) => {
    const b = tokens.length
    const base = await callLogits(model, tokens, mask)
    if (model.padding === 'mask') {
      const changed = await callLogits(model, other, mask)
      for (let row = 0; row < b; row++) {
        const real = range(0, mask[row].length).filter((i) => mask[row][i] === 1)
        firstDifference(changed[row], base[row], real, tol(l), ['before', 'after'], (q, by) =>
          `padding invariance violated: with attention mask ${tokensInWords(mask[row])}, changing the padding tokens of ${tokensInWords(tokens[row])} (to ${tokensInWords(other[row])}) changed the logits at real position ${q} by ${by}${rowInWords(row, b)}`,
        )
      }
    }
    for (let row = 0; row < b; row++) {
      const m = mask[row]
      const real = m.filter((x) => x === 1).length
      if (!isRightPadded(m) || real === m.length) continue
      const alone = await callLogits(model, [tokens[row].slice(0, real)])
      firstDifference(base[row], alone[0], range(0, real), tol(l), ['unpadded', 'padded'], (q, by) =>
        `padding invariance violated: the logits of ${tokensInWords(tokens[row].slice(0, real))} at position ${q} differ by ${by} between running it unpadded and right-padded as ${tokensInWords(tokens[row])} (attention mask ${tokensInWords(m)})${rowInWords(row, b)}`,
      )
    }
  },
})

/** The same input gives bit-identical logits. */
export const determinism: LmProperty = define({
  id: 'determinism',
  name: 'determinism',
  summary: 'computing the logits of the same tokens twice gives identical values (no hidden randomness or state)',
  runs: 10,
  requires: () => undefined,
  cases: (l) => tokenBatch({ vocabSize: l.vocab, maxLength: l.maxLength, maxBatch: l.maxBatch }),
  holds: async (model, rows) => {
    const first = await callLogits(model, rows)
    const second = await callLogits(model, rows)
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

/** The active backend's name, or undefined when none has been started (nothing to restore then). */
const currentBackend = (): string | undefined => {
  try {
    return tf.getBackend()
  } catch {
    return undefined
  }
}

/** Makes `name` the active backend again (when there was one). */
const restore = async (name: string | undefined): Promise<void> => {
  if (name !== undefined && tf.getBackend() !== name) await initBackend(name)
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
    await restore(original)
  }
}

/** cpu and wasm (or the given backends) compute the same logits, to a tolerance. */
export const backendAgreement: LmProperty = define({
  id: 'backendAgreement',
  name: 'backend agreement',
  summary: 'every backend computes the same logits as the first one, to a tolerance (the suite switches backends itself)',
  runs: 8,
  requires: (_m, _l, o) => (backendsOf(o).length < 2 ? 'it needs two backends to compare' : undefined),
  cases: (l) => tokenBatch({ vocabSize: l.vocab, maxLength: l.maxLength, maxBatch: l.maxBatch }),
  around: async (options, run) => {
    const reason = await startable(backendsOf(options))
    if (reason !== undefined) return reason
    const original = currentBackend()
    try {
      return await run()
    } finally {
      await restore(original)
    }
  },
  holds: async (model, rows, _l, options) => {
    const names = backendsOf(options)
    const tolerance = options.backendTolerance ?? 1e-4
    const original = currentBackend()
    const results: Logits[] = []
    try {
      for (const name of names) {
        await initBackend(name)
        results.push(await callLogits(model, rows))
      }
    } finally {
      await restore(original)
    }
    for (let i = 1; i < names.length; i++) {
      for (let row = 0; row < rows.length; row++) {
        firstDifference(results[i][row], results[0][row], range(0, rows[row].length), tolerance, [`on ${names[0]}`, `on ${names[i]}`], (q, by) =>
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
    fc.record({
      rows: tokenBatch({ vocabSize: l.vocab, maxLength: l.maxLength, maxBatch: l.maxBatch }),
      masks: model.padding === 'mask' ? fc.option(fc.array(attentionMask(l.maxLength), { minLength: l.maxBatch, maxLength: l.maxBatch }), { nil: undefined }) : fc.constant(undefined),
    }).map(({ rows, masks }) => ({ rows, mask: masks?.map((m) => m.slice(0, rows[0].length)).slice(0, rows.length) })),
  holds: async (model, { rows, mask }) => {
    const logits = await callLogits(model, rows, mask)
    rows.forEach((r, row) => {
      r.forEach((_, q) => {
        if (mask !== undefined && mask[row][q] === 0) return
        const v = logits[row][q].findIndex((x) => !Number.isFinite(x))
        if (v >= 0) {
          const m = mask === undefined ? '' : ` (attention mask ${tokensInWords(mask[row])})`
          throw new Violation(`finite outputs violated: the logits of ${tokensInWords(r)}${m} at position ${q} include ${logits[row][q][v]} (token ${v}'s logit)${rowInWords(row, rows.length)}`)
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
  cases: (l) => tokenBatch({ vocabSize: l.vocab, maxLength: l.maxLength, maxBatch: l.maxBatch }),
  holds: async (model, rows, l) => {
    const layers = await callAttention(model, rows)
    const n = rows[0].length
    const t = tol(l)
    layers.forEach(({ shape, values }, layer) => {
      const [b, heads, q, k] = shape
      if (b !== rows.length || q !== n || k !== n) {
        throw new Violation(`attention distributions could not be checked: layer ${layer}'s weights for ${batchInWords(rows)} have shape [${shape.join(', ')}], expected [${rows.length}, heads, ${n}, ${n}]`)
      }
      for (let row = 0; row < b; row++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < q; i++) {
            const base = ((row * heads + h) * q + i) * k
            const where = `in layer ${layer}, head ${h}, query ${i} of ${tokensInWords(rows[row])}${rowInWords(row, b)}`
            let sum = 0
            for (let j = 0; j < k; j++) {
              const w = values[base + j]
              if (!(Number.isFinite(w) && w >= -t)) throw new Violation(`attention distributions violated: ${where} puts weight ${numberInWords(w)} on key ${j}, which is not a probability`)
              if (j > i && Math.abs(w) > t) {
                throw new Violation(`attention distributions violated: ${where} puts weight ${numberInWords(w)} on key ${j}, a later position (it must be 0; tolerance ${numberInWords(t)})`)
              }
              sum += w
            }
            if (!(Math.abs(sum - 1) <= t * Math.max(1, k))) {
              throw new Violation(`attention distributions violated: ${where} has weights summing to ${numberInWords(sum, 6)}, not 1 (tolerance ${numberInWords(t * Math.max(1, k))})`)
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
  determinism,
  finiteOutputs,
  attentionDistributions,
  backendAgreement,
]

/** Which invariants to check: all by default, or `only` these, minus `skip`. */
export interface Selection {
  readonly only?: readonly LmPropertyId[]
  readonly skip?: readonly LmPropertyId[]
}

/** The invariants a selection picks, in {@link LM_PROPERTIES} order. */
export const selectProperties = (s: Selection = {}): readonly LmProperty[] =>
  LM_PROPERTIES.filter((p) => (s.only === undefined || s.only.includes(p.id)) && !(s.skip ?? []).includes(p.id))

/**
 * Checks every (selected) invariant on the model, one after another; resolves to one report
 * per invariant (skipped where the model lacks what it needs). Never throws on a violation.
 */
export const checkCausalLm = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions & Selection = {}): Promise<readonly PropertyReport[]> => {
  const reports: PropertyReport[] = []
  for (const p of selectProperties(options)) reports.push(await p.check(model, options))
  return reports
}

/** {@link checkCausalLm}, then throws one {@link PropertyViolation} listing every failed invariant. */
export const assertCausalLm = async <P, S>(model: CausalLm<P, S>, options: CausalLmOptions & Selection = {}): Promise<readonly PropertyReport[]> =>
  assertReports(await checkCausalLm(model, options))
