import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { key, normal } from '../../src/core/key.js'
import { additive, causalMask, causalMaskBool, causalMaskValues, combine, paddingMask } from '../../src/mask/index.js'
import { scaledDotProductAttention } from '../../src/nn/attention.js'

beforeAll(async () => {
  await initBackend('cpu')
})

const RUNS = { numRuns: 25 }
const len = fc.integer({ min: 1, max: 24 })

describe('causal mask', () => {
  test.prop([len], RUNS)('is exactly 0 on and below the diagonal and -Infinity above, never NaN', (n) => {
    const m = causalMaskValues(n)
    expect(m.length).toBe(n * n)
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = m[i * n + j]
        expect(Number.isNaN(v)).toBe(false)
        if (j <= i) expect(Object.is(v, 0), `(${i}, ${j}) = ${v}`).toBe(true)
        else expect(v).toBe(-Infinity)
      }
    }
  })

  test.prop([len, fc.integer({ min: 0, max: 24 })], RUNS)('with more keys than queries, query i sees keys up to (keys − queries) + i', (queries, extra) => {
    const keys = queries + extra
    const m = causalMaskValues(queries, keys)
    expect(m.length).toBe(queries * keys)
    for (let i = 0; i < queries; i++) {
      const allowed = Array.from(m.subarray(i * keys, (i + 1) * keys)).filter((v) => v === 0).length
      expect(allowed).toBe(extra + i + 1)
      expect(m[i * keys + extra + i]).toBe(0) // its own position
      if (extra + i + 1 < keys) expect(m[i * keys + extra + i + 1]).toBe(-Infinity)
    }
    // The last query of a cached sequence sees everything.
    expect(Array.from(m.subarray((queries - 1) * keys)).every((v) => v === 0)).toBe(true)
    // Square masks are the last rows of the full mask over all keys.
    const full = causalMaskValues(keys)
    expect(Array.from(m)).toEqual(Array.from(full.subarray((keys - queries) * keys)))
  })

  test.prop([len, fc.integer({ min: 0, max: 6 })], RUNS)('the tensor, boolean and additive forms agree', (queries, extra) => {
    tf.tidy(() => {
      const keys = queries + extra
      const values = Array.from(causalMaskValues(queries, keys))
      const t = causalMask(queries, keys)
      const b = causalMaskBool(queries, keys)
      expect(t.shape).toEqual([queries, keys])
      expect(b.dtype).toBe('bool')
      expect(Array.from(t.dataSync())).toEqual(values)
      expect(Array.from(b.dataSync())).toEqual(values.map((v) => (v === 0 ? 1 : 0)))
      expect(Array.from(additive(b).dataSync())).toEqual(values)
    })
  })

  it('rejects lengths that are not positive integers and fewer keys than queries', () => {
    expect(() => causalMaskValues(0)).toThrow('causalMask: length must be a positive integer, got 0')
    expect(() => causalMaskValues(2.5)).toThrow(RangeError)
    expect(() => causalMaskValues(4, 3)).toThrow('causalMask: keys (3) must be an integer ≥ queries (4)')
  })
})

describe('padding mask', () => {
  it('is [batch, 1, 1, length] with -Infinity exactly at padding keys', () => {
    const ids = tf.tensor2d(
      [
        [5, 6, 0, 0],
        [7, 0, 8, 0],
      ],
      [2, 4],
      'int32',
    )
    const m = paddingMask(ids, 0)
    expect(m.shape).toEqual([2, 1, 1, 4])
    expect(Array.from(m.dataSync())).toEqual([0, 0, -Infinity, -Infinity, 0, -Infinity, 0, -Infinity])
  })

  test.prop([fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 4 })], RUNS)(
    'marks exactly the keys equal to the padding id',
    (rows, pad) => {
      tf.tidy(() => {
        const m = paddingMask(tf.tensor2d(rows, [rows.length, 3], 'int32'), pad)
        expect(Array.from(m.dataSync())).toEqual(rows.flat().map((id) => (id === pad ? -Infinity : 0)))
      })
    },
  )

  it('combines with the causal mask by broadcasting to [batch, 1, queries, keys]', () => {
    const ids = tf.tensor2d([[5, 6, 0]], [1, 3], 'int32')
    const m = combine(causalMask(3), paddingMask(ids, 0))
    expect(m.shape).toEqual([1, 1, 3, 3])
    const I = -Infinity
    expect(Array.from(m.dataSync())).toEqual([0, I, I, 0, 0, I, 0, 0, I])
  })
})

