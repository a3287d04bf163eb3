/**
 * The kit's mechanics: any model shape it accepts (nested arrays, Float32Array rows, tensors,
 * promises, incremental decoding through a hand-written DecoderModel), registration with any runner's describe/it,
 * reports and exceptions, replaying a counterexample, the wording helpers, and that the
 * `minigpt-fp/testing` module never loads a test runner.
 */
import { describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs-core'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initBackend } from '../../src/backend/index.js'
import {
  assertCausalLm,
  attentionDistributions,
  causalInvariance,
  causalLmSuite,
  checkCausalLm,
  compareRows,
  kvCacheEquivalence,
  LM_PROPERTIES,
  numberInWords,
  paddingInvariance,
  PropertyViolation,
  readLogits,
  readNextLogits,
  tokensInWords,
  type CausalLm,
  type TestRunner,
} from '../../src/testing/index.js'
import { toyLm } from './toy-lm.js'

await initBackend('cpu')

describe('a hand-written model in plain arrays', () => {
  it('passes every invariant it can be checked for; the rest are skipped with the reason', async () => {
    const reports = await checkCausalLm(toyLm(7), { skip: ['backendAgreement'] })
    expect(reports.map((r) => [r.property, r.status])).toEqual([
      ['causal invariance', 'passed'],
      ['prefix consistency', 'passed'],
      ['KV-cache equivalence', 'passed'],
      ['batch invariance', 'passed'],
      ['padding invariance', 'passed'],
      ['left-padding invariance', 'skipped'],
      ['determinism', 'passed'],
      ['finite outputs', 'passed'],
      ['attention distributions', 'skipped'],
    ])
    expect(reports[8].message).toBe('attention distributions: skipped for toy model: the model does not expose its attention weights (attention)')
  })

  it('works asynchronously too, and releases every incremental state exactly once', async () => {
    const released: number[] = []
    const handed: number[] = []
    const m = toyLm(5, { async: true, released, handed })
    expect((await kvCacheEquivalence.check(m, { numRuns: 15 })).status).toBe('passed')
    expect(handed.length).toBeGreaterThan(15)
    expect([...released].sort((a, b) => a - b)).toEqual([...handed].sort((a, b) => a - b))
  })

  it('fails causal invariance when it sees the future, and assertCausalLm throws the counterexamples in words', async () => {
    const bad = toyLm(5, { future: true })
    const err = await assertCausalLm(bad, { only: ['causalInvariance', 'prefixConsistency', 'determinism'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PropertyViolation)
    const v = err as PropertyViolation
    expect(v.reports.map((r) => r.property)).toEqual(['causal invariance', 'prefix consistency'])
    expect(v.message).toMatch(/^causal invariance violated: changing the tokens after position 0 of \[\d, \d\] \(to \[\d, \d\]\) changed the logits at position 0 by/)
    expect(v.message).toMatch(/\n\nprefix consistency violated: the logits of the prefix \[\d\] at position 0 differ by/)
  })

  it('replays a failure exactly from the seed and path in its message', async () => {
    const bad = toyLm(5, { future: true })
    const first = await causalInvariance.check(bad)
    const [, seed, path] = /replay with \{ seed: (-?\d+), path: "([\d:]+)" \}/.exec(first.message) ?? []
    const again = await causalInvariance.check(bad, { seed: Number(seed), path })
    expect(again.status).toBe('failed')
    expect(again.message.split('\n')[0]).toBe(first.message.split('\n')[0])
    expect(again.counterexample).toEqual(first.counterexample)
  })

  it('stops at a time limit and says so', async () => {
    const toy = toyLm(5)
    const slow: typeof toy = {
      ...toy,
      logits: async (p, tokens, o) => {
        await new Promise((r) => setTimeout(r, 20))
        return toy.logits(p, tokens, o)
      },
    }
    const r = await causalInvariance.check(slow, { numRuns: 1000, timeLimitMs: 150 })
    expect(r.status).toBe('passed')
    expect(r.runs).toBeLessThan(1000)
    expect(r.message).toMatch(/^causal invariance: held on \d+ cases for toy model \(stopped by the time limit\)$/)
  })

  it('shares a time budget among the invariants', async () => {
    const toy = toyLm(5)
    const slow: typeof toy = {
      ...toy,
      logits: async (p, tokens, o) => {
        await new Promise((r) => setTimeout(r, 10))
        return toy.logits(p, tokens, o)
      },
    }
    const reports = await checkCausalLm(slow, { only: ['causalInvariance', 'determinism'], numRuns: 1000, timeBudgetMs: 400 })
    expect(reports.map((r) => r.status)).toEqual(['passed', 'passed'])
    for (const r of reports) {
      expect(r.runs).toBeLessThan(1000)
      expect(r.message).toMatch(/\(stopped by the time limit\)/)
    }
  })

  it('padding by id: a model that pools over the whole row, padding included, fails', async () => {
    const base = toyLm(6)
    const poolsPadding: CausalLm = {
      name: 'pools padding',
      vocabSize: 6,
      maxLength: 8,
      padding: { padId: 0 },
      // mean over every position of the row: padding (and the future) leak into real positions
      logits: (_p, tokens) => tokens.map((r) => r.map((t) => Array.from({ length: 6 }, (_, v) => Math.sin(t + v) + r.reduce((a, s) => a + s * v, 0) / r.length))),
    }
    const r = await paddingInvariance.check(poolsPadding)
    expect(r.message).toMatch(
      /^padding invariance violated: the logits of \[[\d, ]+\] at position \d+ differ by .* between running it unpadded and right-padded as \[[\d, ]*0\] \(attention mask \[1(, [01])*, 0\]\)/,
    )
    expect((await paddingInvariance.check({ ...base, padding: { padId: 0 } })).status).toBe('passed')
  })
})

describe('what a model may return', () => {
  it('reads nested arrays, Float32Array rows and tensors, disposing tensors', async () => {
    const t = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
    ])
    expect((await readLogits(t, 1, 2, 2, 'x')).map((r) => r.map((x) => Array.from(x)))).toEqual([
      [
        [1, 2],
        [3, 4],
      ],
    ])
    expect(t.isDisposed).toBe(true)
    expect((await readLogits([[Float32Array.of(1, 2)]], 1, 1, 2, 'x'))[0][0]).toEqual(Float32Array.of(1, 2))
    const last = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ])
    expect((await readNextLogits(last, 2, 2, 'x')).map((r) => Array.from(r))).toEqual([
      [3, 4],
      [7, 8],
    ])
    expect(
      (
        await readNextLogits(
          [
            [
              [0, 0],
              [9, 9],
            ],
          ],
          1,
          2,
          'x',
        )
      ).map((r) => Array.from(r)),
    ).toEqual([[9, 9]])
    expect((await readNextLogits([Float32Array.of(1, 1)], 1, 2, 'x')).map((r) => Array.from(r))).toEqual([[1, 1]])
  })

  it('says which call returned which wrong shape', async () => {
    const t = tf.zeros([1, 3, 4])
    await expect(readLogits(t, 1, 3, 5, 'logits([[1, 2, 3]])')).rejects.toThrow(
      'logits([[1, 2, 3]]) returned logits of shape [1, 3, 4], expected [1, 3, 5] ([batch, position, vocabSize])',
    )
    expect(t.isDisposed).toBe(true)
    await expect(readLogits([[[1]]], 2, 1, 1, 'f')).rejects.toThrow('f returned logits of shape [1, 1, 1], expected [2, 1, 1]')
  })

  it('reports a model without what an invariant needs as skipped, and a bad model description as failed, naming the field', async () => {
    const plain: CausalLm = { vocabSize: 4, maxLength: 1, logits: (_p, tokens) => tokens.map((r) => r.map(() => [0, 0, 0, 0])) }
    expect((await causalInvariance.check(plain)).message).toBe('causal invariance: skipped for the model: it needs sequences of 2 tokens; the model (or maxLength) allows 1')
    const bad = await attentionDistributions.check({ ...plain, vocabSize: 0 })
    expect(bad.status).toBe('failed')
    expect(bad.message).toMatch(/^attention distributions could not be checked: the model description is invalid: vocabSize: must be an integer ≥ 1, got 0/)
  })
})

