/**
 * backend/wasm-dense.ts: a dense layer's product as one kernel on wasm (gemm.wat's from 48 rows,
 * gemv.ts's up to 4, tfjs-wasm's _FusedMatMul on views of the operands between) equals the product
 * in float64 on the host, for any leading dimensions, with and without a bias; it declines what it
 * does not take.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { denseKernel } from '../../src/backend/wasm-dense.js'
import { key, normal } from '../../src/core/key.js'

describe('denseKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 3 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1e6 }),
    ],
    {
      numRuns: 40,
    },
  )('equals x·w (+ bias) in float64, keeping the leading dimensions', (lead, k, n, withBias, seed) => {
    const before = tf.memory().numTensors
    const rows = lead.reduce((a, b) => a * b, 1)
    const xs = normal(key(seed), rows * k)
    const ws = normal(key(seed + 1), k * n)
    const bs = normal(key(seed + 2), n)
    const x = tf.tensor(xs, [...lead, k])
    const w = tf.tensor2d(ws, [k, n])
    const b = tf.tensor1d(bs)
    const y = denseKernel(x, w, withBias ? b : undefined)!
    expect(y.shape).toEqual([...lead, n])
    const got = y.dataSync()
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        let want = withBias ? bs[j] : 0
        for (let i = 0; i < k; i++) want += xs[r * k + i] * ws[i * n + j]
        expect(Math.abs(got[r * n + j] - want)).toBeLessThan(1e-5 * (1 + Math.sqrt(k)))
      }
    }
    tf.dispose([x, w, b, y])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('declines a mismatched inner size or bias, int32, and other backends', async () => {
    tf.tidy(() => {
      const x = tf.zeros([2, 3])
      expect(denseKernel(x, tf.zeros([4, 5]) as tf.Tensor2D)).toBeUndefined()
      expect(denseKernel(x, tf.zeros([3, 5]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)).toBeUndefined()
      expect(denseKernel(tf.zeros([2, 3], 'int32'), tf.zeros([3, 5]) as tf.Tensor2D)).toBeUndefined()
    })
    await initBackend('cpu')
    tf.tidy(() => {
      expect(denseKernel(tf.zeros([2, 3]), tf.zeros([3, 5]) as tf.Tensor2D)).toBeUndefined()
    })
    await initBackend('wasm')
  })
})
