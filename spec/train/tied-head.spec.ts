/**
 * tiedHeadNll (src/train/tied-head.ts) equals nllSum of hidden · tableᵀ, value and gradients —
 * on wasm for random sizes too (its SIMD kernels work down columns of the [vocab, tokens]
 * logits, four tokens at a time, then the rest one at a time).
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { nllSum } from '../../src/train/loss.js'
import { tiedHeadNll } from '../../src/train/tied-head.js'

describe.each(['cpu', 'wasm'])('tiedHeadNll on %s', (backend) => {
  it('has the value and gradients of the unfused head and loss, ignoring -100 targets', async () => {
    await initBackend(backend)
    const h = tf.randomNormal([7, 5], 0, 1, 'float32', 1) as tf.Tensor2D
    const e = tf.randomNormal([11, 5], 0, 1, 'float32', 2) as tf.Tensor2D
    const targets = tf.tensor1d([3, 0, 10, -100, 7, 7, -100], 'int32')
    const ref = (a: tf.Tensor2D, b: tf.Tensor2D) => nllSum(tf.matMul(a, b, false, true), targets).sum
    const fused = (a: tf.Tensor2D, b: tf.Tensor2D) => tiedHeadNll(a, b, targets).sum
    const [gr, gf] = [ref, fused].map((f) => tf.grads((a, b) => f(a as tf.Tensor2D, b as tf.Tensor2D))([h, e]))
    expect(fused(h, e).dataSync()[0]).toBeCloseTo(ref(h, e).dataSync()[0], 4)
    expect(tiedHeadNll(h, e, targets).count.dataSync()[0]).toBe(5)
    gr.forEach((g, i) => {
      const got = gf[i].dataSync()
      g.dataSync().forEach((v, j) => expect(Math.abs(got[j] - v)).toBeLessThan(1e-5))
    })
  })
})

describe('tiedHeadNll on wasm, random sizes', () => {
  test.prop([fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1e6 })], { numRuns: 25 })(
    'has the value and gradients of the unfused head and loss, to float32 rounding',
    async (n, vocab, d, seed) => {
      await initBackend('wasm')
      const before = tf.memory().numTensors
      tf.tidy(() => {
        const h = tf.randomNormal([n, d], 0, 2, 'float32', seed) as tf.Tensor2D
        const e = tf.randomNormal([vocab, d], 0, 2, 'float32', seed + 1) as tf.Tensor2D
        const targets = tf.tensor1d(
          Array.from({ length: n }, (_, i) => ((seed + i) % 5 === 0 ? -100 : (seed * 7 + i * 13) % vocab)),
          'int32',
        )
        const ref = (a: tf.Tensor2D, b: tf.Tensor2D) => nllSum(tf.matMul(a, b, false, true), targets).sum
        const fused = (a: tf.Tensor2D, b: tf.Tensor2D) => tiedHeadNll(a, b, targets).sum
        const [gr, gf] = [ref, fused].map((f) => tf.grads((a, b) => f(a as tf.Tensor2D, b as tf.Tensor2D))([h, e]))
        const [want, got] = [ref(h, e).dataSync()[0], fused(h, e).dataSync()[0]]
        expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)))
        gr.forEach((g, i) => {
          const x = gf[i].dataSync()
          g.dataSync().forEach((v, j) => expect(Math.abs(x[j] - v)).toBeLessThan(2e-5))
        })
      })
      expect(tf.memory().numTensors).toBe(before)
    },
  )
})

describe('tiedHeadNll on wasm, logits in the thousands', () => {
  it('stays finite and equals the unfused head and loss (the column maxima are subtracted before exponentiating)', async () => {
    await initBackend('wasm')
    tf.tidy(() => {
      const h = tf.mul(tf.randomNormal([6, 8], 0, 1, 'float32', 3), 300) as tf.Tensor2D
      const e = tf.randomNormal([13, 8], 0, 1, 'float32', 4) as tf.Tensor2D
      const targets = tf.tensor1d([0, 12, 5, 5, -100, 1], 'int32')
      const want = nllSum(tf.matMul(h, e, false, true), targets).sum.dataSync()[0]
      const got = tiedHeadNll(h, e, targets).sum.dataSync()[0]
      expect(Number.isFinite(got)).toBe(true)
      expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.abs(want))
    })
  })
})
