/**
 * leafwiseStep (src/train/leafwise.ts) computes trainStep(loss, chain(clipByGlobalNorm, inner))
 * exactly, with and without donating the old state, and keeps memory flat; its optimizer state
 * is the inner transformation's whole-tree state, and masks by path see the leaves' real paths.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { foldIn, key } from '../../src/core/key.js'
import * as tree from '../../src/core/tree.js'
import { dropoutOp } from '../../src/nn/dropout.js'
import { adamw, chain, clipByGlobalNorm, emptyState, warmupLinearDecay } from '../../src/optim/index.js'
import { leafwiseStep } from '../../src/train/leafwise.js'
import { stepTrainer, trainer, trainStep, type LossFn } from '../../src/train/step.js'

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
// Decays by path only (every leaf but the embedding and the second layer's bias), strongly
// enough that decaying a leaf or not shows in every value.
const masked = () => adamw({ lr: 0.05, weightDecay: 0.5, mask: (path) => path !== 'emb' && path !== 'layers.1.b' })

/** A state's contents with every tensor read back: numbers and arrays of numbers, comparable with toEqual. */
const contents = (x: unknown): unknown =>
  x instanceof tf.Tensor
    ? { shape: x.shape, values: Array.from(x.dataSync()) }
    : Array.isArray(x)
      ? x.map(contents)
      : x !== null && typeof x === 'object'
        ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, contents(v)]))
        : x

describe('leafwiseStep', () => {
  beforeAll(async () => {
    await initBackend('cpu')
  })

  // On wasm both run AdamW as the fused kernel (optim/fused.ts): the whole tree with the clip
  // inside it, against one leaf at a time after the clip's multiply.
  it.each([
    ['cpu', false],
    ['cpu', true],
    ['wasm', false],
    ['wasm', true],
  ] as const)('equals trainStep with chain(clipByGlobalNorm, inner), bit for bit (on %s, donate: %s)', async (backend, donate) => {
    await initBackend(backend)
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
    await initBackend('cpu')
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
    const other = lw.init({ emb: params.emb, layers: params.layers.slice(1) })
    expect(() => lw.step({ params, opt: other }, tf.ones([2, 6]) as tf.Tensor2D, key(0))).toThrow(/tensor at '0\.mu\.emb' outside every tree shaped like the parameters/)
  })

  it.each([false, true])('runs a path-masked AdamW with the same updates and the same state as the whole-tree chain, bit for bit (donate: %s)', async (donate) => {
    const x = tf.randomNormal([5, 6], 0, 3, 'float32', 8) as tf.Tensor2D
    const p1 = init()
    const ref = trainer(loss, chain(clipByGlobalNorm(0.5), masked()), { params: p1, opt: chain(clipByGlobalNorm(0.5), masked()).init(p1) })
    const lw = leafwiseStep(loss, masked(), { maxGradNorm: 0.5, donate })
    const p2 = init()
    const t = stepTrainer(lw.step, { params: p2, opt: lw.init(p2) })
    expect(contents(t.state.opt)).toEqual(contents(ref.state.opt[1])) // the same initial state, layout and values
    for (let i = 0; i < 3; i++) {
      expect(await t.step(x, foldIn(key(4), i))).toBe(await ref.step(x, foldIn(key(4), i)))
      expect(contents(t.state.params)).toEqual(contents(ref.state.params))
      expect(contents(t.state.opt)).toEqual(contents(ref.state.opt[1]))
    }
    // The mask matters: decaying every leaf moves the embedding elsewhere.
    const p3 = init()
    const all = trainer(loss, chain(clipByGlobalNorm(0.5), adamw({ lr: 0.05, weightDecay: 0.5 })), {
      params: p3,
      opt: chain(clipByGlobalNorm(0.5), adamw({ lr: 0.05, weightDecay: 0.5 })).init(p3),
    })
    for (let i = 0; i < 3; i++) await all.step(x, foldIn(key(4), i))
    expect(Array.from(all.state.params.emb.dataSync())).not.toEqual(Array.from(t.state.params.emb.dataSync()))
  })

  it('leaves a state the whole-tree step continues from, as if it had run all along', async () => {
    const x = tf.randomNormal([5, 6], 0, 3, 'float32', 9) as tf.Tensor2D
    const whole = chain(clipByGlobalNorm(0.5), masked())
    const p1 = init()
    const ref = trainer(loss, whole, { params: p1, opt: whole.init(p1) })
    for (let i = 0; i < 4; i++) await ref.step(x, foldIn(key(5), i))
    const lw = leafwiseStep(loss, masked(), { maxGradNorm: 0.5 })
    const p2 = init()
    const t = stepTrainer(lw.step, { params: p2, opt: lw.init(p2) })
    for (let i = 0; i < 2; i++) await t.step(x, foldIn(key(5), i))
    const rest = stepTrainer(trainStep(loss, whole), { params: t.state.params, opt: [emptyState, t.state.opt] as const })
    for (let i = 2; i < 4; i++) await rest.step(x, foldIn(key(5), i))
    expect(contents(rest.state.params)).toEqual(contents(ref.state.params))
    expect(contents(rest.state.opt)).toEqual(contents(ref.state.opt))
  })
})