describe('causalLmSuite with any runner', () => {
  /** A recording runner: what mocha, jest or node:test would be given. */
  const recorder = () => {
    const calls: { kind: string; name: string; body?: () => unknown; timeout?: number }[] = []
    const it = Object.assign((name: string, body: () => Promise<void>, timeout?: number) => calls.push({ kind: 'it', name, body, timeout }), {
      skip: (name: string) => calls.push({ kind: 'skip', name }),
    })
    const runner: TestRunner = {
      describe: (name, body) => {
        calls.push({ kind: 'describe', name })
        body()
      },
      it,
    }
    return { calls, runner }
  }

  it('registers one test per invariant, skipped ones with the reason, and a failing test throws the counterexample', async () => {
    const { calls, runner } = recorder()
    causalLmSuite({ ...runner, model: toyLm(5, { future: true }), skip: ['backendAgreement'], timeout: 5000 })
    expect(calls.map((c) => `${c.kind} ${c.name}`)).toEqual([
      'describe toy model that sees the future: causal LM invariants',
      'it causal invariance',
      'it prefix consistency',
      'it KV-cache equivalence',
      'it batch invariance',
      'it padding invariance',
      'skip left-padding invariance (skipped: the model does not declare left padding (padding: "left": it honours the mask and counts positions over real tokens))',
      'it determinism',
      'it finite outputs',
      'skip attention distributions (skipped: the model does not expose its attention weights (attention))',
    ])
    expect(calls[1].timeout).toBe(5000)
    await expect(calls[1].body?.()).rejects.toThrow(/^causal invariance violated: changing the tokens after position/)
    expect(calls[7].name).toBe('determinism')
    await expect(calls[7].body?.()).resolves.toBeUndefined()
  })

  it('works with a runner that has no it.skip', () => {
    const names: string[] = []
    causalLmSuite({ describe: (_n, body) => body(), it: (name: string) => names.push(name), model: toyLm(5), only: ['attentionDistributions', 'determinism'] })
    expect(names).toEqual(['determinism'])
  })

  it('lists every invariant once, with a summary', () => {
    expect(new Set(LM_PROPERTIES.map((p) => p.id)).size).toBe(10)
    for (const p of LM_PROPERTIES) expect(p.summary.length).toBeGreaterThan(20)
  })
})

