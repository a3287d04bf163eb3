import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import {
  bannedTokens,
  generate,
  generateBatch,
  greedySampler,
  key,
  logSoftmax,
  requestFromOptions,
  sample,
  stream,
  temperature,
  type GenerationRequest,
  type StreamChunk,
} from '../../src/sample/index.js'
import { hashedModel, releasedExactlyOnce, toyModel } from './toy-model.js'

/** A model that strongly prefers `last + 1 (mod V)`: greedy decoding counts up. */
const counter = (vocab = 8, contextLength = 32) =>
  toyModel(vocab, contextLength, (ts) => Float32Array.from({ length: vocab }, (_, v) => (v === (ts[ts.length - 1] + 1) % vocab ? 5 : 0)))
const letters = (ts: readonly number[]) => ts.map((t) => (t === 7 ? 'xy' : 'abcdefg'[t])).join('')
const greedyReq = (prompt: number[], rest: Partial<GenerationRequest> = {}): GenerationRequest => ({ prompt, maxNewTokens: 10, sampler: greedySampler, ...rest })

const collect = async <T, R>(it: AsyncGenerator<T, R>): Promise<{ items: T[]; ret: R }> => {
  const items: T[] = []
  for (;;) {
    const n = await it.next()
    if (n.done) return { items, ret: n.value }
    items.push(n.value)
  }
}

