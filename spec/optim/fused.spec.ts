/**
 * optim/fused.ts: Adam(W) chains run as one kernel on wasm give what the transformations give
 * op by op (parameters and the whole state), PyTorch's numbers, and decline what they do not cover.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend, kernelThreads } from '../../src/backend/index.js'
import { kernelPool } from '../../src/backend/simd/module.js'
import { asWasmBackend } from '../../src/core/tfjs-internals.js'
import { key, normal } from '../../src/core/key.js'
import { tensorsIn } from '../../src/core/scope.js'
import { fusedApply } from '../../src/optim/fused.js'
import {
  adam,
  adamw,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  decayMatrices,
  disposeState,
  scale,
  sgd,
  warmupLinearDecay,
  type GradientTransformation,
} from '../../src/optim/index.js'
import { expectClose, plainFlat, read, tensors, tidy, type Plain } from './helpers.js'

beforeAll(async () => {
  await initBackend('wasm')
})

/** A tree of a few leaves of odd and even sizes. */
const tree = (seed: number, scaleBy: number, shapes: readonly (readonly number[])[]) =>
  Object.fromEntries(
    shapes.map((s, i) => [
      `l${i}`,
      tf.tensor(
        normal(
          key(seed + i),
          s.reduce((a, b) => a * b, 1),
          scaleBy,
        ),
        [...s],
      ),
    ]),
  )

const SHAPES = [[3, 5], [7], [4, 4], [1], [2, 3, 2]] as const
/** More leaves than one addN takes (the clip's global norm adds them as a tree). */
const MANY = Array.from({ length: 17 }, (_, i) => [1 + (i % 5), 1 + ((3 * i) % 7)])

/** Numbers of every tensor in a state or tree, in order, and its plain numbers (counts). */
const contents = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof tf.Tensor ? Array.from(v.dataSync()) : v)))

const optimizers: Record<string, () => GradientTransformation<unknown>> = {
  adamw: () => adamw({ lr: 0.01, weightDecay: 0.1 }) as GradientTransformation<unknown>,
  'adamw, decaying matrices only': () => adamw({ lr: 0.01, weightDecay: 0.3, mask: decayMatrices }) as GradientTransformation<unknown>,
  'adamw without decay': () => adamw({ lr: 0.02, weightDecay: 0 }) as GradientTransformation<unknown>,
  adam: () => adam({ lr: 0.003, b1: 0.8, b2: 0.95, eps: 1e-6 }) as GradientTransformation<unknown>,
  'clip + adamw (the seed recipe)': () => chain(clipByGlobalNorm(1), adamw({ lr: 1e-3, weightDecay: 0.01, eps: 1e-8 })) as GradientTransformation<unknown>,
  'clip + adam with a schedule': () => chain(clipByGlobalNorm(0.5), adam({ lr: warmupLinearDecay(2, 6, 0.02) })) as GradientTransformation<unknown>,
}