describe('masked attention', () => {
  test.prop([fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })], RUNS)(
    'softmax(scores + causal mask): rows sum to 1, exact zeros above the diagonal',
    (heads, queries, extra, seed) => {
      tf.tidy(() => {
        const keys = queries + extra
        // Large random scores (σ = 10) so that a leak past the mask would be visible.
        const scores = tf.tensor3d(normal(key(seed), heads * queries * keys, 10), [heads, queries, keys])
        const w = tf.softmax(tf.add(scores, causalMask(queries, keys)), -1).arraySync() as number[][][]
        for (const head of w) {
          head.forEach((row, i) => {
            expect(row.every((x) => !Number.isNaN(x))).toBe(true)
            expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
            row.forEach((x, j) => {
              if (j > extra + i) expect(x).toBe(0)
            })
          })
        }
      })
    },
  )

  it('attention weights from scaledDotProductAttention follow the mask too', () => {
    const q = tf.tensor(normal(key(1), 2 * 5 * 4), [2, 5, 4])
    const k = tf.tensor(normal(key(2), 2 * 5 * 4), [2, 5, 4])
    const v = tf.tensor(normal(key(3), 2 * 5 * 4), [2, 5, 4])
    const { weights, output } = scaledDotProductAttention(q, k, v, causalMask(5), true)
    const w = weights!.arraySync() as number[][][]
    // The first query attends only to itself: its output is v[0] exactly.
    expect(w[0][0]).toEqual([1, 0, 0, 0, 0])
    const o = output.arraySync() as number[][][]
    const vv = v.arraySync() as number[][][]
    o[1][0].forEach((x, j) => expect(x).toBeCloseTo(vv[1][0][j], 6))
  })

  it('a query whose every key is masked gets NaN weights (keep a non-padding key, the SOS, first)', () => {
    // Documented behaviour, not a wish: softmax of an all -Infinity row is 0/0.
    const ids = tf.tensor2d([[0, 5]], [1, 2], 'int32')
    const w = tf.softmax(tf.add(tf.zeros([1, 1, 2, 2]), combine(causalMask(2), paddingMask(ids, 0))), -1)
    const rows = w.arraySync() as number[][][][]
    expect(rows[0][0][0].every(Number.isNaN)).toBe(true) // query 0 may see only key 0, a padding key
    expect(rows[0][0][1]).toEqual([0, 1])
  })
})

describe("the seed notebook's hint, triu(ones) · -inf", () => {
  it('gives NaN below the diagonal, and NaN attention', () => {
    // The notebook suggests building the mask from torch.triu and torch.ones. Multiplying the
    // strictly upper triangular matrix of ones by -inf gives -inf above the diagonal, but
    // 0 · -inf = NaN (IEEE 754) everywhere else, and a single NaN in a row makes the whole
    // softmax row NaN. So causalMaskValues fills -Infinity above the diagonal and leaves exact
    // zeros elsewhere instead of multiplying.
    const n = 4
    const ones = tf.ones([n, n])
    const strictlyUpper = tf.sub(ones, tf.linalg.bandPart(ones, -1, 0)) // torch.triu(ones, diagonal=1)
    expect(strictlyUpper.arraySync()).toEqual([
      [0, 1, 1, 1],
      [0, 0, 1, 1],
      [0, 0, 0, 1],
      [0, 0, 0, 0],
    ])
    const hint = tf.mul(strictlyUpper, -Infinity).arraySync() as number[][]
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (j > i) expect(hint[i][j]).toBe(-Infinity)
        else expect(Number.isNaN(hint[i][j])).toBe(true)
      }
    }
    const attention = tf.softmax(tf.add(tf.zeros([n, n]), tf.tensor2d(hint)), -1).dataSync()
    expect(Array.from(attention).every(Number.isNaN)).toBe(true)
    // The builder's mask: the same -Infinity entries, zeros instead of NaN.
    const built = causalMask(n).arraySync() as number[][]
    expect(built.flat().some(Number.isNaN)).toBe(false)
    expect(built.flat().filter((x) => x === -Infinity).length).toBe((n * (n - 1)) / 2)
  })
})
