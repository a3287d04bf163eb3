import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import * as T from '../../src/core/tree.js'
import { gpt2, type Gpt2Params } from '../../src/models/gpt2/model.js'
import type { Gpt2Config } from '../../src/models/gpt2/config.js'
import { gpt2Decoder } from '../../src/models/gpt2/decoder.js'
import { miniGptDecoder } from '../../src/models/minigpt/decoder.js'
import { miniGpt, SEED_CONFIG } from '../../src/models/minigpt/index.js'
import { PREFILL_CHUNK } from '../../src/models/tfjs-decoder.js'
import { cacheLength, RECENT_BLOCK } from '../../src/nn/attention.js'

const config: Gpt2Config = { vocab_size: 50, n_positions: 200, n_embd: 16, n_layer: 2, n_head: 2, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }

describe('tfjsDecoder prefill in chunks', () => {
  let params: Gpt2Params
  beforeAll(async () => {
    await initBackend('cpu')
    params = gpt2(config).init(key(4))
  })

  it.each([PREFILL_CHUNK - 1, PREFILL_CHUNK, PREFILL_CHUNK + 1, 2 * PREFILL_CHUNK + 7])(
    "a prompt of %i tokens gives the full forward pass's logits and a cache of every position",
    async (n) => {
      const prompts = [0, 1].map((r) => Array.from({ length: n }, (_, i) => (i * 7 + r * 3) % config.vocab_size))
      const before = tf.memory().numTensors
      const decoder = gpt2Decoder(config, params)
      const out = await decoder.prefill(prompts)
      const full = tf.tidy(() => {
        const l = gpt2(config).apply(params, { ids: tf.tensor2d(prompts, [2, n], 'int32') }, EVAL).logits
        return tf.slice(l, [0, n - 1, 0], [2, 1, config.vocab_size])
      })
      const expected = full.dataSync()
      full.dispose()
      let diff = 0
      out.logits.forEach((row, r) => row.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - expected[r * config.vocab_size + i])))))
      expect(diff).toBeLessThan(1e-4)
      expect(out.cache.map((c) => cacheLength(c))).toEqual([n, n])
      expect(out.cache.map((c) => [c.k.shape[0], c.k.shape[1], c.k.shape[3]])).toEqual([
        [2, 2, 8],
        [2, 2, 8],
      ])
      decoder.release(out.cache)
      decoder.dispose()
      expect(tf.memory().numTensors).toBe(before)
    },
  )

  it("leaves the caller's parameters alone", () => {
    expect(T.count(params)).toBeGreaterThan(0)
    expect(T.leaves(params).every((t) => !t.isDisposed)).toBe(true)
  })
})

describe('gpt2Decoder with ownsParams', () => {
  it('frees wte at once, decodes the same greedy tokens from wteᵀ alone, and frees every parameter in dispose()', async () => {
    await initBackend('wasm')
    const prompt = [3, 17, 42, 8, 25]
    const greedy = async (decoder: ReturnType<typeof gpt2Decoder>) => {
      let out = await decoder.prefill([prompt])
      const tokens: number[] = []
      for (let s = 0; s < 12; s++) {
        const row = out.logits[0]
        const next = row.indexOf(Math.max(...row))
        tokens.push(next)
        const step = await decoder.step(out.cache, [next])
        decoder.release(out.cache)
        out = step
      }
      decoder.release(out.cache)
      return { tokens, logits: Array.from(out.logits[0]) }
    }
    const before = tf.memory().numTensors
    const kept = gpt2(config).init(key(21))
    const plain = gpt2Decoder(config, kept)
    const want = await greedy(plain)
    plain.dispose()
    T.dispose(kept)
    const owned = gpt2(config).init(key(21))
    const decoder = gpt2Decoder(config, owned, { ownsParams: true })
    expect(owned.wte.weight.isDisposed).toBe(true)
    const got = await greedy(decoder)
    expect(got.tokens).toEqual(want.tokens)
    expect(Math.max(...got.logits.map((v, i) => Math.abs(v - want.logits[i])))).toBeLessThan(1e-5)
    decoder.dispose()
    expect(T.leaves(owned).every((t) => t.isDisposed)).toBe(true)
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe('a long cache keeps its newest positions apart (RECENT_BLOCK)', () => {
  // On wasm the steps' attention is the SIMD kernel (backend/simd), the full pass tfjs ops.
  it.each(['cpu', 'wasm'])("on %s, decoding step by step past two merges gives the full forward pass's logits, and select keeps both parts", async (backend) => {
    await initBackend(backend)
    const params = gpt2(config).init(key(11))
    const decoder = gpt2Decoder(config, params)
    const ids = Array.from({ length: 2 * RECENT_BLOCK + 20 }, (_, i) => (i * 5 + 1) % config.vocab_size)
    const full = tf.tidy(() => gpt2(config).apply(params, { ids: tf.tensor2d([ids], [1, ids.length], 'int32') }, EVAL).logits)
    const expected = full.arraySync()[0]
    full.dispose()
    const before = tf.memory().numTensors
    let out = await decoder.prefill([ids.slice(0, 10)])
    const seen = new Set<string>()
    for (let n = 10; n < ids.length; n++) {
      const c = out.cache[0]
      seen.add(c.recent === undefined ? 'one' : 'two')
      expect(cacheLength(c)).toBe(n)
      if (c.recent !== undefined) expect(c.recent.k.shape[2]).toBeLessThan(RECENT_BLOCK)
      const diff = Math.max(...Array.from(out.logits[0], (v, i) => Math.abs(v - expected[n - 1][i])))
      expect(diff).toBeLessThan(1e-4)
      if (n === RECENT_BLOCK + 30) {
        // Beams: select duplicates both parts of every layer's cache.
        const picked = decoder.select(out.cache, [0, 0])
        expect(picked.every((p) => p.recent !== undefined && p.recent.k.shape[0] === 2 && p.k.shape[0] === 2)).toBe(true)
        decoder.release(picked)
      }
      const next = await decoder.step(out.cache, [ids[n]])
      decoder.release(out.cache)
      out = next
    }
    expect(seen).toEqual(new Set(['one', 'two']))
    decoder.release(out.cache)
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
    T.dispose(params)
  })
})

describe('Mini-GPT decoding on wasm (SIMD attention, GELU and cache appends)', () => {
  it("gives the full forward pass's logits at every step, for a batch of three", async () => {
    await initBackend('wasm')
    const config = SEED_CONFIG(30, 0)
    const params = miniGpt(config).init(key(8))
    const decoder = miniGptDecoder(config, params)
    const rows = [0, 1, 2].map((r) => Array.from({ length: 20 }, (_, i) => 1 + ((i * 7 + r * 11) % 29)))
    const full = tf.tidy(() => miniGpt(config).apply(params, { ids: tf.tensor2d(rows, [3, 20], 'int32') }, EVAL).logits)
    const expected = full.arraySync()
    full.dispose()
    const before = tf.memory().numTensors
    let out = await decoder.prefill(rows.map((r) => r.slice(0, 4)))
    for (let n = 4; n <= 20; n++) {
      for (let r = 0; r < 3; r++) {
        const diff = Math.max(...Array.from(out.logits[r], (v, i) => Math.abs(v - expected[r][n - 1][i])))
        expect(diff).toBeLessThan(1e-4)
      }
      if (n === 20) break
      const next = await decoder.step(
        out.cache,
        rows.map((r) => r[n]),
      )
      decoder.release(out.cache)
      out = next
    }
    decoder.release(out.cache)
    expect(tf.memory().numTensors).toBe(before)
    T.dispose(params)
  })
})
