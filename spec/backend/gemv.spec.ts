/**
 * backend/simd/gemv.ts: products of one to four rows over a packed copy of the weight (a decoding
 * step's products on wasm, through denseKernel) equal the product in float64 on the host — partial
 * panels of 16 columns, an odd k, a bias or none, a weight large enough to be split over the kernel
 * pool —, bit for bit what tfjs-wasm's own product (XNNPACK) gives, and the packed copy is made
 * once per weight and shape, and freed with the weight's data.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { GEMV_MAX_ROWS } from '../../src/backend/simd/gemv.js'
import { denseKernel } from '../../src/backend/wasm-dense.js'
import { key, normal } from '../../src/core/key.js'

/** x [m, k] · w [k, n] (+ bias) in float64, from the float32 inputs. */
const reference = (xs: Float32Array, ws: Float32Array, bs: Float32Array | undefined, m: number, k: number, n: number): Float64Array => {
  const y = new Float64Array(m * n)
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) {
      let s = bs === undefined ? 0 : bs[j]
      for (let i = 0; i < k; i++) s += xs[r * k + i] * ws[i * n + j]
      y[r * n + j] = s
    }
  }
  return y
}

const expectClose = (got: Float32Array, want: Float64Array, k: number): void => {
  expect(got.length).toBe(want.length)
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * (1 + Math.sqrt(k)))
}

const dataIds = (): number => tf.backend().numDataIds()

describe('the few-rows product over a packed weight (gemv.ts)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.integer({ min: 1, max: GEMV_MAX_ROWS }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100 }), fc.boolean(), fc.integer({ min: 0, max: 1e6 })], {
    numRuns: 40,
  })('equals x·w (+ bias) in float64 for 1-4 rows, any k and n, and again from the kept copy', (m, k, n, withBias, seed) => {
    const before = tf.memory().numTensors
    const [xs, ws, bs] = [normal(key(seed), m * k), normal(key(seed + 1), k * n), normal(key(seed + 2), n)]
    const [x, w, b] = [tf.tensor2d(xs, [m, k]), tf.tensor2d(ws, [k, n]), tf.tensor1d(bs)]
    const want = reference(xs, ws, withBias ? bs : undefined, m, k, n)
    const first = denseKernel(x, w, withBias ? b : undefined)!
    const again = denseKernel(x, w, withBias ? b : undefined)!
    expect(first.shape).toEqual([m, n])
    expectClose(first.dataSync() as Float32Array, want, k)
    expect(Array.from(again.dataSync())).toEqual(Array.from(first.dataSync()))
    // tfjs-wasm's fused product (XNNPACK, which serves 5 to 47 rows): the same bits
    const xnnpack = tf.fused.matMul({ a: x, b: w, bias: withBias ? b : undefined })
    expect(Array.from(first.dataSync())).toEqual(Array.from(xnnpack.dataSync()))
    tf.dispose([x, w, b, first, again, xnnpack])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('splits a GPT-2-sized product over the pool and gives the float64 product', () => {
    const [m, k, n] = [2, 768, 2304 + 9] // a partial last panel
    const [xs, ws, bs] = [normal(key(1), m * k), normal(key(2), k * n), normal(key(3), n)]
    const [x, w, b] = [tf.tensor2d(xs, [m, k]), tf.tensor2d(ws, [k, n]), tf.tensor1d(bs)]
    const y = denseKernel(x, w, b)!
    expectClose(y.dataSync() as Float32Array, reference(xs, ws, bs, m, k, n), k)
    tf.dispose([x, w, b, y])
  })

  it('packs a weight once, keeps the copy while the weight lives and frees it with the weight', () => {
    const x = tf.tensor2d(normal(key(4), 40), [1, 40])
    const w = tf.tensor2d(normal(key(5), 40 * 24), [40, 24])
    const start = dataIds()
    tf.dispose(denseKernel(x, w)!)
    expect(dataIds()).toBe(start + 1) // the packed copy
    tf.dispose(denseKernel(x, w)!)
    expect(dataIds()).toBe(start + 1)
    w.dispose()
    expect(dataIds()).toBe(start - 1)
    x.dispose()
  })

  it('gives one data read as two shapes a copy for each, right for each, and frees both with the data', () => {
    const values = normal(key(6), 24 * 40)
    const w = tf.tensor2d(values, [24, 40])
    const view = tf.reshape<tf.Rank.R2>(w, [40, 24]) // the same data
    const [x1, x2] = [tf.tensor2d(normal(key(7), 24), [1, 24]), tf.tensor2d(normal(key(8), 40), [1, 40])]
    const start = dataIds()
    const [y1, y2] = [denseKernel(x1, w)!, denseKernel(x2, view)!]
    expectClose(y1.dataSync() as Float32Array, reference(x1.dataSync() as Float32Array, values, undefined, 1, 24, 40), 24)
    expectClose(y2.dataSync() as Float32Array, reference(x2.dataSync() as Float32Array, values, undefined, 1, 40, 24), 40)
    expect(dataIds()).toBe(start + 4) // two outputs, two packed copies
    tf.dispose([y1, y2, w])
    expect(dataIds()).toBe(start + 2) // the view still holds the data, and so its copies
    view.dispose()
    expect(dataIds()).toBe(start - 1)
    tf.dispose([x1, x2])
  })
})
