/**
 * The kit's arbitraries produce what they promise: configs the codecs accept (and models that
 * build from them), tokens in range, masks whose first position is real, bounded float32
 * tensors that build, parameter trees that print as their seed.
 */
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import * as tree from '../../src/core/tree.js'
import { decodeMiniGptConfig, miniGpt, type MiniGptConfig } from '../../src/models/minigpt/index.js'
import { decodeGpt2Config } from '../../src/models/gpt2/index.js'
import {
  attentionMask,
  float32,
  gpt2Config,
  keyPaddingMask,
  PADDING_SCORE,
  logitsRow,
  miniGptConfig,
  paddedBatch,
  paramsOf,
  shape,
  tensorData,
  tokenBatch,
  tokenSequence,
  toTensor,
} from '../../src/testing/index.js'

await initBackend('cpu')

describe('model configs', () => {
  test.prop([miniGptConfig()])('Mini-GPT configs decode, and stay small', (c) => {
    expect(decodeMiniGptConfig(c)).toEqual(E.right(c))
    expect(c.embed_dim % c.num_heads).toBe(0)
    expect(c.pad_idx).toBeLessThan(c.vocab_size)
    expect(c.vocab_size * c.embed_dim).toBeLessThanOrEqual(16 * 32)
  })

  test.prop([miniGptConfig({ maxVocab: 6, maxLen: 3, dropout: 0 })], { numRuns: 5 })('Mini-GPT builds from them and runs', (c) => {
    const out = tf.tidy(() => {
      const model = miniGpt(c)
      const p = model.init(key(0))
      return model.apply(p, { ids: tf.zeros([1, c.max_len + 2], 'int32') as tf.Tensor2D }, { training: false }).logits.shape
    })
    expect(out).toEqual([1, c.max_len + 2, c.vocab_size])
    expect(c.dropout).toBe(0)
  })

  test.prop([gpt2Config()])('GPT-2 configs decode', (c) => {
    expect(E.isRight(decodeGpt2Config(c))).toBe(true)
    expect(c.n_embd % c.n_head).toBe(0)
  })
})

describe('tokens and masks', () => {
  test.prop([tokenBatch({ vocabSize: 7, minLength: 2, maxLength: 5, minBatch: 2, maxBatch: 4 })])(
    'batches: equal-length rows of in-vocabulary tokens within the limits',
    (rows) => {
      expect(rows.length).toBeGreaterThanOrEqual(2)
      expect(rows.length).toBeLessThanOrEqual(4)
      for (const r of rows) {
        expect(r.length).toBe(rows[0].length)
        expect(r.length).toBeGreaterThanOrEqual(2)
        expect(r.length).toBeLessThanOrEqual(5)
        for (const t of r) expect(t >= 0 && t < 7 && Number.isInteger(t)).toBe(true)
      }
    },
  )

  test.prop([tokenSequence({ vocabSize: 3, maxLength: 4 })])('sequences', (xs) => {
    expect(xs.length >= 1 && xs.length <= 4 && xs.every((t) => t < 3)).toBe(true)
  })

  test.prop([fc.integer({ min: 1, max: 9 }).chain((n) => fc.tuple(fc.constant(n), attentionMask(n), attentionMask(n, 'right')))])(
    'masks: first position real; right padding is real tokens then padding',
    ([n, any, right]) => {
      for (const m of [any, right]) {
        expect(m).toHaveLength(n)
        expect(m[0]).toBe(1)
        expect(m.every((x) => x === 0 || x === 1)).toBe(true)
      }
      expect(right).toEqual([...right].sort((a, b) => b - a))
    },
  )

  test.prop([paddedBatch({ vocabSize: 9, maxLength: 6, padId: 8 })])('padded batches put the pad id at padding positions', ({ tokens, attentionMask: mask }) => {
    tokens.forEach((r, b) =>
      r.forEach((t, i) => {
        if (mask[b][i] === 0) expect(t).toBe(8)
      }),
    )
  })

  // Padding keys get -1e9, not -Infinity: a query that sees only padding stays finite (docs/testing.md).
  test.prop([paddedBatch({ vocabSize: 5, maxLength: 4 })], { numRuns: 20 })('keyPaddingMask: 0 on real keys, -1e9 on padding, [batch, 1, 1, length]', ({ attentionMask: mask }) => {
    const m = keyPaddingMask(mask)
    expect(m.shape).toEqual([mask.length, 1, 1, mask[0].length])
    expect((m.arraySync() as number[][][][]).map((r) => r[0][0])).toEqual(mask.map((r) => r.map((x) => (x === 1 ? 0 : -1e9))))
    expect(PADDING_SCORE).toBe(-1e9)
    m.dispose()
  })

  it('left masks are padding then real tokens; padded starts appear when asked for', () => {
    const left = fc.sample(attentionMask(5, 'left'), 30)
    for (const m of left) expect(m.join('')).toMatch(/^0*1+$/)
    const starts = fc.sample(attentionMask(4, 'any', true), 200)
    expect(starts.some((m) => m[0] === 0)).toBe(true)
    for (const m of starts) expect(m).toContain(1)
  })

  it('sequences reach maxLength when size is max', () => {
    const lengths = fc.sample(tokenSequence({ vocabSize: 3, maxLength: 40, size: 'max' }), 200).map((r) => r.length)
    expect(Math.max(...lengths)).toBeGreaterThan(30)
    expect(Math.max(...fc.sample(tokenSequence({ vocabSize: 3, maxLength: 40 }), 200).map((r) => r.length))).toBeLessThanOrEqual(12)
  })
})

