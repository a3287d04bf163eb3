import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { beamSearch, generate, greedySampler, key, logSoftmax, repetitionPenalty, type BeamSearchRequest, type EarlyStopping } from '../../src/sample/index.js'
import { hashedModel, releasedExactlyOnce, toyModel } from './toy-model.js'

const earlyArb = fc.constantFrom<EarlyStopping>(true, false, 'never')

describe('beam search', () => {
  test.prop(
    [
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 8 }),
      fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
      earlyArb,
      fc.double({ min: -2, max: 2, noNaN: true }),
      fc.boolean(),
    ],
    { numRuns: 60 },
  )('with one beam equals greedy', async (seed, prompt, maxNewTokens, eos, earlyStopping, lengthPenalty, penalise) => {
    const processor = penalise ? repetitionPenalty(1.5) : undefined
    const m = hashedModel(10, 9, seed)
    const [best] = await beamSearch(m, { prompt, maxNewTokens, numBeams: 1, eosTokenId: eos, earlyStopping, lengthPenalty, processor })
    const g = await generate(hashedModel(10, 9, seed), { prompt, maxNewTokens, eosTokenId: eos, sampler: greedySampler, processor }, key(0))
    expect(best.tokens).toEqual(g.tokens)
    expect(best.finishReason).toBe(g.finishReason)
    expect(best.logprob).toBeCloseTo(g.logprob, 10)
    expect(releasedExactlyOnce(m)).toBe(true)
  })

  // EOS = 0. After the prompt: A (1) .55, B (2) .45; after A: EOS .1, A/B/C .3 each; after B: EOS .9.
  const table: Record<number, number[]> = { 3: [0, 0.55, 0.45, 0], 1: [0.1, 0.3, 0.3, 0.3], 2: [0.9, 0.05, 0.025, 0.025], 0: [0.25, 0.25, 0.25, 0.25] }
  const handModel = () => toyModel(4, 16, (ts) => Float32Array.from(table[ts[ts.length - 1]], Math.log))

  it('finds a sequence greedy misses', async () => {
    const g = await generate(handModel(), { prompt: [3], maxNewTokens: 3, eosTokenId: 0, sampler: greedySampler }, key(0))
    expect(g.tokens).toEqual([1, 1, 1])
    const m = handModel()
    const hyps = await beamSearch(m, { prompt: [3], maxNewTokens: 3, numBeams: 2, eosTokenId: 0, numReturnSequences: 2 })
    expect(hyps[0]).toMatchObject({ tokens: [2, 0], finishReason: 'eos' })
    expect(hyps[0].logprob).toBeCloseTo(Math.log(0.45) + Math.log(0.9), 6)
    expect(hyps[0].score).toBeCloseTo(hyps[0].logprob / 2, 12)
    expect(hyps[0].logprob).toBeGreaterThan(g.logprob)
    expect(hyps[1].score).toBeLessThanOrEqual(hyps[0].score)
    expect(m.calls()).toEqual(['prefill:1', 'select:2', 'step:2', 'select:2', 'step:2'])
    expect(releasedExactlyOnce(m)).toBe(true)
  })

  it('scores by sum / length ** length_penalty', async () => {
    const req: BeamSearchRequest = { prompt: [3], maxNewTokens: 3, numBeams: 3, eosTokenId: 0, numReturnSequences: 3, earlyStopping: 'never' }
    for (const lengthPenalty of [0, 1, 2, -1]) {
      const hyps = await beamSearch(handModel(), { ...req, lengthPenalty })
      for (const h of hyps) {
        expect(h.score).toBeCloseTo(h.logprob / h.tokens.length ** lengthPenalty, 12)
        expect(h.logprob).toBeCloseTo(
          h.tokenLogprobs.reduce((a, b) => a + b, 0),
          12,
        )
      }
      expect(hyps.map((h) => h.score)).toEqual([...hyps.map((h) => h.score)].sort((a, b) => b - a))
    }
  })

  /** Every finished sequence of at most `max` tokens (ended by EOS 0, or by the length), with its score. */
  const exhaustive = async (m: ReturnType<typeof hashedModel>, prompt: number[], max: number, lp: number): Promise<number> => {
    const logitsOf = async (ts: number[]) => (await m.prefill([ts])).logits[0]
    const go = async (gen: number[], sum: number): Promise<number> => {
      const logp = logSoftmax(await logitsOf([...prompt, ...gen]))
      let best = -Infinity
      for (let v = 0; v < logp.length; v++) {
        const s = sum + logp[v]
        const seq = [...gen, v]
        best = Math.max(best, v === 0 || seq.length === max ? s / seq.length ** lp : await go(seq, s))
      }
      return best
    }
    return go([], 0)
  }

  test.prop([fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 1, 2)], { numRuns: 20 })(
    "with enough beams and early_stopping 'never' it is exact",
    async (seed, lengthPenalty) => {
      const m = hashedModel(3, 16, seed)
      const [best] = await beamSearch(m, { prompt: [1], maxNewTokens: 3, numBeams: 27, eosTokenId: 0, lengthPenalty, earlyStopping: 'never' })
      expect(best.score).toBeCloseTo(await exhaustive(hashedModel(3, 16, seed), [1], 3, lengthPenalty), 10)
      expect(releasedExactlyOnce(m)).toBe(true)
    },
  )

  test.prop([fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2, max: 4 }), fc.double({ min: -1, max: 2, noNaN: true })], { numRuns: 30 })(
    "'never' finds a hypothesis at least as good as true and false",
    async (seed, numBeams, lengthPenalty) => {
      const run = async (earlyStopping: EarlyStopping) =>
        (await beamSearch(hashedModel(6, 10, seed), { prompt: [2], maxNewTokens: 6, numBeams, eosTokenId: 0, lengthPenalty, earlyStopping }))[0].score
      const never = await run('never')
      expect(never).toBeGreaterThanOrEqual((await run(false)) - 1e-12)
      expect(never).toBeGreaterThanOrEqual((await run(true)) - 1e-12)
    },
  )

  it('stops at the context length', async () => {
    const m = hashedModel(5, 4, 1)
    const hyps = await beamSearch(m, { prompt: [1, 2], maxNewTokens: 10, numBeams: 2, numReturnSequences: 2 })
    expect(hyps.map((h) => [h.tokens.length, h.finishReason])).toEqual([
      [2, 'context'],
      [2, 'context'],
    ])
    expect(releasedExactlyOnce(m)).toBe(true)
  })

  it('rejects bad requests', async () => {
    await expect(beamSearch(hashedModel(5, 4), { prompt: [1], maxNewTokens: 2, numBeams: 2, numReturnSequences: 3 })).rejects.toThrow(
      /numReturnSequences \(3\) must be <= numBeams \(2\)/,
    )
  })

  it('can be aborted, releasing its caches', async () => {
    const m = hashedModel(5, 16)
    const c = new AbortController()
    const p = beamSearch(m, { prompt: [1], maxNewTokens: 10, numBeams: 3 }, { signal: c.signal })
    c.abort()
    await expect(p).rejects.toMatchObject({ name: 'AbortError' })
    await new Promise((r) => setTimeout(r, 0))
    expect(releasedExactlyOnce(m)).toBe(true)
  })
})
