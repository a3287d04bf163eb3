/**
 * Invariants of the token-choosing end of generation, on plain `Float32Array` rows (the
 * `minigpt-fp/sample` world, or anyone's own processors and samplers):
 *
 * - never sampling a filtered token: what a processor filters (-Infinity) is never drawn, and,
 *   given a reference for what the processor may keep (`allowedByTopP(0.9)`, …), it keeps
 *   nothing outside it — a leak is reported even before a sampler happens to draw it;
 * - key determinism: the same key and logits give the same token, and a processor is a pure
 *   function of its context and row (same output, input untouched);
 * - normalisation: a processed row is still a distribution: same length, no NaN, no
 *   +Infinity, at least one finite logit, so softmax gives probabilities summing to 1;
 * - matching a reference: the processed row equals an independent implementation's
 *   (references.ts), value by value, keeping exactly the right set;
 * - laws: a filtered token stays filtered (also through any chain of processors), order is
 *   preserved by processors that claim it, nothing is raised by those that claim never to;
 * - following a distribution: a sampler's draws pass a chi-square test against softmax (with
 *   a stated false-alarm rate, deterministic by its fixed seed), or are always the argmax.
 */
import * as fc from 'fast-check'
import { foldIn, key } from '../core/key.js'
import { composeProcessors, identityProcessor, processorContext, type LogitsProcessor, type ProcessorContext } from '../sample/processors.js'
import { greedySampler, type Sampler } from '../sample/samplers.js'
import { softmax } from '../sample/softmax.js'
import { logitsRow, seed } from './arbitraries.js'
import { mismatch, type ReferenceProcessor } from './references.js'
import { assertReport, assertReports, runProperty, Violation, type PropertyReport, type RunOptions } from './run.js'
import { chiSquareTest } from './statistics.js'
import { numberInWords, tokensInWords } from './words.js'

/** The tokens a processor may keep for a row (a reference filter, computed independently). */
export type AllowedTokens = (logits: Float32Array) => ReadonlySet<number>

/** A sampler under test: `(key) => (logits) => token`, as the library's `sample` and `greedySampler`. */
export interface SamplerUnderTest {
  readonly name: string
  readonly sampler: Sampler
  /**
   * What its draws must follow: `'softmax'` (a categorical draw from softmax(logits), checked
   * by a chi-square test) or `'argmax'` (always a most likely token). Absent: neither is checked.
   */
  readonly distribution?: 'softmax' | 'argmax'
}

/**
 * A law a processor claims: `'preservesOrder'` (a lower logit never ends above a higher one,
 * ties stay ties: temperature) or `'neverRaises'` (no logit goes up: penalties and filters).
 */
export type ProcessorLaw = 'preservesOrder' | 'neverRaises'

/**
 * A processor under test: the library's curried `(ctx) => (logits) => logits` (wrap a plain
 * row function `f` as `() => f`), with an optional reference of what it may keep.
 */
export interface ProcessorUnderTest {
  readonly name: string
  readonly processor: LogitsProcessor
  /** What the processor may keep of a row; tokens it keeps outside this set are leaks. */
  readonly allowed?: AllowedTokens
  /** An independent implementation: the processed row must match it, value by value ({@link reference}). */
  readonly reference?: ReferenceProcessor
  /** Laws the processor claims, checked on every case. */
  readonly laws?: readonly ProcessorLaw[]
}

/** Options of the sampling properties. */
export interface SamplingOptions extends RunOptions {
  /** The shortest and longest logits rows tried (default 2 and 16). */
  readonly minVocab?: number
  readonly maxVocab?: number
  /** Logits are drawn from [-range, range] (default 20). */
  readonly range?: number
}

// ---------------------------------------------------------------------------------------------
// reference filters (float64, slightly permissive so that float32 rounding is never a leak)

const SLACK = 1e-5

const finiteIndices = (row: Float32Array): number[] => Array.from(row.keys()).filter((i) => row[i] !== -Infinity && !Number.isNaN(row[i]))