describe('stopping', () => {
  it('stops on EOS (kept in tokens, not in text) and reports log-probs', async () => {
    const m = counter()
    const r = await generate(m, greedyReq([1], { eosTokenId: 5, decode: letters }), key(0))
    expect(r).toMatchObject({ tokens: [2, 3, 4, 5], finishReason: 'eos', text: 'cde' })
    const lp = logSoftmax(Float32Array.from([0, 0, 0, 5, 0, 0, 0, 0]))[3]
    r.tokenLogprobs.forEach((x) => expect(x).toBeCloseTo(lp, 12))
    expect(r.logprob).toBeCloseTo(4 * lp, 12)
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  it('stops on max_new_tokens', async () => {
    expect(await generate(counter(), greedyReq([1], { maxNewTokens: 2 }), key(0))).toMatchObject({ tokens: [2, 3], finishReason: 'length' })
  })
  it('stops at the context length without feeding the model past it', async () => {
    const m = counter(8, 4)
    expect(await generate(m, greedyReq([1, 2]), key(0))).toMatchObject({ tokens: [3, 4], finishReason: 'context' })
    expect(releasedExactlyOnce(m)).toBe(true)
    const full = counter(8, 4)
    expect(await generate(full, greedyReq([1, 2, 3, 4], { decode: letters }), key(0))).toEqual({ tokens: [], tokenLogprobs: [], logprob: 0, finishReason: 'context', text: '' })
    expect(full.calls()).toEqual([])
  })
  it('stops on a stop string, cutting the text before it', async () => {
    const r = await generate(counter(), greedyReq([1], { stop: ['zz', 'de'], decode: letters }), key(0))
    expect(r).toMatchObject({ tokens: [2, 3, 4], finishReason: 'stop', text: 'c' })
    const s = await collect(stream(counter(), greedyReq([4], { stop: ['yab'], decode: letters }), key(0)))
    // tokens 5 6 7 0 1 → "fgxyab": stop at index 3
    expect(s.items.map((c) => c.token)).toEqual([5, 6, 7, 0, 1])
    expect(s.items.map((c) => c.text)).toEqual(['f', 'g', 'x', '', ''])
    expect(s.ret).toMatchObject({ text: 'fgx', finishReason: 'stop' })
  })
  it('drops finished rows with select once at most half the batch is live', async () => {
    const m = counter()
    const rs = await generateBatch(
      m,
      [1, 3, 2].map((n, i) => greedyReq([i], { maxNewTokens: n })),
      key(0),
    )
    expect(rs.map((r) => r.tokens)).toEqual([[1], [2, 3, 4], [3, 4]])
    // After the first token 2 of 3 rows are live: the finished one rides along. After the
    // second, 1 of 3: the cache is compacted to that row.
    expect(m.calls()).toEqual(['prefill:3', 'step:3', 'select:1', 'step:1'])
    expect(releasedExactlyOnce(m)).toBe(true)
  })
})

describe('rows with identical histories', () => {
  it('are computed once: identical prompts share a prefill row and greedy rows stay together', async () => {
    const m = counter()
    const rs = await generateBatch(
      m,
      [3, 1, 2].map((n) => greedyReq([0], { maxNewTokens: n })),
      key(0),
    )
    expect(rs.map((r) => r.tokens)).toEqual([[1, 2, 3], [1], [1, 2]])
    expect(m.calls()).toEqual(['prefill:1', 'step:1', 'step:1'])
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  it('split into their own rows when their draws diverge, and the model sees one row per distinct history', async () => {
    // Two equally likely tokens: eight samples from one prompt branch at every step.
    const m = toyModel(4, 16, () => Float32Array.of(0, 0, -Infinity, -Infinity))
    const reqs = Array.from({ length: 8 }, (): GenerationRequest => ({ prompt: [2, 3], maxNewTokens: 3 }))
    const rs = await generateBatch(m, reqs, key(5))
    const batchOf = (what: string) =>
      m
        .calls()
        .filter((c) => c.startsWith(what))
        .map((c) => Number(c.split(':')[1]))
    const distinct = (n: number) => new Set(rs.map((r) => r.tokens.slice(0, n).join())).size
    expect(batchOf('prefill')).toEqual([1])
    expect(batchOf('step')).toEqual([distinct(1), distinct(2)])
    expect(batchOf('select')).toEqual([distinct(1), distinct(2)])
    expect(distinct(3)).toBeGreaterThan(distinct(1))
    expect(releasedExactlyOnce(m)).toBe(true)
  })
})

// Random requests over a 16-token hashed model with a context of 12 positions.
const V = 16
const optionsArb = fc.record(
  {
    temperature: fc.double({ min: 0.3, max: 2, noNaN: true }),
    top_k: fc.integer({ min: 1, max: V }),
    top_p: fc.double({ min: 0.2, max: 1, noNaN: true }),
    repetition_penalty: fc.double({ min: 1, max: 2, noNaN: true }),
    no_repeat_ngram_size: fc.integer({ min: 2, max: 3 }),
    do_sample: fc.boolean(),
    max_new_tokens: fc.integer({ min: 1, max: 10 }),
    eos_token_id: fc.integer({ min: 0, max: V - 1 }),
    stop: fc.constantFrom('ab', 'c', 'xyz'),
  },
  { requiredKeys: [] },
)
const requestArb = fc.tuple(fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 5 }), optionsArb).map(([prompt, options]) => {
  const decode = (ts: readonly number[]) => ts.map((t) => 'abcxyz'[t % 6]).join('')
  const r = requestFromOptions(prompt, options, { decode })
  if (E.isLeft(r)) throw new Error(r.left.problems.join('; '))
  return r.right
})
const seedArb = fc.integer({ min: 0, max: 2 ** 40 })

describe('keys', () => {
  test.prop([requestArb, seedArb], { numRuns: 40 })('the same key gives the same tokens', async (req, s) => {
    const a = await generate(hashedModel(V, 12), req, key(s))
    const b = await generate(hashedModel(V, 12), req, key(s))
    expect(b).toEqual(a)
  })
  it('different keys give different samples', async () => {
    const req: GenerationRequest = { prompt: [1], maxNewTokens: 12 }
    const outs = await Promise.all([1, 2, 3, 4].map((s) => generate(hashedModel(V, 32), req, key(s))))
    expect(new Set(outs.map((o) => o.tokens.join(','))).size).toBeGreaterThan(1)
  })
  test.prop([fc.array(requestArb, { minLength: 1, maxLength: 6 }), seedArb], { numRuns: 40 })('batched generation equals one-at-a-time generation', async (reqs, s) => {
    const batched = hashedModel(V, 12)
    const single = hashedModel(V, 12)
    const together = await generateBatch(batched, reqs, key(s))
    const alone = []
    for (let i = 0; i < reqs.length; i++) alone.push(await generate(single, reqs[i], key(s), { index: i }))
    expect(together).toEqual(alone)
    expect(batched.calls().filter((c) => c.startsWith('prefill')).length).toBe(new Set(reqs.map((r) => r.prompt.length)).size)
    expect(releasedExactlyOnce(batched)).toBe(true)
    expect(releasedExactlyOnce(single)).toBe(true)
  })
  test.prop([requestArb, seedArb], { numRuns: 40 })('streaming equals non-streaming', async (req, s) => {
    const m = hashedModel(V, 12)
    const r = await generate(hashedModel(V, 12), req, key(s), { index: 3 })
    const { items, ret } = await collect(stream(m, req, key(s), { index: 3 }))
    expect(ret).toEqual(r)
    expect(items.map((c) => c.token)).toEqual(r.tokens)
    expect(items.map((c) => c.logprob)).toEqual(r.tokenLogprobs)
    expect(items.map((c) => c.index)).toEqual(r.tokens.map((_, i) => i))
    expect(items.map((c) => c.text).join('')).toBe(r.text)
    expect(items[items.length - 1].finishReason).toBe(r.finishReason)
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  test.prop([fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 4 }), seedArb], { numRuns: 30 })(
    'temperature 1e-6 sampling equals greedy',
    async (prompt, s) => {
      const hot = await generate(hashedModel(V, 12), { prompt, maxNewTokens: 6, processor: temperature(1e-6), sampler: sample }, key(s))
      const cold = await generate(hashedModel(V, 12), { prompt, maxNewTokens: 6, sampler: greedySampler }, key(s))
      expect(hot.tokens).toEqual(cold.tokens)
    },
  )
})

const deferred = () => {
  let resolve = (): void => undefined
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('aborting and stopping early', () => {
  it('rejects at once when already aborted, without calling the model', async () => {
    const m = counter()
    const c = new AbortController()
    c.abort()
    await expect(generate(m, greedyReq([1]), key(0), { signal: c.signal })).rejects.toMatchObject({ name: 'AbortError' })
    await expect(stream(m, greedyReq([1]), key(0), { signal: c.signal }).next()).rejects.toMatchObject({ name: 'AbortError' })
    expect(m.calls()).toEqual([])
  })
  it('stops a stream between tokens and releases the cache', async () => {
    const m = counter()
    const c = new AbortController()
    const it = stream(m, greedyReq([1]), key(0), { signal: c.signal })
    const seen: StreamChunk[] = []
    await expect(
      (async () => {
        for await (const chunk of it) {
          seen.push(chunk)
          if (seen.length === 2) c.abort()
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(seen.map((s) => s.token)).toEqual([2, 3])
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  it('rejects promptly while a step is in flight; its caches are released when it settles', async () => {
    const gate = deferred()
    const m = toyModel(8, 32, (ts) => Float32Array.from({ length: 8 }, (_, v) => (v === (ts[ts.length - 1] + 1) % 8 ? 5 : 0)), { stepDelay: () => gate.promise })
    const c = new AbortController()
    const it = stream(m, greedyReq([1]), key(0), { signal: c.signal })
    expect((await it.next()).value).toMatchObject({ token: 2 })
    const pending = it.next() // waits on the gated step
    c.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    expect(m.live()).toBe(1) // the step still uses its input cache
    gate.resolve()
    await new Promise((r) => setTimeout(r, 0))
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  it('breaking out of a stream releases the cache', async () => {
    const m = counter()
    for await (const chunk of stream(m, greedyReq([1]), key(0))) if (chunk.index === 1) break
    expect(releasedExactlyOnce(m)).toBe(true)
  })
})

describe('errors', () => {
  it('rejects invalid requests with a RangeError', async () => {
    const m = counter()
    await expect(generate(m, greedyReq([]), key(0))).rejects.toThrow(/prompt must hold at least one token/)
    await expect(generate(m, greedyReq([9]), key(0))).rejects.toThrow(/prompt token 0 is 9, outside the vocabulary \[0, 8\)/)
    await expect(generateBatch(m, [greedyReq([1]), greedyReq([1], { stop: ['a'] })], key(0))).rejects.toThrow(/request 1: stop strings need a decode function/)
    expect(() => stream(m, greedyReq([1], { maxNewTokens: 0 }), key(0))).toThrow(/maxNewTokens must be an integer >= 1, got 0/)
  })
  it('reports a step where every token was filtered, releasing the cache', async () => {
    const m = counter()
    const req = greedyReq([1], { processor: bannedTokens([0, 1, 2, 3, 4, 5, 6, 7]) })
    await expect(generate(m, req, key(0))).rejects.toThrow(/sequence 0, step 0: greedy: every logit is -Infinity/)
    expect(releasedExactlyOnce(m)).toBe(true)
  })
  it('checks the model output', async () => {
    const m = toyModel(8, 32, () => new Float32Array(5))
    await expect(generate(m, greedyReq([1]), key(0))).rejects.toThrow(/prefill: logits row 0 must have length vocabSize = 8, got 5/)
    expect(releasedExactlyOnce(m)).toBe(true)
  })
})
