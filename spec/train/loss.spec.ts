import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { ShapeError } from '../../src/core/errors.js'
import { key, normal, uniform } from '../../src/core/key.js'
import { crossEntropy, nllSum } from '../../src/train/loss.js'

beforeAll(async () => {
  await initBackend('cpu')
})

/** −log softmax(row)[target] in float64, with the log-sum-exp shifted by the row maximum. */
const nll = (row: readonly number[], target: number): number => {
  const m = Math.max(...row)
  const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0))
  return lse - row[target]
}

/** PyTorch's CrossEntropyLoss(ignore_index, reduction='mean') by hand: mean over kept targets. */
const handCrossEntropy = (rows: readonly number[][], targets: readonly number[], ignore: number): { mean: number; sum: number; count: number } => {
  let sum = 0
  let count = 0
  rows.forEach((row, i) => {
    if (targets[i] === ignore) return
    sum += nll(row, targets[i])
    count++
  })
  return { mean: count === 0 ? 0 : sum / count, sum, count }
}

/** Random logits [n, v] (σ = 3) and targets in [0, v) with about a third replaced by `ignore`. */
const makeCase = (seed: number, n: number, v: number, ignore: number) => {
  const flat = normal(key(seed), n * v, 3)
  const rows = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * v, (i + 1) * v)))
  const u = uniform(key(seed + 1), 2 * n)
  const targets = Array.from({ length: n }, (_, i) => (u[n + i] < 1 / 3 ? ignore : Math.floor(u[i] * v)))
  return { rows, targets }
}

describe('crossEntropy', () => {
  test.prop([fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 })], {
    numRuns: 30,
  })('equals the hand computation (log-sum-exp in float64) with ignored targets, for [B, T, V] logits', (b, t, v, padIgnore, seed) => {
    // Either PyTorch's default ignore_index (-100) or the seed's PAD id (0, a real class).
    const ignore = padIgnore ? 0 : -100
    const { rows, targets } = makeCase(seed, b * t, v, ignore)
    const expected = handCrossEntropy(rows, targets, ignore)
    tf.tidy(() => {
      const logits = tf.tensor3d(rows.flat(), [b, t, v])
      const tg = tf.tensor2d(targets, [b, t], 'int32')
      const loss = (ignore === -100 ? crossEntropy(logits, tg) : crossEntropy(logits, tg, ignore)).dataSync()[0]
      expect(Math.abs(loss - expected.mean)).toBeLessThanOrEqual(1e-5 * Math.max(1, expected.mean))
      const { sum, count } = nllSum(logits, tg, ignore)
      expect(count.dataSync()[0]).toBe(expected.count)
      expect(Math.abs(sum.dataSync()[0] - expected.sum)).toBeLessThanOrEqual(1e-5 * Math.max(1, expected.sum))
    })
  })

  it('a small case written out: logits [[1, 2, 3], [1, 1, 1], [0, 0, 10]]', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [1, 1, 1],
      [0, 0, 10],
    ])
    const row1 = Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3 // −log softmax([1, 2, 3])[2]
    const row2 = Math.log(3) // a uniform row
    // The seed's setting: ignore_index = PAD = 0; targets [2, 1, PAD] → rows 1 and 2 count.
    expect(crossEntropy(logits, tf.tensor1d([2, 1, 0], 'int32'), 0).dataSync()[0]).toBeCloseTo((row1 + row2) / 2, 6)
    // PyTorch's default ignore_index −100: class 0 is an ordinary target.
    expect(crossEntropy(logits, tf.tensor1d([2, 0, -100], 'int32')).dataSync()[0]).toBeCloseTo((row1 + row2) / 2, 6)
    // Nothing ignored: the third row's target 0 costs 10 + log(2 + e^-10).
    const row3 = 10 + Math.log(2 * Math.exp(-10) + 1)
    expect(crossEntropy(logits, tf.tensor1d([2, 1, 0], 'int32')).dataSync()[0]).toBeCloseTo((row1 + row2 + row3) / 3, 5)
  })

  it('an all-ignored batch gives 0, not NaN, and a zero gradient', () => {
    const logits = tf.tensor3d(Array.from(normal(key(1), 2 * 3 * 5)), [2, 3, 5])
    const targets = tf.fill([2, 3], 0, 'int32')
    const loss = crossEntropy(logits, targets, 0).dataSync()[0]
    expect(Number.isNaN(loss)).toBe(false)
    expect(loss === 0).toBe(true) // -0 counts: the loss is exactly zero
    const g = tf
      .grad((l: tf.Tensor) => crossEntropy(l, targets, 0))(logits)
      .dataSync()
    expect(Array.from(g).every((x) => x === 0)).toBe(true)
    expect(nllSum(logits, targets, 0).count.dataSync()[0]).toBe(0)
  })

  it('has the gradient (softmax − one-hot) / kept for kept rows and zero for ignored rows', () => {
    const { rows, targets } = makeCase(7, 6, 4, -100)
    targets[0] = 1 // at least one kept
    targets[1] = -100 // at least one ignored
    const kept = targets.filter((t) => t !== -100).length
    const g = tf
      .grad((l: tf.Tensor) => crossEntropy(l, tf.tensor1d(targets, 'int32')))(tf.tensor2d(rows))
      .arraySync() as number[][]
    rows.forEach((row, i) => {
      const m = Math.max(...row)
      const z = row.reduce((s, x) => s + Math.exp(x - m), 0)
      row.forEach((x, j) => {
        const expected = targets[i] === -100 ? 0 : (Math.exp(x - m) / z - (j === targets[i] ? 1 : 0)) / kept
        expect(g[i][j]).toBeCloseTo(expected, 6)
      })
    })
  })

  it('is stable for large logits', () => {
    const loss = crossEntropy(
      tf.tensor2d([
        [1000, 0, -1000],
        [0, 1000, 999],
      ]),
      tf.tensor1d([1, 2], 'int32'),
    ).dataSync()[0]
    // Row 1: 1000; row 2: log(e^1000 + e^999) − 999 = 1 + log(1 + e^-1).
    expect(loss).toBeCloseTo((1000 + 1 + Math.log(1 + Math.exp(-1))) / 2, 3)
  })

  it('works with a single class (loss 0)', () => {
    expect(crossEntropy(tf.tensor2d([[3], [-2]]), tf.tensor1d([0, 0], 'int32')).dataSync()[0] === 0).toBe(true) // ±0
  })

  it('rejects targets whose shape does not match the logits', () => {
    const call = () => crossEntropy(tf.zeros([2, 3, 5]), tf.zeros([2, 4], 'int32'))
    expect(call).toThrow(ShapeError)
    expect(call).toThrow('crossEntropy: targets must have shape [2, 3], got [2, 4]')
  })
})