describe('fusedApply on wasm', () => {
  test.prop([fc.constantFrom(...Object.keys(optimizers)), fc.constantFrom(0.01, 1, 30), fc.boolean(), fc.integer({ min: 0, max: 10_000 })], { numRuns: 40 })(
    'gives the parameters and state of update + applyUpdates, step after step, to the bit',
    (name, gradScale, many, seed) => {
      const shapes = many ? MANY : SHAPES
      const opt = optimizers[name]()
      const before = tf.memory().numTensors
      const p0 = tree(seed, 1, shapes)
      let fusedParams = p0
      let opsParams = p0
      let fusedState = opt.init(p0)
      let opsState = opt.init(p0)
      for (let step = 0; step < 3; step++) {
        const grads = tree(seed + 100 * (step + 1), gradScale, shapes)
        const f = tidy(() => fusedApply(opt, grads, fusedState, fusedParams))
        expect(f).toBeDefined()
        const o = tidy(() => {
          const [u, s] = opt.update(grads, opsState, opsParams)
          return [applyUpdates(opsParams, u), s] as const
        })
        const [fp, fs] = f as readonly [typeof p0, unknown]
        // The kernel does the ops' float32 operations in their order, the clip factor's too: equal.
        expect(read(fp)).toEqual(read(o[0]))
        expect(contents(fs)).toEqual(contents(o[1]))
        expect(JSON.stringify(fs, (_k, v) => (v instanceof tf.Tensor ? v.shape : v))).toBe(JSON.stringify(o[1], (_k, v) => (v instanceof tf.Tensor ? v.shape : v)))
        tf.dispose(Object.values(grads))
        if (step > 0) tf.dispose([...Object.values(fusedParams), ...Object.values(opsParams)])
        disposeState(fusedState)
        disposeState(opsState)
        fusedParams = fp
        fusedState = fs
        opsParams = o[0]
        opsState = o[1]
        // nothing but the initial parameters and both paths' new parameters and states
        expect(tf.memory().numTensors).toBe(before + tensorsIn([p0, fp, fs, o[0], o[1]]).length)
      }
      tf.dispose([...Object.values(fusedParams), ...Object.values(opsParams), ...Object.values(p0)])
      disposeState(fusedState)
      disposeState(opsState)
      expect(tf.memory().numTensors).toBe(before)
    },
  )

  it("splits a large leaf over the kernel pool's threads, to the bit", () => {
    // 301 × 999 values: 74 blocks of 4096 in chunks of 16 (several chunks), and a tail of 3 values
    const shapes = [[301, 999], [5]] as const
    const opt = optimizers['clip + adamw (the seed recipe)']()
    const p0 = tree(7, 1, shapes)
    const grads = tree(8, 1, shapes)
    const pool = kernelPool(asWasmBackend(tf.backend()))
    const jobs = pool?.stats().jobs ?? 0
    const f = tidy(() => fusedApply(opt, grads, opt.init(p0), p0))
    // the pool ran it (a machine of one core has none: then the kernel ran on this thread)
    if (pool === null) expect(kernelThreads()).toBe(1)
    else expect([pool.running(), pool.stats().jobs > jobs]).toEqual([true, true])
    const o = tidy(() => {
      const [u, s] = opt.update(grads, opt.init(p0), p0)
      return [applyUpdates(p0, u), s] as const
    })
    expect(read((f as readonly [typeof p0, unknown])[0])).toEqual(read(o[0]))
    expect(contents((f as readonly [typeof p0, unknown])[1])).toEqual(contents(o[1]))
    tf.dispose(tensorsIn([p0, grads, f, o]))
  })

  it('declines chains it does not cover: SGD, a clip after Adam, a transformation without a recipe, and another backend', async () => {
    const p = tree(1, 1, SHAPES)
    const g = tree(2, 1, SHAPES)
    const custom: GradientTransformation<unknown> = { init: () => ({}), update: (u, s) => [u, s] as const }
    const cases: GradientTransformation<unknown>[] = [
      sgd({ lr: 0.1 }) as GradientTransformation<unknown>,
      chain(adamw({ lr: 0.01 }), clipByGlobalNorm(1)) as GradientTransformation<unknown>,
      chain(custom, adamw({ lr: 0.01 })) as GradientTransformation<unknown>,
      chain(scale(2), adam({ lr: 0.01 })) as GradientTransformation<unknown>,
    ]
    for (const opt of cases) {
      const s = opt.init(p)
      expect(fusedApply(opt, g, s, p)).toBeUndefined()
      disposeState(s)
    }
    await initBackend('cpu')
    const cp = tree(1, 1, SHAPES)
    const opt = adamw({ lr: 0.01 })
    const s = opt.init(cp)
    expect(fusedApply(opt, cp, s, cp)).toBeUndefined()
    disposeState(s)
    tf.dispose(Object.values(cp))
    await initBackend('wasm')
    tf.dispose([...Object.values(p), ...Object.values(g)])
  })
})

const fixture = JSON.parse(readFileSync(new URL('../fixtures/optim/torch_reference.json', import.meta.url), 'utf8')) as {
  readonly w0: Plain['w']
  readonly b0: Plain['b']
  readonly grads: readonly Plain[]
  readonly cases: Record<string, readonly Plain[]>
}

describe('the fused step against PyTorch', () => {
  it('clip + AdamW with a schedule matches torch to 5e-6, as the ops do', () => {
    const opt = chain(clipByGlobalNorm(1), adamw({ lr: warmupLinearDecay(2, 6, 0.02), b1: 0.8, b2: 0.99, weightDecay: 0.5 }))
    let params = tensors({ w: fixture.w0, b: fixture.b0 })
    let state = opt.init(params)
    const start = tf.memory().numTensors
    fixture.grads.forEach((g, i) => {
      const next = tidy(() => fusedApply(opt, tensors(g), state, params))
      expect(next).toBeDefined()
      tf.dispose([params.w, params.b])
      disposeState(state)
      ;[params, state] = next as [typeof params, typeof state]
      expectClose(read(params), plainFlat(fixture.cases.adamw_schedule_clip[i]), 5e-6)
      expect(tf.memory().numTensors).toBe(start)
    })
    tf.dispose([params.w, params.b])
    disposeState(state)
  })
})
