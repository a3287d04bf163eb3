/**
 * geluTanh (src/nn/activation.ts) computes ½x(1 + tanh(u)) as x·σ(2u) and has its own
 * gradient: its values must match the formula (in float64) to float32 rounding, and its
 * gradient the derivative of the op-by-op tanh formula.
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
    const exact = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
    const xs = x.dataSync()
    const ours = geluTanh(x).dataSync()
    const tanhForm = opByOp(x).dataSync()
    ours.forEach((v, i) => {
      expect(Math.abs(v - exact(xs[i]))).toBeLessThan(5e-7 * (1 + Math.abs(xs[i])))
      expect(Math.abs(v - tanhForm[i])).toBeLessThan(1e-6 * (1 + Math.abs(xs[i])))
    })
    const w = tf.linspace(0.5, 2, 97)
    const [a, b] = [geluTanh, opByOp].map((f) =>
      tf
        .grad((t) => tf.sum(tf.mul(f(t), w)))(x)
        .dataSync(),
    )
    const ws = w.dataSync()
    const derivative = (v: number) => {
      const c = Math.sqrt(2 / Math.PI)
      const t = Math.tanh(c * (v + 0.044715 * v * v * v))
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
    }
    // As close to the float64 derivative as autodiff of the op-by-op formula is.
    const errOurs = Math.max(...Array.from(a, (v, i) => Math.abs(v - ws[i] * derivative(xs[i]))))
    const errOpByOp = Math.max(...Array.from(b, (v, i) => Math.abs(v - ws[i] * derivative(xs[i]))))
    expect(errOurs).toBeLessThan(Math.max(2 * errOpByOp, 2e-6))
  })
})