describe('shapes and float tensors', () => {
  test.prop([shape({ maxRank: 3, maxDim: 4, maxSize: 20 })])('shapes within the limits', (s) => {
    expect(s.length).toBeLessThanOrEqual(3)
    expect(s.reduce((a, b) => a * b, 1)).toBeLessThanOrEqual(20)
  })

  test.prop([tensorData({ shape: shape({ maxRank: 3 }), min: -2, max: 3 })])('tensor data is finite, bounded, float32-exact, and builds the tensor it describes', (d) => {
    for (const x of d.values) expect(Number.isFinite(x) && x >= -2 && x <= 3 && Math.fround(x) === x).toBe(true)
    const t = toTensor(d)
    expect(t.shape).toEqual([...d.shape])
    expect(Array.from(t.dataSync())).toEqual(d.values.map((x) => (Object.is(x, -0) ? -0 : x)))
    t.dispose()
  })

  test.prop([tensorData({ shape: [2, 3] })])('a fixed shape', (d) => {
    expect([d.shape, d.values.length]).toEqual([[2, 3], 6])
  })

  test.prop([float32({ min: 0.5, max: 0.75 })])('float32 bounds', (x) => {
    expect(x >= 0.5 && x <= 0.75).toBe(true)
  })

  test.prop([logitsRow({ minLength: 3, maxLength: 5, min: -1, max: 1 })])('logits rows: at least one finite entry, the rest bounded or -Infinity', (row) => {
    expect(row.length >= 3 && row.length <= 5).toBe(true)
    expect(row.some(Number.isFinite)).toBe(true)
    for (const x of row) expect(x === -Infinity || (x >= -1 && x <= 1)).toBe(true)
  })
})

describe('parameter trees', () => {
  const c: MiniGptConfig = { vocab_size: 5, embed_dim: 4, num_heads: 2, num_layers: 1, ff_dim: 8, max_len: 3, dropout: 0, pad_idx: 0 }
  const layer = miniGpt(c)

  test.prop([paramsOf(layer)], { numRuns: 5 })('are the layer initialised from a key, printed as the seed, and disposed by the run', ({ seed, params }) => {
    try {
      const again = layer.init(key(seed))
      expect(tree.shapes(params)).toEqual(tree.shapes(again))
      expect(tree.leaves(params).map((t) => Array.from(t.dataSync()))).toEqual(tree.leaves(again).map((t) => Array.from(t.dataSync())))
      tree.dispose(again)
    } finally {
      tree.dispose(params)
    }
  })

  test.prop([fc.constant(null)], { numRuns: 1 })('a counterexample names the seed', () => {
    const d = fc.check(
      fc.property(paramsOf(layer), (p) => {
        tree.dispose(p.params)
        return false
      }),
      { numRuns: 1 },
    )
    expect(fc.stringify(d.counterexample?.[0])).toMatch(/^minigpt\.init\(key\(\d+\)\)$/)
  })
})
