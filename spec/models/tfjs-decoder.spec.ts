import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
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
import { cacheCapacity, cacheFormat, cacheLength } from '../../src/nn/attention.js'
import { generateBatch } from '../../src/sample/engine.js'
import { greedySampler } from '../../src/sample/samplers.js'
import { loadGpt2Folder } from '../../src/io/hf-gpt2.js'
import golden from '../fixtures/gpt2-tiny/golden.json' with { type: 'json' }
import { argmax, margin, maxAbsDiff } from '../helpers/logits.js'
import { recordKernelCalls } from '../../src/core/tfjs-internals.js'
import { gpt2Shapes } from '../../src/models/gpt2/model.js'
import { quantize } from '../../src/quant/tree.js'

const config: Gpt2Config = { vocab_size: 50, n_positions: 600, n_embd: 16, n_layer: 2, n_head: 2, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }

describe.each(['cpu', 'wasm'])('tfjsDecoder prefill in chunks on %s', (backend) => {
  let params: Gpt2Params
  beforeAll(async () => {
    await initBackend(backend)
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
      // On wasm the caches have room for the prompt and some (reserved after the first chunk): no copy into a larger buffer before it.
      if (backend === 'wasm') expect(out.cache.every((c) => cacheCapacity(c) > n)).toBe(true)
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

/** GPT-2's logits at every position of `ids` (one row) by the full forward pass. */
const fullLogits = (params: Gpt2Params, ids: readonly number[]): number[][] =>
  tf.tidy(
    () =>
      gpt2(config)
        .apply(params, { ids: tf.tensor2d([[...ids]], [1, ids.length], 'int32') }, EVAL)
        .logits.arraySync()[0],
  )

describe.each([
  ['cpu', 'float32'],
  ['wasm', 'float32'],
  ['wasm', 'bfloat16'],
] as const)('caches written in place are still values (on %s, %s caches)', (backend, cache) => {
  let params: Gpt2Params
  // a float32 cache gives the full pass's logits to float32 rounding; a bfloat16 one within its bound (2⁻⁹ · max|logit|, below)
  const close = (got: ArrayLike<number>, want: ArrayLike<number>) =>
    expect(maxAbsDiff(got, want)).toBeLessThan(cache === 'float32' ? 1e-4 : 2 ** -9 * Math.max(...Array.from(want, Math.abs)))
  beforeAll(async () => {
    await initBackend(backend)
    params = gpt2(config).init(key(11))
  })

  // On wasm the steps' attention is the SIMD kernel over buffers with room (nn/kv-cache.ts), the full pass tfjs ops.
  it("decoding step by step, across several copies into larger buffers, gives the full forward pass's logits", async () => {
    const decoder = gpt2Decoder(config, params, { cache })
    const ids = Array.from({ length: 150 }, (_, i) => (i * 5 + 1) % config.vocab_size)
    const expected = fullLogits(params, ids)
    const before = tf.memory().numTensors
    let out = await decoder.prefill([ids.slice(0, 10)])
    let inPlace = 0
    for (let n = 10; n < ids.length; n++) {
      expect(cacheLength(out.cache[0])).toBe(n)
      close(out.logits[0], expected[n - 1])
      const next = await decoder.step(out.cache, [ids[n]])
      if (next.cache[0].k.dataId === out.cache[0].k.dataId) inPlace++
      decoder.release(out.cache)
      out = next
    }
    // On wasm most steps write in place (a copy each time the room runs out); elsewhere every step concatenates.
    if (backend === 'wasm') expect(inPlace).toBeGreaterThan(120)
    else expect(inPlace).toBe(0)
    decoder.release(out.cache)
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
  })

  it("stepping two children of one cache (in either order, and again) gives each its own sequence's logits", async () => {
    const decoder = gpt2Decoder(config, params, { cache })
    const prompt = [4, 9, 2, 33, 7, 7, 1]
    const before = tf.memory().numTensors
    const root = await decoder.prefill([prompt])
    const a = await decoder.step(root.cache, [11])
    const b = await decoder.step(root.cache, [12])
    const a2 = await decoder.step(a.cache, [13])
    const b2 = await decoder.step(b.cache, [14])
    const c = await decoder.step(root.cache, [15]) // the root again, after both children moved on
    const want = (tail: number[]) => fullLogits(params, [...prompt, ...tail]).at(-1) as number[]
    close(a.logits[0], want([11]))
    close(b.logits[0], want([12]))
    close(a2.logits[0], want([11, 13]))
    close(b2.logits[0], want([12, 14]))
    close(c.logits[0], want([15]))
    for (const o of [root, a, b, a2, b2, c]) decoder.release(o.cache)
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
  })

  it("beams: selecting rows (repeats, reordering) and stepping them with different tokens gives each row its sequence's logits", async () => {
    const decoder = gpt2Decoder(config, params, { cache })
    const prompts = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]
    const before = tf.memory().numTensors
    const root = await decoder.prefill(prompts)
    const first = await decoder.step(root.cache, [20, 21])
    const beams = decoder.select(first.cache, [1, 0, 1])
    const next = await decoder.step(beams, [30, 31, 32])
    const seqs = [
      [...prompts[1], 21, 30],
      [...prompts[0], 20, 31],
      [...prompts[1], 21, 32],
    ]
    seqs.forEach((s, r) => close(next.logits[r], fullLogits(params, s).at(-1) as number[]))
    // The rows before the selection are untouched by it and by the step after it.
    const again = await decoder.step(first.cache, [40, 41])
    close(again.logits[0], fullLogits(params, [...prompts[0], 20, 40]).at(-1) as number[])
    close(again.logits[1], fullLogits(params, [...prompts[1], 21, 41]).at(-1) as number[])
    for (const c of [root.cache, first.cache, beams, next.cache, again.cache]) decoder.release(c)
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
  })

  it('the engine with shared prompt prefixes generates what each prompt generates alone, and releases every cache', async () => {
    const decoder = gpt2Decoder(config, params, { cache })
    const prompts = [
      [3, 1, 4],
      [3, 1, 4],
      [2, 7],
      [3, 1, 4],
      [2, 7],
    ]
    const before = tf.memory().numTensors
    const requests = prompts.map((prompt) => ({ prompt, maxNewTokens: 70, sampler: greedySampler }))
    const together = await generateBatch(decoder, requests, key(1))
    const alone: (readonly number[])[] = []
    for (const [i, r] of requests.entries()) alone.push((await generateBatch(decoder, [r], key(1), { firstIndex: i }))[0].tokens)
    expect(together.map((r) => r.tokens)).toEqual(alone)
    expect(tf.memory().numTensors).toBe(before)
    decoder.dispose()
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

/**
 * The decoders' `cache: 'bfloat16'` option: the caches decoding reads hold each key and value
 * rounded to bfloat16 (8 bits of precision). The bound stated for it (docs/concepts.md): the
 * logits move by at most 2⁻⁹ · max|logit| — less than rounding the logits themselves to
 * bfloat16 would — so greedy decoding keeps float32's token wherever float32's margin exceeds
 * twice that.
 */
describe("a bfloat16 cache (the decoders' `cache` option)", () => {
  const bound = (row: ArrayLike<number>) => 2 ** -9 * Math.max(...Array.from(row, Math.abs))

  it("on wasm: GPT-2's logits within the bound of a float32 cache's at every step, float32's greedy tokens, caches bfloat16 and written in place", async () => {
    await initBackend('wasm')
    const params = gpt2(config).init(key(11))
    const before = tf.memory().numTensors
    const f = gpt2Decoder(config, params)
    const b = gpt2Decoder(config, params, { cache: 'bfloat16' })
    // a prompt longer than a prefill chunk: chunks in float32, converted as the prefill ends
    const prompt = Array.from({ length: PREFILL_CHUNK + 9 }, (_, i) => (i * 5 + 1) % config.vocab_size)
    let [x, y] = [await f.prefill([prompt]), await b.prefill([prompt])]
    expect(y.cache.map(cacheFormat)).toEqual(['bfloat16', 'bfloat16'])
    let inPlace = 0
    for (let s = 0; s < 40; s++) {
      const [fx, by] = [x.logits[0], y.logits[0]]
      expect(maxAbsDiff(by, fx)).toBeLessThanOrEqual(bound(fx))
      const token = argmax(fx)
      if (margin(fx) > 2 * bound(fx)) expect(argmax(by)).toBe(token)
      const [nx, ny] = [await f.step(x.cache, [token]), await b.step(y.cache, [token])]
      expect(cacheFormat(ny.cache[0])).toBe('bfloat16')
      if (ny.cache[0].k.dataId === y.cache[0].k.dataId) inPlace++
      f.release(x.cache)
      b.release(y.cache)
      x = nx
      y = ny
    }
    expect(inPlace).toBe(40)
    // beams: rows selected from a bfloat16 cache stay bfloat16 and decode their own sequences
    const beams = b.select(y.cache, [0, 0])
    expect(beams.map(cacheFormat)).toEqual(['bfloat16', 'bfloat16'])
    const [one, two] = [await b.step(y.cache, [7]), await b.step(beams, [7, 8])]
    expect(Array.from(two.logits[0])).toEqual(Array.from(one.logits[0]))
    for (const c of [x.cache, y.cache, beams, one.cache, two.cache]) b.release(c)
    f.dispose()
    b.dispose()
    expect(tf.memory().numTensors).toBe(before)
    T.dispose(params)
  })

  it("reproduces PyTorch's greedy tokens on the GPT-2 fixture, within the bound of float32's logits", async () => {
    await initBackend('wasm')
    const r = await loadGpt2Folder(join(import.meta.dirname, '../fixtures/gpt2-tiny'))()
    if (E.isLeft(r)) throw new Error(r.left.message)
    const { config: c, params } = r.right
    const f = gpt2Decoder(c, params)
    const b = gpt2Decoder(c, params, { cache: 'bfloat16' })
    let [x, y] = [await f.prefill([golden.greedy.prompt_ids]), await b.prefill([golden.greedy.prompt_ids])]
    const tokens: number[] = []
    for (let s = 0; s < golden.greedy.new_ids.length; s++) {
      expect(maxAbsDiff(y.logits[0], x.logits[0])).toBeLessThanOrEqual(bound(x.logits[0]))
      tokens.push(argmax(y.logits[0]))
      const [nx, ny] = [await f.step(x.cache, [tokens[s]]), await b.step(y.cache, [tokens[s]])]
      f.release(x.cache)
      b.release(y.cache)
      x = nx
      y = ny
    }
    expect(tokens).toEqual(golden.greedy.new_ids)
    f.release(x.cache)
    b.release(y.cache)
    T.dispose(params)
  })

  it("Mini-GPT's decoder takes it too; on cpu the caches stay float32, with float32's logits", async () => {
    await initBackend('wasm')
    const mc = SEED_CONFIG(30, 0)
    const params = miniGpt(mc).init(key(8))
    const d = miniGptDecoder(mc, params, { cache: 'bfloat16' })
    const out = await d.prefill([[1, 2, 3]])
    expect(out.cache.map(cacheFormat)).toEqual(['bfloat16', 'bfloat16', 'bfloat16'])
    d.release(out.cache)
    T.dispose(params)
    await initBackend('cpu')
    const p2 = gpt2(config).init(key(3))
    const [f, b] = [gpt2Decoder(config, p2), gpt2Decoder(config, p2, { cache: 'bfloat16' })]
    const [x, y] = [await f.prefill([[1, 2, 3]]), await b.prefill([[1, 2, 3]])]
    expect(y.cache.map(cacheFormat)).toEqual(['float32', 'float32'])
    expect(Array.from(y.logits[0])).toEqual(Array.from(x.logits[0]))
    f.release(x.cache)
    b.release(y.cache)
    T.dispose(p2)
  })
})

describe('replayed decoding steps (wasm: backend/kernel-trace.ts)', () => {
  let params: Gpt2Params
  beforeAll(async () => {
    await initBackend('wasm')
    params = gpt2(config).init(key(11))
  })

  /** How many kernel calls a decoding step makes through the engine (0: replayed). */
  const engineCalls = async <T>(step: () => Promise<T>): Promise<[T, number]> => {
    let n = 0
    const out = await recordKernelCalls(step, () => {
      n++
    })
    return [out, n]
  }

  it.each([
    ['float32', 'float32'],
    ['float32', 'bfloat16'],
    ['int8', 'float32'],
    ['q4', 'bfloat16'],
  ] as const)(
    'with %s weights and %s caches: the same logits as every step through the engine, bit for bit, across copies into larger buffers; steps replayed once two in a row ran on the same buffers',
    async (weights, cache) => {
      const p = weights === 'float32' ? params : quantize(gpt2Shapes(config), params, weights)
      const engine = gpt2Decoder(config, p, { cache, replay: false })
      const replaying = gpt2Decoder(config, p, { cache })
      const ids = Array.from({ length: 150 }, (_, i) => (i * 5 + 1) % config.vocab_size)
      const before = tf.memory().numTensors
      let [a, b] = [await engine.prefill([ids.slice(0, 10)]), await replaying.prefill([ids.slice(0, 10)])]
      const calls: number[] = []
      for (let n = 10; n < ids.length; n++) {
        const [na, nb] = [await engine.step(a.cache, [ids[n] as number]), await engineCalls(() => replaying.step(b.cache, [ids[n] as number]))]
        engine.release(a.cache)
        replaying.release(b.cache)
        ;[a, b] = [na, nb[0]]
        calls.push(nb[1])
        expect(b.logits[0]).toEqual(a.logits[0])
        expect(b.cache.map((c) => [cacheLength(c), cacheFormat(c)])).toEqual(a.cache.map((c) => [cacheLength(c), cacheFormat(c)]))
      }
      // Steps through the engine: the first two, and two after each copy into a larger buffer (a new plan); the rest replayed.
      const replayed = calls.filter((n) => n === 0).length
      expect(calls.slice(0, 2).every((n) => n > 0)).toBe(true)
      expect(calls[2]).toBe(0)
      expect(replayed).toBeGreaterThan(120)
      expect(calls.filter((n) => n > 0).every((n) => n === calls[0])).toBe(true)
      engine.release(a.cache)
      replaying.release(b.cache)
      expect(tf.memory().numTensors).toBe(before)
    },
  )

  it("stops at the context's end and at an id outside the vocabulary with the errors the engine's steps give", async () => {
    const short: Gpt2Config = { ...config, n_positions: 12 }
    const p = gpt2(short).init(key(2))
    const errorOf = async (replay: boolean, tokens: (i: number) => number): Promise<string> => {
      const d = gpt2Decoder(short, p, { replay })
      let o = await d.prefill([[1, 2, 3]])
      try {
        for (let i = 0; i < 20; i++) {
          const next = await d.step(o.cache, [tokens(i)])
          d.release(o.cache)
          o = next
        }
        return 'no error'
      } catch (e) {
        return String(e)
      } finally {
        d.release(o.cache)
      }
    }
    const pastEnd = await errorOf(true, (i) => i + 4)
    expect(pastEnd).toMatch(/positions exceed n_positions=12/)
    expect(pastEnd).toBe(await errorOf(false, (i) => i + 4))
    // the id 50 at the sixth step (replayed steps before it)
    const badId = await errorOf(true, (i) => (i === 5 ? config.vocab_size : i + 4))
    expect(badId).toMatch(/outside \[0, 50\)/)
    expect(badId).toBe(await errorOf(false, (i) => (i === 5 ? config.vocab_size : i + 4)))
  })

  it("children and beams of one cache are stepped through the engine where a replay's buffers do not fit, with the same logits", async () => {
    const engine = gpt2Decoder(config, params, { replay: false })
    const replaying = gpt2Decoder(config, params)
    const run = async (d: typeof engine) => {
      const root = await d.prefill([[4, 9, 2, 33]])
      const a = await d.step(root.cache, [11])
      const a2 = await d.step(a.cache, [12])
      const a3 = await d.step(a2.cache, [13]) // replayed (two in a row before it)
      const b = await d.step(root.cache, [14]) // the root again: not at its buffers' mark, a copy
      const beams = d.select(a3.cache, [0, 0])
      const c = await d.step(beams, [15, 16])
      const out = [a3, b, c].map((o) => o.logits)
      for (const o of [root.cache, a.cache, a2.cache, a3.cache, b.cache, beams, c.cache]) d.release(o)
      return out
    }
    expect(await run(replaying)).toEqual(await run(engine))
  })

  it("Mini-GPT's step is not replayed (it makes its positions' table slice on the host): every step through the engine, the same logits", async () => {
    const mc = { ...SEED_CONFIG(40, 0), num_layers: 1 }
    const mp = miniGpt(mc).init(key(8))
    const [engine, replaying] = [miniGptDecoder(mc, mp, { replay: false }), miniGptDecoder(mc, mp)]
    let [a, b] = [await engine.prefill([[1, 2, 3]]), await replaying.prefill([[1, 2, 3]])]
    for (let i = 0; i < 8; i++) {
      const [na, [nb, calls]] = [await engine.step(a.cache, [5 + i]), await engineCalls(() => replaying.step(b.cache, [5 + i]))]
      expect(calls).toBeGreaterThan(0)
      expect(nb.logits).toEqual(na.logits)
      engine.release(a.cache)
      replaying.release(b.cache)
      ;[a, b] = [na, nb]
    }
    engine.release(a.cache)
    replaying.release(b.cache)
  })
})
