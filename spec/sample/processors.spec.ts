import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { flow } from 'fp-ts/lib/function.js'
import {
  badWords,
  bannedTokens,
  composeProcessors,
  frequencyPenalty,
  greedy,
  key,
  logSoftmax,
  logitBias,
  minLength,
  minNewTokens,
  minP,
  noRepeatNgram,
  presencePenalty,
  processorContext,
  processorsFromOptions,
  repetitionPenalty,
  sample,
  softmax,
  temperature,
  topK,
  topP,
  typicalP,
  type LogitsProcessor,
  type ProcessorContext,
} from '../../src/sample/index.js'

const ctx0: ProcessorContext = processorContext([0], [])
const f32 = (xs: readonly number[]) => Float32Array.from(xs)
const kept = (row: Float32Array) => Array.from(row, (x, i) => (x === -Infinity ? -1 : i)).filter((i) => i >= 0)

/** Finite float32 logits of modest size, with a few -Infinity entries sprinkled in. */
const logitsArb = (min = 2, max = 24) =>
  fc
    .array(fc.oneof({ weight: 8, arbitrary: fc.float({ min: -20, max: 20, noNaN: true, noDefaultInfinity: true }) }, { weight: 1, arbitrary: fc.constant(-Infinity) }), {
      minLength: min,
      maxLength: max,
    })
    .filter((xs) => xs.some((x) => x !== -Infinity))
    .map(f32)

/** Arbitrary finite float32 logits, full range. */
const wideLogitsArb = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 2, maxLength: 24 }).map(f32)

/** Logits sorted the way the processors sort them: value descending, lower index first on ties. */
const order = (row: Float32Array) =>
  Array.from(row.keys())
    .filter((i) => row[i] !== -Infinity)
    .sort((a, b) => (row[a] === row[b] ? a - b : row[b] - row[a]))

describe('top-k', () => {
  test.prop([logitsArb(), fc.integer({ min: 1, max: 30 })])('keeps exactly min(k, finite) of the largest, input untouched', (row, k) => {
    const before = Array.from(row)
    const out = topK(k)(ctx0)(row)
    expect(Array.from(row)).toEqual(before)
    const finite = row.filter((x) => x !== -Infinity).length
    const expected = order(row)
      .slice(0, Math.min(k, finite))
      .sort((a, b) => a - b)
    expect(kept(out)).toEqual(expected)
    for (const i of expected) expect(out[i]).toBe(row[i])
  })

  it('breaks ties at the boundary by lower index', () => {
    expect(kept(topK(2)(ctx0)(f32([1, 3, 1, 1, 0])))).toEqual([0, 1])
    expect(kept(topK(3)(ctx0)(f32([2, 2, 2, 2])))).toEqual([0, 1, 2])
  })
})

describe('top-p', () => {
  test.prop([logitsArb(), fc.double({ min: 0.01, max: 1, noNaN: true })])('keeps the smallest sorted prefix reaching p, always the most likely', (row, p) => {
    const out = topP(p)(ctx0)(row)
    const probs = softmax(row)
    const sorted = order(row)
    const m = kept(out).length
    expect(kept(out)).toEqual(sorted.slice(0, m).sort((a, b) => a - b))
    expect(out[sorted[0]]).toBe(row[sorted[0]])
    const mass = (n: number) => sorted.slice(0, n).reduce((s, i) => s + probs[i], 0)
    expect(mass(m - 1)).toBeLessThan(p)
    if (m < sorted.length) expect(mass(m)).toBeGreaterThanOrEqual(p)
  })

  it('on a hand example', () => {
    const row = f32(Array.from([0.1, 0.5, 0.25, 0.15], Math.log))
    expect(kept(topP(0.5)(ctx0)(row))).toEqual([1])
    expect(kept(topP(0.7)(ctx0)(row))).toEqual([1, 2])
    expect(kept(topP(0.8)(ctx0)(row))).toEqual([1, 2, 3])
    expect(kept(topP(1)(ctx0)(row))).toEqual([0, 1, 2, 3])
  })
})

describe('min-p', () => {
  test.prop([logitsArb(), fc.double({ min: 0, max: 1, noNaN: true })])('keeps exactly p >= min_p * p_max', (row, m) => {
    const out = minP(m)(ctx0)(row)
    const probs = softmax(row)
    const pmax = Math.max(...probs)
    const expected = Array.from(row.keys()).filter((i) => row[i] !== -Infinity && probs[i] >= m * pmax)
    expect(kept(out)).toEqual(expected)
    expect(expected.length).toBeGreaterThan(0)
  })
})

