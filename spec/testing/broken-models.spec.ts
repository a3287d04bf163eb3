/**
 * Proof that the kit catches bugs: each deliberately broken variant (spec/testing/broken-models.ts)
 * fails the matching invariant with a message that names the invariant and the shrunk
 * counterexample, while the real model passes the same invariant.
 */
import { describe, expect, it } from 'vitest'
import { test } from '@fast-check/vitest'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import { miniGpt, type MiniGptConfig } from '../../src/models/minigpt/index.js'
import {
  attentionDistributions,
  backendAgreement,
  batchInvariance,
  causalInvariance,
  checkCausalLm,
  determinism,
  finiteOutputs,
  kvCacheEquivalence,
  miniGptUnderTest,
  paddingInvariance,
  prefixConsistency,
  tokenBatch,
  type CausalLm,
  type LmProperty,
} from '../../src/testing/index.js'
import * as broken from './broken-models.js'

await initBackend('cpu')

const c2: MiniGptConfig = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 2, ff_dim: 16, max_len: 6, dropout: 0.1, pad_idx: 0 }
const c1: MiniGptConfig = { ...c2, num_layers: 1 }
const p2 = miniGpt(c2).init(key(0))
const p1 = miniGpt(c1).init(key(1))
const real2 = miniGptUnderTest(c2, p2)
const real1 = miniGptUnderTest(c1, p1)

const T = String.raw`\[[\d, ]+\]` // a token list in a message
const N = String.raw`-?[\d.e-]+` // a number in a message

/** The property fails on the broken model with a message matching `pattern`, and holds on the real one. */
const catches = async (property: LmProperty, bad: CausalLm<any, any>, pattern: RegExp, real: CausalLm<any, any> = real2) => {
  const r = await property.check(bad)
  expect(r.status, r.message).toBe('failed')
  expect(r.message.startsWith(`${property.name} violated: `), r.message).toBe(true)
  expect(r.message).toMatch(pattern)
  expect(r.message).toMatch(/replay with \{ seed: -?\d+, path: "[\d:]+" \}/)
  const ok = await property.check(real)
  expect(ok.status, ok.message).toBe('passed')
  return r
}

describe('the fork used for the broken variants', () => {
  test.prop([tokenBatch({ vocabSize: 11, maxLength: 8 })], { numRuns: 10 })('computes exactly what the real Mini-GPT computes when it has no bugs', (tokens) => {
    const [forked, weights] = tf.tidy(() => {
      const out = broken.forkedForward(c2)(p2, tokens, undefined, true)
      return [out.logits.arraySync(), out.weights.map((w) => w.arraySync())]
    })
    const [actual, realWeights] = tf.tidy(() => {
      const out = miniGpt(c2).apply(p2, { ids: tf.tensor2d(tokens, undefined, 'int32'), returnAttention: true }, EVAL)
      return [out.logits.arraySync(), (out.attention ?? []).map((w) => w.arraySync())]
    })
    expect(forked).toEqual(actual)
    expect(weights).toEqual(realWeights)
  })
})

describe('a causal mask shifted by one (each position sees the next)', () => {
  const bad = broken.forkedMiniGpt(c2, p2, { lookahead: 1 }, 'Mini-GPT with a shifted mask')

  it('fails causal invariance, naming the change, the position and the size of the difference', async () => {
    await catches(
      causalInvariance,
      bad,
      new RegExp(
        `^causal invariance violated: changing the tokens after position \\d+ of ${T} \\(to ${T}\\) changed the logits at position \\d+ by ${N} \\(token \\d+'s logit: ${N} before, ${N} after; tolerance 1e-5\\)`,
      ),
    )
  })

  it('shrinks to the smallest counterexample: two tokens, the second changed, position 0', async () => {
    const r = await causalInvariance.check(bad, { seed: 42 })
    expect(r.message).toMatch(/^causal invariance violated: changing the tokens after position 0 of \[\d+, \d+\] \(to \[\d+, \d+\]\) changed the logits at position 0 by/)
  })

  it('fails attention distributions: weight on a later position', async () => {
    await catches(
      attentionDistributions,
      bad,
      new RegExp(`^attention distributions violated: in layer 0, head \\d+, query \\d+ of ${T} puts weight ${N} on key \\d+, a later position \\(it must be 0`),
    )
  })

  it('a full check names exactly the invariants the bug breaks', async () => {
    const reports = await checkCausalLm(bad, { skip: ['backendAgreement'] })
    const failed = reports.filter((r) => r.status === 'failed').map((r) => r.property)
    expect(failed).toEqual(expect.arrayContaining(['causal invariance', 'prefix consistency', 'attention distributions']))
    expect(failed).not.toContain('determinism')
    expect(failed).not.toContain('batch invariance')
    expect(failed).not.toContain('finite outputs')
  })
})

describe('the causal mask missing in one layer', () => {
  const bad = broken.forkedMiniGpt(c2, p2, { unmaskedLayer: 1 }, 'Mini-GPT without a mask in layer 1')

  it('fails causal invariance', async () => {
    await catches(causalInvariance, bad, /^causal invariance violated: changing the tokens after position \d+ of/)
  })

  it('fails attention distributions, naming the unmasked layer', async () => {
    await catches(attentionDistributions, bad, /^attention distributions violated: in layer 1, head \d+, query \d+ of .* a later position/)
  })
})

