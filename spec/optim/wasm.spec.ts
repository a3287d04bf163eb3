/**
 * The optimizers run every step on wasm in practice: every kernel they use must exist there
 * (docs/concepts.md, "Missing kernels") and give PyTorch's numbers too.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { applyUpdates, chain, clipByGlobalNorm, adamw, disposeState, sgd, warmupLinearDecay, type GradientTransformation } from '../../src/optim/index.js'
import { expectClose, plainFlat, read, tensors, tidy, type Plain } from './helpers.js'

const fixture = JSON.parse(readFileSync(new URL('../fixtures/optim/torch_reference.json', import.meta.url), 'utf8')) as {
  readonly w0: Plain['w']
  readonly b0: Plain['b']
  readonly grads: readonly Plain[]
  readonly cases: Record<string, readonly Plain[]>
}

beforeAll(async () => {
  await initBackend('wasm')
})

const check = <S>(name: string, opt: GradientTransformation<S>) => {
  let params = tensors({ w: fixture.w0, b: fixture.b0 })
  let state = opt.init(params)
  const start = tf.memory().numTensors
  fixture.grads.forEach((g, i) => {
    const [next, nextState] = tidy(() => {
      const [u, s] = opt.update(tensors(g), state, params)
      return [applyUpdates(params, u), s] as const
    })
    tf.dispose([params.w, params.b])
    disposeState(state)
    params = next
    state = nextState
    expectClose(read(params), plainFlat(fixture.cases[name][i]), 5e-6)
    expect(tf.memory().numTensors).toBe(start)
  })
  tf.dispose([params.w, params.b])
  disposeState(state)
}

describe('on the wasm backend', () => {
  it('clip + AdamW with a schedule matches torch', () => {
    expect(tf.getBackend()).toBe('wasm')
    check('adamw_schedule_clip', chain(clipByGlobalNorm(1), adamw({ lr: warmupLinearDecay(2, 6, 0.02), b1: 0.8, b2: 0.99, weightDecay: 0.5 })))
  })

  it('SGD with Nesterov momentum matches torch', () => {
    check('sgd_nesterov', sgd({ lr: 0.1, momentum: 0.9, nesterov: true }))
  })
})
