/**
 * leafwiseStep (src/train/leafwise.ts) computes trainStep(loss, chain(clipByGlobalNorm, inner))
 * exactly, with and without donating the old state, and keeps memory flat.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { foldIn, key } from '../../src/core/key.js'
import * as tree from '../../src/core/tree.js'
import { dropoutOp } from '../../src/nn/dropout.js'
import { adamw, chain, clipByGlobalNorm, warmupLinearDecay } from '../../src/optim/index.js'
import { leafwiseStep } from '../../src/train/leafwise.js'
import { stepTrainer, trainer, type LossFn } from '../../src/train/step.js'

interface P {
  readonly emb: tf.Tensor2D
  readonly layers: readonly { readonly w: tf.Tensor2D; readonly b: tf.Tensor1D }[]
}
const init = (): P => ({
  emb: tf.randomNormal([6, 4], 0, 1, 'float32', 1) as tf.Tensor2D,
  layers: [2, 3].map((s) => ({ w: tf.randomNormal([4, 4], 0, 0.5, 'float32', s) as tf.Tensor2D, b: tf.randomNormal([4], 0, 0.1, 'float32', s + 10) as tf.Tensor1D })),
})
const loss: LossFn<P, tf.Tensor2D> = (p, x, ctx) =>
  tf.mean(tf.square(p.layers.reduce<tf.Tensor>((h, l) => dropoutOp(tf.tanh(tf.add(tf.matMul(h as tf.Tensor2D, l.w), l.b)), 0.2, ctx), tf.matMul(x, p.emb)))) as tf.Scalar
const inner = () => adamw({ lr: warmupLinearDecay(1, 5, 0.05), weightDecay: 0.01 })

describe('leafwiseStep', () => {
  beforeAll(async () => {
    await initBackend('cpu')
  })

  it.each([false, true])('equals trainStep with chain(clipByGlobalNorm, inner), bit for bit (donate: %s)', async (donate) => {
    const x = tf.randomNormal([5, 6], 0, 3, 'float32', 7) as tf.Tensor2D
    const ref = trainer(
      loss,
      chain(clipByGlobalNorm(0.5), inner()),
      (() => {
        const p = init()
        return { params: p, opt: chain(clipByGlobalNorm(0.5), inner()).init(p) }
      })(),
    )
    const lw = leafwiseStep(loss, inner(), { maxGradNorm: 0.5, donate })
    const t = stepTrainer(
      lw.step,
      (() => {
        const p = init()
        return { params: p, opt: lw.init(p) }
      })(),
    )
    const before = tf.memory().numTensors
    for (let i = 0; i < 4; i++) {
      expect(await t.step(x, foldIn(key(3), i))).toBe(await ref.step(x, foldIn(key(3), i)))
      for (const [path, v] of tree.flatten(ref.state.params)) {
        expect(Array.from(tree.flatten(t.state.params).get(path)!.dataSync()), path).toEqual(Array.from(v.dataSync()))
      }
    }
    expect(tf.memory().numTensors).toBe(before) // the trainer replaced the state; nothing leaked
  })

  it('donating disposes the state it was given', () => {
    const lw = leafwiseStep(loss, inner(), { maxGradNorm: 1, donate: true })
    const params = init()
    const opt = lw.init(params)
    const r = lw.step({ params, opt }, tf.ones([2, 6]) as tf.Tensor2D, key(0))
    expect(tree.leaves(params).every((t) => t.isDisposed)).toBe(true)
    expect(tree.leaves(r.state.params).some((t) => t.isDisposed)).toBe(false)
  })

  it('refuses a state made for another tree', () => {
    const lw = leafwiseStep(loss, inner())
    const params = init()
    expect(() => lw.step({ params, opt: lw.init(params).slice(1) }, tf.ones([2, 6]) as tf.Tensor2D, key(0))).toThrow(/has 4 entries for 5 parameters/)
  })
})