describe('a padding mask laid on the queries instead of the keys', () => {
  it('fails padding invariance in a one-layer model: the padding tokens leak into real positions', async () => {
    const bad = broken.forkedMiniGpt(c1, p1, { paddingOnQueries: true }, 'one-layer Mini-GPT masking queries')
    const r = await catches(
      paddingInvariance,
      bad,
      new RegExp(`^padding invariance violated: with attention mask ${T}, changing the padding tokens of ${T} \\(to ${T}\\) changed the logits at real position \\d+ by ${N}`),
      real1,
    )
    // Padding may sit anywhere, the first position included (since left padding is tried too).
    expect(r.message).toMatch(/attention mask \[[01](, [01])*\]/)
  })

  it('fails padding invariance in a two-layer model (masked query rows turn to NaN and spread)', async () => {
    await catches(paddingInvariance, broken.forkedMiniGpt(c2, p2, { paddingOnQueries: true }, 'Mini-GPT masking queries'), /^padding invariance violated: /)
  })
})

describe('a KV cache that drops its first position', () => {
  it('fails KV-cache equivalence, naming the prompt, the fed tokens and the position', async () => {
    await catches(
      kvCacheEquivalence,
      broken.cacheDroppingMiniGpt(c2, p2),
      new RegExp(
        `^KV-cache equivalence violated: for ${T}, prefilling ${T} and then feeding [\\d, ]+ one token at a time gave logits at position \\d+ that differ from the full computation by ${N}`,
      ),
    )
  })
})

describe('positions counted from the end of the sequence', () => {
  const bad = broken.forkedMiniGpt(c2, p2, { positionsFromEnd: true }, 'Mini-GPT with right-aligned positions')

  it('fails prefix consistency', async () => {
    await catches(
      prefixConsistency,
      bad,
      new RegExp(`^prefix consistency violated: the logits of the prefix ${T} at position \\d+ differ by ${N} .* from those of the whole sequence ${T}`),
    )
  })

  it('still passes causal invariance: the two invariants are different', async () => {
    expect((await causalInvariance.check(bad)).status).toBe('passed')
  })
})

describe('more broken variants', () => {
  it('dropout left on fails determinism', async () => {
    await catches(
      determinism,
      broken.dropoutOnMiniGpt(c2, p2),
      /^determinism violated: computing the logits of \[\[[\d, ]+\](, \[[\d, ]+\])*\] twice gave different values at position \d+/,
    )
  })

  it('logits centred over the batch fail batch invariance', async () => {
    await catches(
      batchInvariance,
      broken.batchNormMiniGpt(c2, p2),
      new RegExp(`^batch invariance violated: the logits of ${T} at position \\d+ changed by ${N} .* when it was row \\d+ of the batch \\[${T}(, ${T})+\\] instead of alone`),
    )
  })

  it('a token whose logits overflow fails finite outputs', async () => {
    await catches(finiteOutputs, broken.overflowingMiniGpt(c2, p2, 3), /^finite outputs violated: the logits of \[[\d, ]*3[\d, ]*\].* at position \d+ include (-?Infinity|NaN)/)
  })

  it('a wasm kernel off by 0.01 fails backend agreement (the check switches backends and restores cpu)', async () => {
    await catches(
      backendAgreement,
      broken.wasmSkewedMiniGpt(c2, p2),
      /^backend agreement violated: the logits of \[[\d, ]+\] at position \d+ differ by 0.01 .* between cpu and wasm/,
    )
    expect(tf.getBackend()).toBe('cpu')
  })
})

describe('a model that throws or returns the wrong shape', () => {
  it('is reported as the property failing, with the input that did it', async () => {
    const wrongShape: CausalLm = { name: 'short rows', vocabSize: 5, maxLength: 4, logits: (_p, tokens) => tokens.map((r) => r.map(() => [0, 0, 0])) }
    const r = await determinism.check(wrongShape)
    expect(r.status).toBe('failed')
    expect(r.message).toMatch(/^determinism could not be checked: logits\(\[\[\d+\]\]\) returned logits of shape \[1, 1, 3\], expected \[1, 1, 5\]/)
    const throwing: CausalLm = {
      name: 'thrower',
      vocabSize: 5,
      maxLength: 4,
      logits: (_p, tokens) => {
        if (tokens[0].includes(4)) throw new Error('token 4 is unknown')
        return tokens.map((r) => r.map(() => [0, 0, 0, 0, 0]))
      },
    }
    const t = await finiteOutputs.check(throwing)
    expect(t.message).toMatch(/^finite outputs could not be checked: logits\(\[\[4\]\]\) threw: token 4 is unknown/)
  })
})

it('the real model leaks no tensors over a full check', async () => {
  const before = tf.memory().numTensors
  await checkCausalLm(real2, { numRuns: 3, skip: ['backendAgreement'] })
  expect(tf.memory().numTensors).toBe(before)
})