/** Top-k's reference: tokens whose logit is at least the k-th largest (ties at the boundary are all allowed). */
export const allowedByTopK =
  (k: number): AllowedTokens =>
  (row) => {
    const idx = finiteIndices(row)
    if (idx.length <= k) return new Set(idx)
    const threshold = idx.map((i) => row[i]).sort((a, b) => b - a)[k - 1]
    return new Set(idx.filter((i) => row[i] >= threshold))
  }

/**
 * Top-p's (nucleus) reference: the most likely tokens until their mass reaches p, plus any
 * token exactly as likely as the last one (ties), with a little slack for rounding.
 */
export const allowedByTopP =
  (p: number): AllowedTokens =>
  (row) => {
    const probs = softmax(row)
    const order = finiteIndices(row).sort((a, b) => probs[b] - probs[a] || a - b)
    let cum = 0
    let n = 0
    while (n < order.length) {
      cum += probs[order[n]]
      n++
      if (cum >= Math.min(p + SLACK, 1 - SLACK)) break
    }
    const boundary = probs[order[n - 1]]
    return new Set(order.filter((i) => probs[i] >= boundary * (1 - SLACK)))
  }

/** Min-p's reference: tokens with probability at least m times the largest. */
export const allowedByMinP =
  (m: number): AllowedTokens =>
  (row) => {
    const probs = softmax(row)
    const pmax = Math.max(...probs)
    return new Set(finiteIndices(row).filter((i) => probs[i] >= m * pmax * (1 - SLACK)))
  }

// ---------------------------------------------------------------------------------------------

/** A case: a logits row, a decoding context over its vocabulary, a key seed. */
interface SamplingCase {
  readonly logits: Float32Array
  readonly ctx: ProcessorContext
  readonly seed: number
}

const cases = (o: SamplingOptions): fc.Arbitrary<SamplingCase> =>
  fc
    .record({
      logits: logitsRow({ minLength: o.minVocab ?? 2, maxLength: o.maxVocab ?? 16, min: -(o.range ?? 20), max: o.range ?? 20 }),
      prompt: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
      generated: fc.array(fc.nat(), { maxLength: 6 }),
      seed: seed(),
    })
    .map(({ logits, prompt, generated, seed }) => ({
      logits,
      ctx: processorContext(
        prompt.map((t) => t % logits.length),
        generated.map((t) => t % logits.length),
      ),
      seed,
    }))

/** `[1.2, -Infinity, 0.5]`, three significant digits. */
export const logitsInWords = (row: ArrayLike<number>): string => `[${Array.from(row, (x) => numberInWords(x, 3)).join(', ')}]`

const ctxInWords = (ctx: ProcessorContext): string => (ctx.tokens.length === 0 ? '' : ` (context ${tokensInWords(ctx.tokens)})`)

const setInWords = (s: ReadonlySet<number>): string => `{${[...s].sort((a, b) => a - b).join(', ')}}`

const apply = (p: ProcessorUnderTest, c: SamplingCase): Float32Array => p.processor(c.ctx)(Float32Array.from(c.logits))

const IDENTITY: ProcessorUnderTest = { name: 'no processor', processor: identityProcessor }

/** What {@link filteredNeverSampled} checks: a processor followed by a sampler. */
export interface FilterSubject {
  readonly processor?: ProcessorUnderTest
  readonly sampler: SamplerUnderTest
}

const subjectName = (s: FilterSubject): string => (s.processor === undefined ? s.sampler.name : `${s.processor.name} then ${s.sampler.name}`)

/** A sampling invariant over some subject. */
export interface SamplingProperty<T> {
  readonly name: string
  readonly summary: string
  readonly check: (subject: T, options?: SamplingOptions) => Promise<PropertyReport>
  readonly assert: (subject: T, options?: SamplingOptions) => Promise<PropertyReport>
}

const define = <T>(name: string, summary: string, subjectOf: (t: T) => string, runs: number, holds: (subject: T, c: SamplingCase) => void): SamplingProperty<T> => {
  const check = (subject: T, options: SamplingOptions = {}) => runProperty(name, subjectOf(subject), cases(options), async (c) => holds(subject, c), runs, options)
  return { name, summary, check, assert: async (s, o) => assertReport(await check(s, o)) }
}

