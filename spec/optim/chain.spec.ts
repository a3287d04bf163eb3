import * as tf from '@tensorflow/tfjs-core'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { dispose, leaves, map } from '../../src/core/tree.js'
import {
  addDecayedWeights,
  adam,
  adamw,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  decayMatrices,
  disposeState,
  globalNorm,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  warmupCosineDecay,
  type GradientTransformation,
} from '../../src/optim/index.js'
import { read, tidy } from './helpers.js'

beforeAll(async () => {
  await initBackend('cpu')
})

afterEach(() => {
  vi.restoreAllMocks()
})

const params = () => ({
  w: tf.tensor2d([
    [0.5, -1.5],
    [2, 0.25],
  ]),
  layers: [{ k: tf.tensor1d([0.1, -0.3, 0.7]) }, { k: tf.tensor1d([1, 2, 3]) }],
})
const grads = () => ({
  w: tf.tensor2d([
    [3, -2],
    [1, 0.5],
  ]),
  layers: [{ k: tf.tensor1d([-4, 1, 0]) }, { k: tf.tensor1d([0.5, 0.5, -2]) }],
})

const normOf = (tree: unknown) => tidy(() => globalNorm(tree).dataSync()[0])

describe('chain', () => {
  it('applies transformations in order: clip then scale differs from scale then clip', () => {
    const g = grads()
    expect(normOf(g)).toBeGreaterThan(1)
    const clipThenScale = chain(clipByGlobalNorm(1), scale(10))
    const scaleThenClip = chain(scale(10), clipByGlobalNorm(1))
    const [a] = clipThenScale.update(g, clipThenScale.init(g))
    const [b] = scaleThenClip.update(g, scaleThenClip.init(g))
    expect(normOf(a)).toBeCloseTo(10, 4)
    expect(normOf(b)).toBeCloseTo(1, 4)
    dispose([g, a, b])
  })

  it('its state is the tuple of the states, in order', () => {
    const p = params()
    const opt = chain(scaleByAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 }), scaleByLearningRate(0.1))
    const s0 = opt.init(p)
    expect(s0.length).toBe(2)
    expect(s0[0].count).toBe(0)
    expect(s0[1]).toEqual({ count: 0 })
    const g = grads()
    const [u, s1] = opt.update(g, s0, p)
    expect([s1[0].count, s1[1].count]).toEqual([1, 1])
    dispose([p, g, u])
    disposeState([s0, s1])
  })

  it('adamw is scaleByAdam → addDecayedWeights → scaleByLearningRate; decaying before Adam is another optimizer', () => {
    const p = params()
    const g = grads()
    const adamOpts = { b1: 0.9, b2: 0.999, eps: 1e-8 }
    const lr = warmupCosineDecay(1, 10, 0.1)
    const run = <S>(opt: GradientTransformation<S>) =>
      tidy(() => {
        let s = opt.init(p)
        let u: ReturnType<typeof grads> = g
        for (let i = 0; i < 3; i++) [u, s] = opt.update(g, s, p)
        return read(u)
      })
    const alias = run(adamw({ lr, weightDecay: 0.3 }))
    const documented = run(chain(scaleByAdam(adamOpts), addDecayedWeights(0.3), scaleByLearningRate(lr)))
    const l2 = run(chain(addDecayedWeights(0.3), scaleByAdam(adamOpts), scaleByLearningRate(lr)))
    expect(alias).toEqual(documented)
    expect(alias.w).not.toEqual(l2.w)
    dispose([p, g])
  })

  it('rejects a state that is not its own', () => {
    const opt = chain(scale(2), scale(3))
    const g = grads()
    expect(() => opt.update(g, [{}] as never)).toThrow(/chain: the state has 1 parts but the chain has 2 transformations/)
    dispose(g)
  })

  it('an empty chain is the identity (with fresh tensors)', () => {
    const g = grads()
    const opt = chain()
    const [u] = opt.update(g, opt.init(g))
    expect(read(u)).toEqual(read(g))
    expect(leaves(u).every((t, i) => t !== leaves(g)[i])).toBe(true)
    dispose([g, u])
  })
})

