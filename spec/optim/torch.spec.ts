/**
 * Against torch.optim itself: trajectories recorded by fixtures/torch_reference.py (PyTorch
 * 1.13, float32) for the same parameters and gradients.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import {
  adam,
  adamw,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  decayMatrices,
  decodeOptimizerConfig,
  disposeState,
  globalNorm,
  optimizerFromConfig,
  sgd,
  warmupLinearDecay,
  type GradientTransformation,
} from '../../src/optim/index.js'
import { expectClose, plainFlat, read, tensors, tidy, type Plain } from './helpers.js'

interface Fixture {
  readonly torch: string
  readonly w0: Plain['w']
  readonly b0: Plain['b']
  readonly grads: readonly Plain[]
  readonly cases: Record<string, readonly (Plain & { readonly norm: number | null })[]>
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/optim/torch_reference.json', import.meta.url), 'utf8')) as Fixture

beforeAll(async () => {
  await initBackend('cpu')
})

const run = <S>(opt: GradientTransformation<S>): { params: Record<string, number[]>; norm: number }[] => {
  let params = tensors({ w: fixture.w0, b: fixture.b0 })
  let state = opt.init(params)
  return fixture.grads.map((g) => {
    const [next, nextState, norm] = tidy(() => {
      const grads = tensors(g)
      const [u, s] = opt.update(grads, state, params)
      return [applyUpdates(params, u), s, globalNorm(grads)] as const
    })
    tf.dispose([params.w, params.b])
    disposeState(state)
    params = next
    state = nextState
    const n = norm.dataSync()[0]
    norm.dispose()
    return { params: read(params), norm: n }
  })
}

const check = <S>(name: string, opt: GradientTransformation<S>, tol = 2e-6) => {
  const want = fixture.cases[name]
  const got = run(opt)
  expect(got.length).toBe(want.length)
  got.forEach((g, i) => {
    expectClose(g.params, plainFlat(want[i]), tol)
    const n = want[i].norm
    if (n !== null) expect(g.norm).toBeCloseTo(n, 5)
  })
}

describe(`matches torch.optim (${fixture.torch}) over 4 steps`, () => {
  it('AdamW(lr=0.01, weight_decay=0.1)', () => check('adamw', adamw({ lr: 0.01, weightDecay: 0.1 })))

  it('clip_grad_norm_(1) + AdamW(betas=(0.8, 0.99), wd=0.5) + HF linear warmup/decay schedule', () =>
    check('adamw_schedule_clip', chain(clipByGlobalNorm(1), adamw({ lr: warmupLinearDecay(2, 6, 0.02), b1: 0.8, b2: 0.99, weightDecay: 0.5 }))))

  it('the same, built from a decoded config', () => {
    const config = decodeOptimizerConfig({
      name: 'adamw',
      b1: 0.8,
      b2: 0.99,
      weightDecay: 0.5,
      maxGradNorm: 1,
      lr: { schedule: 'warmupLinearDecay', warmupSteps: 2, totalSteps: 6, peak: 0.02 },
    })
    if (E.isLeft(config)) throw new Error(config.left.join('\n'))
    check('adamw_schedule_clip', optimizerFromConfig(config.right))
  })

  it('AdamW with param groups (decay on the matrix only) = adamw with decayMatrices', () => check('adamw_groups', adamw({ lr: 0.01, weightDecay: 0.1, mask: decayMatrices })))

  it('Adam(lr=0.01)', () => check('adam', adam({ lr: 0.01 })))

  it('SGD(lr=0.1, momentum=0.9)', () => check('sgd_momentum', sgd({ lr: 0.1, momentum: 0.9 })))

  it('SGD(lr=0.1, momentum=0.9, nesterov=True)', () => check('sgd_nesterov', sgd({ lr: 0.1, momentum: 0.9, nesterov: true })))
})