/**
 * Never sampling a filtered token: the sampler never draws a token the processor set to
 * -Infinity, and, when the processor has a reference (`allowed`), it keeps no token outside it.
 */
export const filteredNeverSampled: SamplingProperty<FilterSubject> = define(
  'never sampling a filtered token',
  'a token the processor filters is never drawn, and the processor keeps nothing its reference filters',
  subjectName,
  60,
  (s, c) => {
    const p = s.processor ?? IDENTITY
    const out = apply(p, c)
    if (p.allowed !== undefined) {
      const allowed = p.allowed(c.logits)
      const probs = softmax(c.logits)
      const leak = Array.from(out.keys()).find((i) => out[i] !== -Infinity && !allowed.has(i))
      if (leak !== undefined) {
        throw new Violation(
          `never sampling a filtered token violated: ${p.name} kept token ${leak} (probability ${numberInWords(probs[leak])}) of ${logitsInWords(c.logits)}${ctxInWords(c.ctx)}, which it must filter: it may keep only ${setInWords(allowed)}, so a sampler can draw a filtered token`,
        )
      }
    }
    const t = s.sampler.sampler(key(c.seed))(out)
    if (!(Number.isInteger(t) && t >= 0 && t < out.length)) {
      throw new Violation(
        `never sampling a filtered token violated: ${s.sampler.name} drew ${t}, not a token of the ${out.length}-token row ${logitsInWords(out)} (key(${c.seed}))`,
      )
    }
    if (out[t] === -Infinity || Number.isNaN(out[t])) {
      const after = p === IDENTITY ? '' : ` (${p.name} of ${logitsInWords(c.logits)}${ctxInWords(c.ctx)})`
      throw new Violation(
        `never sampling a filtered token violated: ${s.sampler.name} drew token ${t}, which is filtered (-Infinity) in ${logitsInWords(out)}${after}, with key(${c.seed})`,
      )
    }
  },
)

/** What {@link keyDeterminism} checks: a sampler, a processor, or both. */
export interface DeterminismSubject {
  readonly sampler?: SamplerUnderTest
  readonly processor?: ProcessorUnderTest
}

const sameRow = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]) || x === b[i])

/**
 * Key determinism: the same key and logits give the same token (the sampler keeps no hidden
 * state), and a processor gives the same row for the same context and logits without
 * touching its input.
 */
export const keyDeterminism: SamplingProperty<DeterminismSubject> = define(
  'key determinism',
  'the same key and logits give the same token, and a processor is a pure function of its context and logits',
  (s) => [s.processor?.name, s.sampler?.name].filter((x) => x !== undefined).join(' then ') || 'nothing',
  40,
  (s, c) => {
    let row = c.logits
    if (s.processor !== undefined) {
      const input = Float32Array.from(c.logits)
      const first = s.processor.processor(c.ctx)(input)
      if (!sameRow(input, c.logits)) {
        throw new Violation(
          `key determinism violated: ${s.processor.name} changed its input ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(input)} (processors must not mutate the logits they are given)`,
        )
      }
      const second = s.processor.processor(c.ctx)(Float32Array.from(c.logits))
      if (!sameRow(first, second)) {
        throw new Violation(
          `key determinism violated: ${s.processor.name} turned ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(first)}, then into ${logitsInWords(second)}`,
        )
      }
      row = first
    }
    if (s.sampler !== undefined) {
      const input = Float32Array.from(row)
      const a = s.sampler.sampler(key(c.seed))(input)
      const b = s.sampler.sampler(key(c.seed))(Float32Array.from(row))
      if (!sameRow(input, row)) {
        throw new Violation(`key determinism violated: ${s.sampler.name} changed the logits ${logitsInWords(row)} it drew from (into ${logitsInWords(input)})`)
      }
      if (a !== b) {
        throw new Violation(
          `key determinism violated: ${s.sampler.name} drew token ${a} and then token ${b} from the same logits ${logitsInWords(row)} with the same key(${c.seed})`,
        )
      }
    }
  },
)

/**
 * Normalisation: the processed row is still a distribution: same length, no NaN, no
 * +Infinity, at least one finite logit (the input always has one), softmax summing to 1.
 */