describe('typical-p', () => {
  // p = [.5, .3, .15, .05]: H = 1.1422 nats; |−log p − H| = [.449, .062, .755, 1.854]
  const row = f32(Array.from([0.5, 0.3, 0.15, 0.05], Math.log))
  it('keeps the most typical tokens until the mass is reached', () => {
    expect(kept(typicalP(0.2)(ctx0)(row))).toEqual([1]) // the most typical, not the most likely
    expect(kept(typicalP(0.5)(ctx0)(row))).toEqual([0, 1])
    expect(kept(typicalP(0.9)(ctx0)(row))).toEqual([0, 1, 2])
    expect(kept(typicalP(1)(ctx0)(row))).toEqual([0, 1, 2, 3])
  })
  test.prop([logitsArb(), fc.double({ min: 0.01, max: 1, noNaN: true })])('keeps at least one token', (r, m) => {
    expect(kept(typicalP(m)(ctx0)(r)).length).toBeGreaterThan(0)
  })
})

describe('temperature', () => {
  const separated = logitsArb(2, 16).filter((row) => {
    const s = order(row)
    return s.length < 2 || row[s[0]] - row[s[1]] > 1e-3
  })
  test.prop([separated, fc.integer({ min: 0, max: 2 ** 31 })])('-> 0 (1e-6) then sampling is greedy', (row, seed) => {
    expect(sample(key(seed))(temperature(1e-6)(ctx0)(row))).toBe(greedy(row))
  })
  it('divides', () => {
    expect(Array.from(temperature(2)(ctx0)(f32([2, -4, -Infinity])))).toEqual([1, -2, -Infinity])
  })
})

describe('repetition penalty (HF)', () => {
  it('divides positive logits and multiplies negative ones of seen tokens', () => {
    const out = repetitionPenalty(2)(processorContext([0, 1], [3]))(f32([4, -4, 4, 0]))
    expect(Array.from(out)).toEqual([2, -8, 4, 0])
  })
  const penaltyArb = fc.double({ min: 1, max: 10, noNaN: true })
  test.prop([logitsArb(4, 16), penaltyArb, fc.integer({ min: 0, max: 3 })])("never raises a lone repeated token's probability", (row, penalty, t) => {
    const out = repetitionPenalty(penalty)(processorContext([t], []))(row)
    expect(softmax(out)[t]).toBeLessThanOrEqual(softmax(row)[t] + 1e-12)
  })
  test.prop([logitsArb(4, 16), penaltyArb, fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 })])(
    "never raises a repeated logit nor the repeated set's mass",
    (row, penalty, ctxTokens) => {
      const out = repetitionPenalty(penalty)(processorContext(ctxTokens, []))(row)
      const seen = [...new Set(ctxTokens)]
      for (const t of seen) expect(out[t]).toBeLessThanOrEqual(row[t])
      const mass = (r: Float32Array) => seen.reduce((s, t) => s + softmax(r)[t], 0)
      expect(mass(out)).toBeLessThanOrEqual(mass(row) + 1e-12)
    },
  )
})

describe('frequency and presence penalties (OpenAI)', () => {
  it('count generated tokens only', () => {
    const ctx = processorContext([2, 2], [0, 0, 1])
    expect(Array.from(frequencyPenalty(0.5)(ctx)(f32([1, 1, 1])))).toEqual([0, 0.5, 1])
    expect(Array.from(presencePenalty(0.5)(ctx)(f32([1, 1, 1])))).toEqual([0.5, 0.5, 1])
  })
})

describe('bans', () => {
  const row = f32(Array(10).fill(0))
  it('no-repeat-ngram bans completions of n-grams already seen', () => {
    const ctx = processorContext([1, 2, 3], [1, 2])
    expect(kept(noRepeatNgram(3)(ctx)(row))).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9])
    expect(kept(noRepeatNgram(2)(ctx)(row))).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9])
    expect(kept(noRepeatNgram(1)(ctx)(row))).toEqual([0, 4, 5, 6, 7, 8, 9])
    expect(kept(noRepeatNgram(4)(ctx)(row))).toHaveLength(10) // "3 1 2" never occurred before
    expect(kept(noRepeatNgram(3)(processorContext([5], []))(row))).toHaveLength(10)
    expect(kept(noRepeatNgram(2)(processorContext([4, 4], [4]))(row))).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9])
  })
  it('bad words ban the last token of a sequence whose prefix ends the context', () => {
    const bw = badWords([[7], [1, 2, 9], [4, 5], [3, 3, 3, 8]])
    expect(kept(bw(processorContext([0, 1], [2]))(row))).toEqual([0, 1, 2, 3, 4, 5, 6, 8])
    expect(kept(bw(processorContext([4], []))(row))).toEqual([0, 1, 2, 3, 4, 6, 8, 9])
    expect(kept(bw(processorContext([2], []))(row))).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9])
    expect(kept(bannedTokens([0, 9])(ctx0)(row))).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })
  it('min length bans EOS until reached', () => {
    expect(kept(minLength(3, 0)(processorContext([5], [6]))(row))).not.toContain(0)
    expect(kept(minLength(3, 0)(processorContext([5], [6, 7]))(row))).toContain(0)
    expect(kept(minNewTokens(2, [0, 1])(processorContext([5, 5, 5], [6]))(row))).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    expect(kept(minNewTokens(2, [0, 1])(processorContext([5], [6, 7]))(row))).toHaveLength(10)
  })
  it('logit bias adds', () => {
    expect(Array.from(logitBias({ 1: 2, 3: -1 })(ctx0)(f32([0, 0, 0, 0])))).toEqual([0, 2, 0, -1])
    expect(Array.from(logitBias(new Map([[0, 0.5]]))(ctx0)(f32([1, 1])))).toEqual([1.5, 1])
  })
  it('throws on tokens outside the row', () => {
    expect(() => bannedTokens([12])(ctx0)(row)).toThrow(/token 12 is outside the vocabulary \[0, 10\)/)
  })
})