describe('words', () => {
  it('prints numbers, tolerances and token lists for people', () => {
    expect([0.41234, 1e-5, 1e-4, 3.2e-7, 123456, 0, NaN, -Infinity, 2].map((x) => numberInWords(x))).toEqual([
      '0.41',
      '1e-5',
      '1e-4',
      '3.2e-7',
      '1.2e5',
      '0',
      'NaN',
      '-Infinity',
      '2',
    ])
    expect(tokensInWords([1, 5, 9])).toBe('[1, 5, 9]')
    expect(tokensInWords(Array.from({ length: 40 }, (_, i) => i))).toBe('[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … (16 more), 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39]')
  })

  it('compares rows absolutely below 1 and relatively above, NaN on one side being the worst', () => {
    expect(compareRows([1.000001], [1], 1e-5).within).toBe(true)
    expect(compareRows([100.0005], [100], 1e-5).within).toBe(true)
    expect(compareRows([100.002], [100], 1e-5).within).toBe(false)
    expect(compareRows([NaN, 5], [NaN, 5], 0).within).toBe(true)
    const d = compareRows([1, NaN, 9], [1, 2, 3], 1e-5)
    expect([d.within, d.at, Number.isNaN(d.by)]).toEqual([false, 1, true])
  })
})

describe('the minigpt-fp/testing module', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
  const imports = (file: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(file)) return seen
    seen.add(file)
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '') // doc comments hold examples
    for (const m of code.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]
      if (spec.startsWith('.')) imports(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), seen)
      else seen.add(spec)
    }
    return seen
  }

  it('never imports a test runner: suites take describe and it as parameters', () => {
    const all = [...imports(resolve(root, 'src/testing/index.ts'))]
    expect(all.filter((s) => /vitest|jest|mocha|node:test/.test(s))).toEqual([])
    expect(all).toContain('fast-check')
  })
})
