/**
 * A misconfigured model never passes: every problem in the description fails the checks,
 * naming the field (never a skip); a run where every invariant is skipped fails; NaN is
 * reported as NaN before any comparison; the backend found before the checks is the one
 * left active after them.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { assertCausalLm, causalInvariance, causalLmSuite, checkCausalLm, describeProblems, PropertyViolation, type CausalLm, type TestRunner } from '../../src/testing/index.js'
import { toyLm } from './toy-lm.js'

await initBackend('cpu')

const good = toyLm(5)
const withField = (extra: Record<string, unknown>, drop: string[] = []): unknown =>
  Object.fromEntries([...Object.entries(good).filter(([k]) => !drop.includes(k)), ...Object.entries(extra)])

describe('the model description', () => {
  it('is valid for a correct model', () => {
    expect(describeProblems(good)).toEqual([])
  })

  it('names each problem: a misspelling (with a hint), a missing field, a value of the wrong kind', () => {
    expect(describeProblems(withField({ vocabsize: 5 }, ['vocabSize']))).toEqual([
      'vocabsize: unknown field (did you mean vocabSize?); a model description has only name, vocabSize, maxLength, params, logits, incremental, padding, attention',
      'vocabSize: must be an integer ≥ 1, got undefined',
    ])
    expect(describeProblems(withField({}, ['maxLength']))).toEqual(['maxLength: must be an integer ≥ 1, got undefined'])
    expect(describeProblems(withField({ logits: [[[0]]] }))).toEqual(['logits: must be a function, got an array'])
    expect(describeProblems(withField({ padding: 'masked' }))).toEqual(["padding: must be 'mask', 'left' or { padId }, got \"masked\""])
    expect(describeProblems(withField({ padding: { padId: 9 } }))).toEqual(['padding.padId: must be a token id in [0, 5) (below vocabSize), got 9'])
    expect(describeProblems(withField({ incremental: { prefill: () => 0 } }))[0]).toMatch(
      /^incremental: must be a DecoderModel \{ vocabSize, contextLength, prefill, step, select, release \}/,
    )
    expect(describeProblems(withField({ incremental: { ...good.incremental, relase: () => 0 } }))).toEqual([
      'incremental.relase: unknown field (did you mean release?); a model description has only vocabSize, contextLength, prefill, step, select, release',
    ])
    expect(describeProblems(null)).toEqual(['the model must be an object { vocabSize, maxLength, logits, … }, got null'])
  })

  it('fails every check (never skips), and assertCausalLm throws naming the field', async () => {
    const bad = withField({ vocabsize: 5 }, ['vocabSize']) as CausalLm
    const reports = await checkCausalLm(bad, { skip: ['backendAgreement'] })
    expect(reports.map((r) => r.status)).toEqual(new Array(9).fill('failed'))
    expect(reports[0].message).toMatch(/^causal invariance could not be checked: the model description is invalid: vocabsize: unknown field \(did you mean vocabSize\?\)/)
    const err = await assertCausalLm(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PropertyViolation)
    expect((err as PropertyViolation).message).toMatch(/did you mean vocabSize\?/)
  })

  it('makes causalLmSuite register failing tests, not skipped ones', async () => {
    const registered: { name: string; body: () => Promise<void> }[] = []
    const skipped: string[] = []
    const it = Object.assign((name: string, body: () => Promise<void>) => registered.push({ name, body }), { skip: (name: string) => skipped.push(name) })
    const runner: TestRunner = { describe: (_n, body) => body(), it }
    causalLmSuite({ ...runner, model: withField({ logits: 'not a function' }) as CausalLm, only: ['causalInvariance', 'attentionDistributions'] })
    expect(skipped).toEqual([])
    expect(registered.map((r) => r.name)).toEqual(['causal invariance', 'attention distributions'])
    await expect(registered[1].body()).rejects.toThrow(/^attention distributions could not be checked: the model description is invalid: logits: must be a function, got string/)
  })
})

describe('a run that checks nothing', () => {
  const tiny: CausalLm = { name: 'one-token model', vocabSize: 3, maxLength: 1, logits: (_p, t) => t.map((r) => r.map(() => [0, 0, 0])) }

  it('fails with a report listing why each invariant was skipped', async () => {
    const reports = await checkCausalLm(tiny, { only: ['causalInvariance', 'kvCacheEquivalence'] })
    expect(reports.map((r) => [r.property, r.status])).toEqual([
      ['causal invariance', 'skipped'],
      ['KV-cache equivalence', 'skipped'],
      ['nothing checked', 'failed'],
    ])
    expect(reports[2].message).toBe(
      'nothing checked: every selected invariant was skipped for one-token model, so nothing was checked (causal invariance: it needs sequences of 2 tokens; the model (or maxLength) allows 1; KV-cache equivalence: the model offers no incremental decoding (incremental))',
    )
  })

  it('registers a failing "nothing checked" test in a suite', async () => {
    const registered: { name: string; body: () => Promise<void> }[] = []
    const it = Object.assign((name: string, body: () => Promise<void>) => registered.push({ name, body }), { skip: () => undefined })
    causalLmSuite({ describe: (_n, body) => body(), it, model: tiny, only: ['causalInvariance'] })
    expect(registered.map((r) => r.name)).toEqual(['nothing checked'])
    await expect(registered[0].body()).rejects.toThrow(/^nothing checked: every selected invariant was skipped/)
  })
})

it('reports NaN as NaN first, not as a violated invariant', async () => {
  const toy = toyLm(5)
  const nan: CausalLm<any, any> = {
    ...toy,
    name: 'NaN at token 4',
    logits: async (p, tokens, o) => ((await toy.logits(p, tokens, o)) as number[][][]).map((r, b) => r.map((l, q) => (tokens[b][q] === 4 ? l.map(() => NaN) : l))),
  }
  const r = await causalInvariance.check(nan, { seed: 1 })
  expect(r.status).toBe('failed')
  expect(r.message).toMatch(/^NaN in the logits \(found while checking causal invariance\): the logits of \[[\d, ]*4[\d, ]*\] at position \d+ include NaN \(token 0's logit\)/)
})

describe('the backend', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  it.skipIf(!existsSync(`${root}/dist/testing/index.js`))('is left as found; when none had started, the reference (cpu) is active after backend agreement, not wasm', () => {
    const script = `
      import { backendAgreement } from 'minigpt-fp/testing'
      import * as tf from '@tensorflow/tfjs-core'
      const model = { name: 'plain', vocabSize: 3, maxLength: 4, logits: (_p, t) => t.map((r) => r.map((x) => [x, 1, 2])) }
      const before = tf.getBackend() ?? 'none'
      const r = await backendAgreement.check(model, { numRuns: 2 })
      console.log(before, r.status, tf.getBackend())`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
    expect(out.trim()).toBe('none passed cpu')
  })
})
