/**
 * KV-cache decoding equals full recomputation at every step, on cpu and wasm — a model-based test: fast-check
 * generates sequences of commands (start a prompt, feed a token, feed several tokens at once,
 * compare with recomputation) and runs them against the real Mini-GPT with its cache, checking
 * each step's logits against a full forward pass over the whole sequence so far (to 1e-4).
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import { scoped } from '../../src/core/scope.js'
import * as T from '../../src/core/tree.js'
import { contextLength, type MiniGptConfig } from '../../src/models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../../src/models/minigpt/model.js'
import type { KVCache } from '../../src/nn/attention.js'

const config: MiniGptConfig = { vocab_size: 13, embed_dim: 16, num_heads: 4, num_layers: 2, ff_dim: 24, max_len: 10, dropout: 0.1, pad_idx: 0 }
const model = miniGpt(config)
const CONTEXT = contextLength(config)

/** The system under test: the tokens so far, the cache, and the last logits it produced. */
interface Real {
  params: MiniGptParams
  tokens: number[]
  cache?: readonly KVCache[]
  last?: Float32Array // logits of the last fed position, from the cached path
}
/** The model of the system: just the tokens so far. */
interface Model {
  tokens: number[]
}

const release = (c?: readonly KVCache[]) => c?.forEach((l) => tf.dispose([l.k, l.v]))

/** Feeds tokens through the cached path, keeping the logits of the last one. */
const feed = (r: Real, ids: readonly number[]) => {
  const out = scoped(() => {
    const o = model.apply(r.params, { ids: tf.tensor2d([[...ids]], [1, ids.length], 'int32'), returnCache: true, ...(r.cache ? { cache: r.cache } : {}) }, EVAL)
    return { logits: tf.slice(o.logits, [0, ids.length - 1, 0], [1, 1, config.vocab_size]), cache: o.cache }
  })
  release(r.cache)
  r.cache = out.cache
  r.last = out.logits.dataSync() as Float32Array
  out.logits.dispose()
  r.tokens.push(...ids)
}

class Feed implements fc.Command<Model, Real> {
  constructor(readonly ids: readonly number[]) {}
  check = (m: Readonly<Model>) => m.tokens.length > 0 && m.tokens.length + this.ids.length <= CONTEXT
  run(m: Model, r: Real) {
    feed(r, this.ids)
    m.tokens.push(...this.ids)
  }
  toString = () => `feed(${this.ids.join(', ')})`
}

class Start implements fc.Command<Model, Real> {
  constructor(readonly prompt: readonly number[]) {}
  check = (m: Readonly<Model>) => m.tokens.length === 0
  run(m: Model, r: Real) {
    feed(r, this.prompt)
    m.tokens.push(...this.prompt)
  }
  toString = () => `start(${this.prompt.join(', ')})`
}

class CompareWithRecomputation implements fc.Command<Model, Real> {
  check = (m: Readonly<Model>) => m.tokens.length > 0
  run(m: Model, r: Real) {
    expect(r.tokens).toEqual(m.tokens)
    const full = tf.tidy(() => {
      const o = model.apply(r.params, { ids: tf.tensor2d([m.tokens], [1, m.tokens.length], 'int32') }, EVAL)
      return tf.slice(o.logits, [0, m.tokens.length - 1, 0], [1, 1, config.vocab_size])
    })
    const expected = full.dataSync()
    full.dispose()
    let diff = 0
    for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(expected[i] - (r.last as Float32Array)[i]))
    expect(diff, `after ${m.tokens.length} tokens [${m.tokens.join(', ')}]`).toBeLessThan(1e-4)
  }
  toString = () => 'compare'
}

const tokenArb = fc.integer({ min: 1, max: config.vocab_size - 1 })
const commands = fc.commands(
  [
    fc.array(tokenArb, { minLength: 1, maxLength: 5 }).map((p) => new Start(p)),
    tokenArb.map((t) => new Feed([t])),
    fc.array(tokenArb, { minLength: 2, maxLength: 3 }).map((ts) => new Feed(ts)),
    fc.constant(new CompareWithRecomputation()),
  ],
  { maxCommands: 24 },
)

// On wasm the caches are buffers with room, written in place (nn/kv-cache.ts), and the cached
// path's attention is the SIMD kernel; on cpu they are exact tensors and tfjs ops.
describe.each(['cpu', 'wasm'])('KV-cache decoding on %s (model-based, fast-check commands)', (backend) => {
  let params: MiniGptParams
  beforeAll(async () => {
    await initBackend(backend)
    params = model.init(key(11))
  })

  test.prop([commands, fc.integer({ min: 0, max: 1000 })], { numRuns: 40 })('equals full recomputation at every step, for random prompts and lengths', (cmds, seed) => {
    const before = tf.memory().numTensors
    const p = seed % 2 === 0 ? params : model.init(key(seed))
    const real: Real = { params: p, tokens: [] }
    try {
      fc.modelRun(() => ({ model: { tokens: [] }, real }), cmds)
    } finally {
      release(real.cache)
      if (p !== params) T.dispose(p)
    }
    expect(tf.memory().numTensors).toBe(before)
  })
})
