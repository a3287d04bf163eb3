/**
 * On wasm, `tf.clone` (the Identity kernel, which tfjs uses to save tensors for gradients)
 * shares the data instead of copying it (src/backend/index.ts).
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'

describe('wasm Identity', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('clones without copying, and the data lives until the last reference goes', () => {
    const a = tf.tensor1d([1, 2, 3])
    const buffers = tf.memory().numDataBuffers
    const b = tf.clone(a)
    expect(tf.memory().numDataBuffers).toBe(buffers)
    a.dispose()
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3])
    const c = tf.add(b, 1)
    b.dispose()
    expect(Array.from(c.dataSync())).toEqual([2, 3, 4])
    c.dispose()
  })

  it('keeps gradients right through ops that save their inputs', () => {
    const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, x), tf.sin(x)))
    const x = tf.tensor1d([0.5, -1, 2])
    const g = tf.grad(f)(x)
    const expected = [0.5, -1, 2].map((v) => 2 * v * Math.sin(v) + v * v * Math.cos(v))
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5))
  })
})
