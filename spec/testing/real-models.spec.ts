/**
 * The kit on the library's real models: tiny Mini-GPT and GPT-2 configs random-initialised
 * from keys, GPT-2 with the gpt2-tiny fixture's trained weights, and any config the config
 * arbitraries produce, pass every invariant. Each suite is one line.
 */
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import * as tree from '../../src/core/tree.js'
import { readSafetensorsFile } from '../../src/io/files.js'
import { floatTensors } from '../../src/io/tensors.js'
import { miniGpt, type MiniGptConfig } from '../../src/models/minigpt/index.js'
import { decodeGpt2Config, gpt2, type Gpt2Config, type Gpt2Params } from '../../src/models/gpt2/index.js'
import { checkCausalLm, causalLmSuite, gpt2Config, gpt2UnderTest, miniGptConfig, miniGptUnderTest, paramsOf } from '../../src/testing/index.js'

// The suites are registered when the file loads and need the parameters then: start the backend first.
await initBackend('cpu')

const mini: MiniGptConfig = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 2, ff_dim: 16, max_len: 6, dropout: 0.1, pad_idx: 0 }
const g2: Gpt2Config = { vocab_size: 13, n_positions: 10, n_embd: 8, n_layer: 2, n_head: 2, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }

causalLmSuite({ describe, it, model: miniGptUnderTest(mini, miniGpt(mini).init(key(0))) })
causalLmSuite({ describe, it, model: gpt2UnderTest(g2, gpt2(g2).init(key(1))) })

/** GPT-2 with the gpt2-tiny fixture's weights (Hugging Face names, `transformer.` prefix, mask buffers dropped). */
const fixture = async (): Promise<{ config: Gpt2Config; params: Gpt2Params }> => {
  const dir = fileURLToPath(new URL('../fixtures/gpt2-tiny/', import.meta.url))
  const config = decodeGpt2Config(JSON.parse(readFileSync(`${dir}config.json`, 'utf8')))
  if (E.isLeft(config)) throw new Error(config.left.problems.join('; '))
  const file = await readSafetensorsFile(`${dir}model.safetensors`)()
  if (E.isLeft(file)) throw new Error(file.left.message)
  const flat = floatTensors(file.right, (n) => !n.endsWith('.attn.bias') && !n.endsWith('.attn.masked_bias'))
  if (E.isLeft(flat)) throw new Error(flat.left)
  const named = new Map([...flat.right].map(([n, t]) => [n.replace(/^transformer\./, ''), t]))
  const like = gpt2(config.right).init(key(0))
  const { tree: params, problems } = tree.unflattenLike(like, named)
  tree.dispose(like)
  if (problems.length > 0) throw new Error(problems.join('; '))
  return { config: config.right, params }
}

const trained = await fixture()
causalLmSuite({ describe, it, model: gpt2UnderTest(trained.config, trained.params, 'GPT-2 gpt2-tiny (trained weights)'), numRuns: 8 })

describe('every config the arbitraries make', () => {
  // Outer property over configs and initialisations, inner properties over inputs: few runs of each.
  test.prop([miniGptConfig({ maxVocab: 8, maxHeads: 2, maxHeadDim: 4, maxLen: 5 }), fc.nat()], { numRuns: 6 })('Mini-GPT holds the invariants', async (config, seed) => {
    const model = miniGpt(config)
    const params = model.init(key(seed))
    try {
      const reports = await checkCausalLm(miniGptUnderTest(config, params), { numRuns: 4, skip: ['backendAgreement'] })
      for (const r of reports) expect(r.status, r.message).not.toBe('failed')
    } finally {
      tree.dispose(params)
    }
  })

  test.prop([gpt2Config({ maxVocab: 8, maxPositions: 6, maxHeads: 2, maxHeadDim: 4 }), fc.nat()], { numRuns: 6 })('GPT-2 holds the invariants', async (config, seed) => {
    const params = gpt2(config).init(key(seed))
    try {
      const reports = await checkCausalLm(gpt2UnderTest(config, params), { numRuns: 4, skip: ['backendAgreement'] })
      for (const r of reports) expect(r.status, r.message).not.toBe('failed')
    } finally {
      tree.dispose(params)
    }
  })

  test.prop([paramsOf(miniGpt(mini))], { numRuns: 3 })('and any initialisation, drawn as a parameter tree (disposed by the run)', async ({ params }) => {
    const before = tf.memory().numTensors
    try {
      const r = await checkCausalLm(miniGptUnderTest(mini, params), { numRuns: 3, only: ['causalInvariance', 'kvCacheEquivalence'] })
      for (const x of r) expect(x.status, x.message).toBe('passed')
    } finally {
      tree.dispose(params)
    }
    expect(tf.memory().numTensors).toBe(before - tree.leaves(params).length)
  })
})