export const processorNormalisation: SamplingProperty<ProcessorUnderTest> = define(
  'normalisation',
  'a processed row keeps its length and at least one finite logit, has no NaN or +Infinity, and its softmax sums to 1',
  (p) => p.name,
  60,
  (p, c) => {
    const out = apply(p, c)
    const said = `${p.name} turned ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(out)}`
    if (out.length !== c.logits.length) throw new Violation(`normalisation violated: ${p.name} turned a row of ${c.logits.length} logits into one of ${out.length}`)
    const nan = out.findIndex((x) => Number.isNaN(x))
    if (nan >= 0) throw new Violation(`normalisation violated: ${said}, with NaN at token ${nan}`)
    const inf = out.findIndex((x) => x === Infinity)
    if (inf >= 0) throw new Violation(`normalisation violated: ${said}, with +Infinity at token ${inf}`)
    if (!out.some((x) => x !== -Infinity)) throw new Violation(`normalisation violated: ${said}, filtering every token (nothing is left to sample)`)
    const sum = softmax(out).reduce((a, b) => a + b, 0)
    if (!(Math.abs(sum - 1) <= 1e-9)) throw new Violation(`normalisation violated: ${said}, whose probabilities sum to ${numberInWords(sum, 6)}`)
  },
)

/** A processed row matches the processor's reference implementation, value by value. */
export const matchesReference: SamplingProperty<ProcessorUnderTest> = define(
  'matches its reference',
  "the processed row equals the reference implementation's: the same tokens kept (ties and rounding at a threshold excepted) with the same logits",
  (p) => p.name,
  60,
  (p, c) => {
    if (p.reference === undefined) return
    const out = apply(p, c)
    const why = mismatch(out, p.reference(c.ctx, Float32Array.from(c.logits)))
    if (why !== undefined) throw new Violation(`matches its reference violated: ${p.name} turned ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(out)}: ${why}`)
  },
)

/** The laws a processor claims (order preserved, nothing raised), and filtered tokens staying filtered. */
export const processorLaws: SamplingProperty<ProcessorUnderTest> = define(
  'processor laws',
  'a filtered (-Infinity) token stays filtered; a processor that claims to preserve order never puts a lower logit above a higher one; one that claims never to raise never raises a logit',
  (p) => p.name,
  60,
  (p, c) => {
    const out = apply(p, c)
    const said = `${p.name} turned ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(out)}`
    const revived = Array.from(c.logits.keys()).find((i) => c.logits[i] === -Infinity && out[i] !== -Infinity)
    if (revived !== undefined) throw new Violation(`processor laws violated: ${said}: token ${revived} was filtered (-Infinity) and is not any more`)
    const laws = p.laws ?? []
    if (laws.includes('neverRaises')) {
      const up = Array.from(out.keys()).find((i) => out[i] > c.logits[i])
      if (up !== undefined)
        throw new Violation(
          `processor laws violated: ${said}: token ${up}'s logit went up (${numberInWords(c.logits[up], 4)} to ${numberInWords(out[up], 4)}), which a penalty or filter never does`,
        )
    }
    if (laws.includes('preservesOrder')) {
      const kept = Array.from(out.keys()).filter((i) => out[i] !== -Infinity && c.logits[i] !== -Infinity)
      for (const i of kept) {
        for (const j of kept) {
          if (c.logits[i] < c.logits[j] && out[i] > out[j]) {
            throw new Violation(
              `processor laws violated: ${said}: token ${i} (${numberInWords(c.logits[i], 4)}) was below token ${j} (${numberInWords(c.logits[j], 4)}) and is now above it`,
            )
          }
          if (c.logits[i] === c.logits[j] && out[i] !== out[j]) throw new Violation(`processor laws violated: ${said}: tokens ${i} and ${j} were tied and are not any more`)
        }
      }
    }
  },
)

