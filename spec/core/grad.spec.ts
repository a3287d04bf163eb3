import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { noGradientInProgress, withInferenceKernel } from '../../src/core/grad.js'
import { remat } from '../../src/core/remat.js'

describe('withInferenceKernel', () => {
  beforeAll(async () => {
    await initBackend('cpu')
  })

  // The "kernel" doubles and says which path ran; the ops square.
  const seen: string[] = []
  const ops = (x: tf.Tensor) => (seen.push('ops'), tf.square(x))
  const fast = (x: tf.Tensor) => (seen.push('kernel'), tf.mul(x, 2))
  const f = withInferenceKernel(ops, fast)

  it('takes the kernel outside any gradient computation, and the ops inside one — also in a rematerialised forward pass, where the tape is paused', () => {
    seen.length = 0
    expect(noGradientInProgress()).toBe(true)
    expect(f(tf.scalar(3)).dataSync()[0]).toBe(6)
    const g = tf.grad((x: tf.Tensor) => f(x) as tf.Scalar)(tf.scalar(3))
    expect(g.dataSync()[0]).toBe(6) // d(x²)/dx at 3: the ops ran
    const r = tf.grad((x: tf.Tensor) => tf.sum(remat((y: tf.Tensor) => f(y))(x, {})) as tf.Scalar)(tf.scalar(3))
    expect(r.dataSync()[0]).toBe(6)
    expect(seen).toEqual(['kernel', 'ops', 'ops', 'ops'])
  })

  it('falls back to the ops when the kernel declines', () => {
    const declining = withInferenceKernel(ops, () => undefined)
    expect(declining(tf.scalar(3)).dataSync()[0]).toBe(9)
  })
})