describe('ownership and memory', () => {
  const optimizers: Record<string, () => GradientTransformation<unknown>> = {
    'clip + adamw(schedule, mask)': () => chain(clipByGlobalNorm(1), adamw({ lr: warmupCosineDecay(10, 100, 1e-2, 1e-3), mask: decayMatrices })) as GradientTransformation<unknown>,
    adam: () => adam({ lr: 1e-3 }) as GradientTransformation<unknown>,
    'sgd nesterov': () => sgd({ lr: 0.1, momentum: 0.9, nesterov: true }) as GradientTransformation<unknown>,
    'addDecayedWeights(0)': () => addDecayedWeights(0) as GradientTransformation<unknown>,
  }

  for (const [name, make] of Object.entries(optimizers)) {
    it(`${name}: update leaves its inputs alone and returns only fresh tensors`, () => {
      const opt = make()
      const p = params()
      const g = grads()
      const s0 = opt.init(p)
      const inputs = [...leaves(p), ...leaves(g), ...tf.tensor_util.getTensorsInContainer(s0 as tf.TensorContainer)]
      const before = tf.memory().numTensors
      const [u, s1] = opt.update(g, s0, p)
      const outU = leaves(u)
      const outS = tf.tensor_util.getTensorsInContainer(s1 as tf.TensorContainer)
      // Only the outputs were added: update disposed its own intermediates.
      expect(tf.memory().numTensors - before).toBe(outU.length + outS.length)
      expect(inputs.every((t) => !t.isDisposed)).toBe(true)
      const ids = new Set(inputs.map((t) => t.id))
      expect([...outU, ...outS].some((t) => ids.has(t.id))).toBe(false)
      expect(new Set([...outU, ...outS].map((t) => t.id)).size).toBe(outU.length + outS.length)
      dispose([p, g, u])
      disposeState([s0, s1])
    })

    it(`${name}: 100 steps in tf.tidy, old state disposed, keep tf.memory().numTensors flat`, () => {
      const opt = make()
      let p = params()
      let state = opt.init(p)
      const start = tf.memory().numTensors
      const counts: number[] = []
      for (let i = 0; i < 100; i++) {
        const [nextP, nextState] = tidy(() => {
          const g = map(p, (x) => tf.sin(tf.mul(x, i + 1))) as typeof p
          const [u, s] = opt.update(g, state, p)
          return [applyUpdates(p, u), s] as const
        })
        dispose(p)
        disposeState(state)
        p = nextP
        state = nextState
        counts.push(tf.memory().numTensors)
      }
      expect(new Set(counts)).toEqual(new Set([start]))
      expect(leaves(p).every((t) => Array.from(t.dataSync()).every(Number.isFinite))).toBe(true)
      dispose(p)
      disposeState(state)
    })
  }
})

describe('cost per step', () => {
  /** A tree of n vectors. */
  const tree = (n: number, v: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, tf.fill([4], v + i)]))

  const kernelsPerUpdate = async (opt: GradientTransformation<unknown>, n: number): Promise<number> => {
    const p = tree(n, 1)
    const g = tree(n, 0.5)
    let s = opt.init(p)
    const info = await tf.profile(() => {
      const [u, s1] = opt.update(g, s, p)
      s = s1
      return leaves(u) as tf.Tensor[]
    })
    dispose([p, g])
    disposeState(s)
    return info.kernels.length
  }

  it('clip + adamw runs 17 kernels per leaf (clip 3, Adam 11, decay 2, lr 1) plus 5 for the norm', async () => {
    const make = () => chain(clipByGlobalNorm(1), adamw({ lr: 1e-3 })) as GradientTransformation<unknown>
    const k2 = await kernelsPerUpdate(make(), 2)
    const k6 = await kernelsPerUpdate(make(), 6)
    expect((k6 - k2) / 4).toBe(17)
    expect(k2 - 2 * 17).toBe(5) // addN, add eps, div, minimum for the clip factor; sqrt of the sum
  })

  it('update never reads tensors back to the host', () => {
    const backend = tf.backend()
    const readSync = vi.spyOn(backend, 'readSync')
    const read = vi.spyOn(backend, 'read')
    const opt = chain(clipByGlobalNorm(1), adamw({ lr: warmupCosineDecay(2, 10, 1e-3) }))
    const p = params()
    const g = grads()
    const [u, s] = opt.update(g, opt.init(p), p)
    expect(readSync).not.toHaveBeenCalled()
    expect(read).not.toHaveBeenCalled()
    dispose([p, g, u])
    disposeState(s)
  })
})