/** Any chain of the given processors keeps what was filtered filtered and stays a distribution. */
export const chainsKeepFiltered = (processors: readonly ProcessorUnderTest[], options: SamplingOptions = {}): Promise<PropertyReport> => {
  const names = processors.map((p) => p.name).join(', ')
  const chain = fc.array(fc.nat({ max: Math.max(0, processors.length - 1) }), { minLength: 1, maxLength: 4 })
  return runProperty(
    'chains keep filtered tokens filtered',
    `chains of ${names}`,
    fc.tuple(cases(options), chain),
    async ([c, order]) => {
      if (processors.length === 0) return
      const picked = order.map((i) => processors[i])
      const out = composeProcessors(...picked.map((p) => p.processor))(c.ctx)(Float32Array.from(c.logits))
      const said = `the chain ${picked.map((p) => p.name).join(' then ')} turned ${logitsInWords(c.logits)}${ctxInWords(c.ctx)} into ${logitsInWords(out)}`
      const revived = Array.from(c.logits.keys()).find((i) => c.logits[i] === -Infinity && out[i] !== -Infinity)
      if (revived !== undefined) throw new Violation(`chains keep filtered tokens filtered violated: ${said}: token ${revived} was filtered (-Infinity) and is not any more`)
      if (out.some((x) => Number.isNaN(x) || x === Infinity) || !out.some((x) => x !== -Infinity))
        throw new Violation(`chains keep filtered tokens filtered violated: ${said}, which is no distribution (NaN, +Infinity, or nothing left)`)
    },
    60,
    options,
  )
}

/** Options of {@link samplerDistribution}. */
export interface DistributionOptions extends SamplingOptions {
  /** Draws per logits row (default 4000). */
  readonly draws?: number
  /**
   * The false-alarm rate of the whole check (default 1e-4): each of the `numRuns` rows is
   * tested at `falseAlarm / numRuns` (Bonferroni), so a correct sampler fails with at most this
   * probability over the seeds — and, since the default seed is fixed, the check is
   * deterministic: it passes or fails the same way on every run.
   */
  readonly falseAlarm?: number
}

/** The seed {@link samplerDistribution} uses unless given one: the check is deterministic. */
export const DISTRIBUTION_SEED = 20_240_601

/**
 * The sampler's draws follow its claimed distribution: for `'softmax'`, the counts of `draws`
 * draws (keys `foldIn(key(seed), i)`) on each row pass Pearson's chi-square test against
 * softmax(row) at `falseAlarm / numRuns`; for `'argmax'`, every draw is a most likely token.
 */
export const samplerDistribution: {
  readonly name: string
  readonly summary: string
  readonly check: (s: SamplerUnderTest, options?: DistributionOptions) => Promise<PropertyReport>
  readonly assert: (s: SamplerUnderTest, options?: DistributionOptions) => Promise<PropertyReport>
} = {
  name: 'follows its distribution',
  summary: "a sampler's empirical distribution matches softmax(logits) by a chi-square test with a stated false-alarm rate (or, for argmax, every draw is a most likely token)",
  check: (s: SamplerUnderTest, options: DistributionOptions = {}): Promise<PropertyReport> => {
    const runs = options.numRuns ?? 20
    const draws = options.draws ?? 4000
    const alpha = (options.falseAlarm ?? 1e-4) / runs
    const rows = logitsRow({ minLength: options.minVocab ?? 2, maxLength: options.maxVocab ?? 8, min: -(options.range ?? 4), max: options.range ?? 4 })
    return runProperty(
      'follows its distribution',
      s.name,
      fc.tuple(rows, seed()),
      async ([row, k]) => {
        if (s.distribution === undefined) return
        const probs = softmax(row)
        const counts = new Array<number>(row.length).fill(0)
        const base = key(k)
        const n = s.distribution === 'argmax' ? 50 : draws
        for (let i = 0; i < n; i++) {
          const t = s.sampler(foldIn(base, i))(row)
          if (!(Number.isInteger(t) && t >= 0 && t < row.length))
            throw new Violation(`follows its distribution violated: ${s.name} drew ${t}, not a token of ${logitsInWords(row)}`)
          counts[t]++
        }
        if (s.distribution === 'argmax') {
          const best = Math.max(...row)
          const bad = counts.findIndex((c, i) => c > 0 && row[i] !== best)
          if (bad >= 0)
            throw new Violation(
              `follows its distribution violated: ${s.name} drew token ${bad} (logit ${numberInWords(row[bad], 4)}) from ${logitsInWords(row)}, whose largest logit is ${numberInWords(best, 4)}`,
            )
          return
        }
        const r = chiSquareTest(counts, probs)
        if (r.pValue < alpha) {
          const cell = r.worst.token < 0 ? 'the rare tokens together' : `token ${r.worst.token}`
          throw new Violation(
            `follows its distribution violated: ${n} draws of ${s.name} from ${logitsInWords(row)} (key(${k}) folded with 0…${n - 1}) gave counts [${counts.join(', ')}] against softmax's [${Array.from(probs, (p) => numberInWords(p * n, 3)).join(', ')}]: chi-square ${numberInWords(r.statistic, 3)} on ${r.df} degrees of freedom, p = ${numberInWords(r.pValue, 2)} < ${numberInWords(alpha, 2)} (false-alarm rate ${numberInWords(options.falseAlarm ?? 1e-4)} over ${runs} rows); ${cell} drawn ${r.worst.observed} times, expected ${numberInWords(r.worst.expected, 3)}`,
          )
        }
      },
      runs,
      { ...options, seed: options.seed ?? DISTRIBUTION_SEED },
    )
  },
  assert: async (s, options) => assertReport(await samplerDistribution.check(s, options)),
}

