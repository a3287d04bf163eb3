/**
 * The kit's mutation score: every broken twin in mutants.ts (the library's models and
 * processors, one realistic bug each, and misconfigured descriptions) must be killed — some
 * check of the kit's defaults fails on it — while the correct subjects (the library's Mini-GPT
 * and GPT-2, the gpt2-tiny fixture, the docs' toy model, a left-padding Mini-GPT, the
 * library's sampler and processors) pass with three different seeds. The score is printed
 * (`npm run test:kit`); the bar is 95 % killed.
 */
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { miniGpt, type MiniGptConfig } from '../../src/models/minigpt/index.js'
import { gpt2, type Gpt2Config } from '../../src/models/gpt2/index.js'
import { checkCausalLm, checkSampling } from '../../src/testing/index.js'
import { gpt2Tiny } from './gpt2-tiny.js'
import { correctSubjects, mutants } from './mutants.js'

await initBackend('cpu')

const c: MiniGptConfig = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 2, ff_dim: 16, max_len: 10, dropout: 0.1, pad_idx: 0 }
const c1: MiniGptConfig = { ...c, num_layers: 1 }
const g2: Gpt2Config = { vocab_size: 13, n_positions: 10, n_embd: 8, n_layer: 2, n_head: 2, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }
const mini = { c, p: miniGpt(c).init(key(0)), c1, p1: miniGpt(c1).init(key(1)) }
const gpt = { c: g2, p: gpt2(g2).init(key(2)) }
const tiny = await gpt2Tiny()

describe('the mutation suite', () => {
  it('kills at least 95 % of the mutants (score printed)', async () => {
    const all = mutants(mini, gpt)
    const survivors: string[] = []
    for (const m of all) {
      const reports = await m.reports()
      const failed = reports.filter((r) => r.status === 'failed')
      if (failed.length === 0) survivors.push(m.name)
      if (process.env.KIT_MUTANTS === 'verbose') console.log(`${m.name}: ${failed.map((r) => r.message.split('\n')[0].slice(0, 160)).join(' | ') || 'SURVIVED'}`)
    }
    const killed = all.length - survivors.length
    const score = (100 * killed) / all.length
    console.log(`kit mutation score: ${killed}/${all.length} mutants killed (${score.toFixed(1)} %)${survivors.length > 0 ? `; survivors: ${survivors.join('; ')}` : ''}`)
    expect(all.length).toBeGreaterThanOrEqual(20)
    expect(score).toBeGreaterThanOrEqual(95)
  }, 600_000)
})

describe('the correct subjects pass with three seeds', () => {
  const subjects = correctSubjects(mini, gpt, { c: tiny.config, p: tiny.params })
  for (const seed of [1, 2, 3]) {
    it(`every model, seed ${seed}`, async () => {
      for (const model of subjects.models) {
        const reports = await checkCausalLm(model, { seed, skip: ['backendAgreement'] })
        for (const r of reports) expect(r.status, r.message).not.toBe('failed')
        expect(reports.filter((r) => r.status === 'passed').length, model.name).toBeGreaterThanOrEqual(5)
      }
    }, 600_000)
    it(`the library's sampler and processors, seed ${seed}`, async () => {
      for (const r of await checkSampling(subjects.sampling, { seed })) expect(r.status, r.message).toBe('passed')
    }, 600_000)
  }
})