describe('composition', () => {
  it('composeProcessors is flow of the applied processors', () => {
    const ctx = processorContext([1, 2], [3])
    const row = f32([0.5, 2, 1, -1, 3])
    const a = repetitionPenalty(1.5)
    const b = temperature(0.7)
    const c = topK(3)
    expect(Array.from(composeProcessors(a, b, c)(ctx)(row))).toEqual(Array.from(flow(a(ctx), b(ctx), c(ctx))(row)))
    expect(composeProcessors()(ctx)(row)).toBe(row)
  })

  const optionsArb = fc.record(
    {
      temperature: fc.double({ min: 0.05, max: 5, noNaN: true }),
      top_k: fc.integer({ min: 1, max: 30 }),
      top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
      min_p: fc.double({ min: 0, max: 1, noNaN: true }),
      typical_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
      repetition_penalty: fc.double({ min: 0.01, max: 100, noNaN: true }),
      frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
      presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
      no_repeat_ngram_size: fc.integer({ min: 1, max: 4 }),
      bad_words_ids: fc.array(fc.array(fc.integer({ min: 0, max: 22 }), { minLength: 1, maxLength: 3 }), { maxLength: 4 }),
      suppress_tokens: fc.array(fc.integer({ min: 0, max: 22 }), { maxLength: 5 }),
      min_new_tokens: fc.integer({ min: 0, max: 4 }),
      logit_bias: fc.dictionary(fc.integer({ min: 0, max: 23 }).map(String), fc.double({ min: -100, max: 100, noNaN: true })),
      eos_token_id: fc.constant(0),
    },
    { requiredKeys: ['eos_token_id'] },
  )
  // Vocabulary of 24; context tokens < 12 and bans < 23, so token 23 always survives.
  test.prop(
    [
      fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 24, maxLength: 24 }).map(f32),
      optionsArb,
      fc.array(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 12 }),
      fc.nat(),
    ],
    { numRuns: 200 },
  )('any chain on finite logits: no NaN, softmax sums to 1', (row, options, tokens, cut) => {
    const p = processorsFromOptions(options)
    if (p._tag === 'Left') throw new Error(p.left.problems.join('; '))
    const promptLength = 1 + (cut % tokens.length)
    const out = p.right(processorContext(tokens.slice(0, promptLength), tokens.slice(promptLength)))(row)
    expect(out.some(Number.isNaN)).toBe(false)
    expect(out.some((x) => x === Infinity)).toBe(false)
    const probs = softmax(out)
    expect(Math.abs(probs.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6)
    expect(logSoftmax(out).some(Number.isNaN)).toBe(false)
  })

  const processors: readonly [string, LogitsProcessor][] = [
    ['temperature', temperature(0.3)],
    ['topK', topK(3)],
    ['topP', topP(0.5)],
    ['minP', minP(0.2)],
    ['typicalP', typicalP(0.5)],
    ['repetitionPenalty', repetitionPenalty(1.3)],
    ['frequency', frequencyPenalty(0.4)],
    ['presence', presencePenalty(0.4)],
    ['noRepeatNgram', noRepeatNgram(2)],
    ['badWords', badWords([[1, 2]])],
    ['logitBias', logitBias({ 0: 3 })],
    ['minLength', minLength(10, 0)],
  ]
  test.prop([wideLogitsArb.filter((r) => r.length >= 4), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 })])(
    'no processor mutates its input; finite stays finite or becomes -Infinity',
    (row, tokens) => {
      const ctx = processorContext(tokens.slice(0, 1), tokens.slice(1))
      const before = Array.from(row)
      for (const [, p] of processors) {
        const out = p(ctx)(row)
        expect(out.every((x) => Number.isFinite(x) || x === -Infinity)).toBe(true)
      }
      expect(Array.from(row)).toEqual(before)
    },
  )
})