/** Subjects of {@link checkSampling}: a sampler, and processors to check alone and before it. */
export interface SamplingSubjects {
  readonly sampler?: SamplerUnderTest
  readonly processors?: readonly ProcessorUnderTest[]
}

/** The checks of {@link checkSampling}, as (label, run) pairs: what the suite registers. */
export const samplingChecks = (s: SamplingSubjects, options: SamplingOptions = {}): readonly { readonly label: string; readonly run: () => Promise<PropertyReport> }[] => {
  const out: { label: string; run: () => Promise<PropertyReport> }[] = []
  const sampler = s.sampler
  if (sampler !== undefined) {
    out.push({ label: `${sampler.name}: key determinism`, run: () => keyDeterminism.check({ sampler }, options) })
    out.push({ label: `${sampler.name}: never samples a filtered token`, run: () => filteredNeverSampled.check({ sampler }, options) })
    if (sampler.distribution !== undefined)
      out.push({
        label: `${sampler.name}: follows ${sampler.distribution === 'softmax' ? 'softmax (chi-square test)' : 'argmax'}`,
        run: () => samplerDistribution.check(sampler, options),
      })
  }
  const processors = s.processors ?? []
  for (const processor of processors) {
    out.push({ label: `${processor.name}: normalisation`, run: () => processorNormalisation.check(processor, options) })
    out.push({ label: `${processor.name}: determinism (pure, input untouched)`, run: () => keyDeterminism.check({ processor }, options) })
    out.push({
      label: `${processor.name}: laws (filtered stays filtered${processor.laws?.length ? `, ${processor.laws.join(', ')}` : ''})`,
      run: () => processorLaws.check(processor, options),
    })
    if (processor.reference !== undefined) out.push({ label: `${processor.name}: matches its reference`, run: () => matchesReference.check(processor, options) })
    if (sampler !== undefined || processor.allowed !== undefined) {
      const withSampler = sampler ?? { name: 'greedy', sampler: greedySampler }
      out.push({
        label: `${processor.name}: never samples a filtered token (with ${withSampler.name})`,
        run: () => filteredNeverSampled.check({ processor, sampler: withSampler }, options),
      })
    }
  }
  if (processors.length > 1) out.push({ label: 'chains of the processors keep filtered tokens filtered', run: () => chainsKeepFiltered(processors, options) })
  return out
}

/** Checks a sampler and processors; resolves to one report per check, never throwing on a violation. */
export const checkSampling = async (s: SamplingSubjects, options: SamplingOptions = {}): Promise<readonly PropertyReport[]> => {
  const reports: PropertyReport[] = []
  for (const c of samplingChecks(s, options)) reports.push(await c.run())
  return reports
}

/** {@link checkSampling}, then throws one {@link PropertyViolation} listing every failure. */
export const assertSampling = async (s: SamplingSubjects, options: SamplingOptions = {}): Promise<readonly PropertyReport[]> => assertReports(await checkSampling(s, options))
