/**
 * geluTanh (src/nn/activation.ts) has its own gradient: it must equal the derivative of the
 * op-by-op formula.
 */
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { geluTanh } from '../../src/nn/activation.js'

const opByOp = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI))), 1))

describe.each(['cpu', 'wasm'])('geluTanh on %s', (backend) => {
  it('has the value and the gradient of the formula', async () => {
    await initBackend(backend)
    const x = tf.linspace(-6, 6, 97)
    expect(Array.from(geluTanh(x).dataSync())).toEqual(Array.from(opByOp(x).dataSync()))
    const w = tf.linspace(0.5, 2, 97)
    const [a, b] = [geluTanh, opByOp].map((f) => tf.grad((t) => tf.sum(tf.mul(f(t), w)))(x).dataSync())
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(2e-6))
  })
})
