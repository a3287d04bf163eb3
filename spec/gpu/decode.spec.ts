/**
 * Decoding on webgpu keeps to the device: the only reads from the GPU are the logits the sampler
 * needs, one read per model call (the prefill and each step); the KV cache, the embeddings and
 * the masks never come back to the host. Counted by wrapping the backend's read functions.
 */
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { dispose } from '../../src/core/tree.js'
import { GPT2_PRESETS, type Gpt2Config } from '../../src/models/gpt2/config.js'
import { gpt2 } from '../../src/models/gpt2/model.js'
import { SEED_CONFIG } from '../../src/models/minigpt/config.js'
import { miniGpt } from '../../src/models/minigpt/model.js'
import { miniGptDecoder } from '../../src/models/minigpt/decoder.js'
import { generate, generateBatch } from '../../src/sample/engine.js'
import { gpt2Decoder } from '../../src/models/gpt2/decoder.js'
import { greedySampler } from '../../src/sample/samplers.js'
import { webgpuOptionsFromEnv } from './env.js'

interface Reads {
  readonly async: number
  readonly sync: number
}

let reads: { async: number; sync: number } = { async: 0, sync: 0 }
let restore: () => void = () => undefined

beforeAll(async () => {
  await initBackend('webgpu', { webgpu: webgpuOptionsFromEnv() })
  const backend = tf.backend() as unknown as { read: (id: object) => Promise<unknown>; readSync: (id: object) => unknown }
  const { read, readSync } = backend
  backend.read = (id) => {
    reads.async++
    return read.call(backend, id)
  }
  backend.readSync = (id) => {
    reads.sync++
    return readSync.call(backend, id)
  }
  restore = () => Object.assign(backend, { read, readSync })
})
afterAll(() => restore())

const counting = async <T>(f: () => Promise<T>): Promise<{ value: T; reads: Reads }> => {
  reads = { async: 0, sync: 0 }
  const value = await f()
  return { value, reads: { ...reads } }
}

describe('decoding on webgpu', () => {
  it('reads back only the logits: GPT-2 with the owning decoder (embeddings from wteᵀ), 70 tokens across the cache merge', async () => {
    const config: Gpt2Config = { ...GPT2_PRESETS.gpt2, vocab_size: 97, n_positions: 96, n_embd: 32, n_layer: 2, n_head: 4 }
    const decoder = gpt2Decoder(config, gpt2(config).init(key(1)), { ownsParams: true })
    const before = tf.memory().numTensors
    const { value, reads } = await counting(() => generate(decoder, { prompt: [3, 1, 4, 1, 5], maxNewTokens: 70, sampler: greedySampler }, key(2)))
    expect(value.tokens).toHaveLength(70)
    // One prefill and 69 steps: 70 model calls, each one read of its last-position logits.
    expect(reads).toEqual({ async: 70, sync: 0 })
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
  })

  it('reads back only the logits: Mini-GPT, a batch of 16 (the small-table embedding path on host backends)', async () => {
    const config = SEED_CONFIG(81)
    const params = miniGpt(config).init(key(3))
    const decoder = miniGptDecoder(config, params)
    const requests = Array.from({ length: 16 }, (_, i) => ({ prompt: [1, 3 + i], maxNewTokens: 10, sampler: greedySampler }))
    const { value, reads } = await counting(() => generateBatch(decoder, requests, key(4)))
    expect(value.every((r) => r.tokens.length === 10)).toBe(true)
    expect(reads.sync).toBe(0)
    expect(reads.async).toBe(10) // one batched call per position
    dispose(params)
  })
})
