/**
 * tiedHeadNll (src/train/tied-head.ts) equals nllSum of hidden · tableᵀ, value and gradients.
 */
import * as tf from '@tensorflow/tfjs-core'
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
