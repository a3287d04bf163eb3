import * as E from 'fp-ts/lib/Either.js'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import {
  addDecayedWeights,
  adam,
  adamw,
  clipByGlobalNorm,
  constant,
  decodeOptimizerConfig,
  linearWarmup,
  OptimizerConfig,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  trace,
  warmupCosineDecay,
  warmupLinearDecay,
} from '../../src/optim/index.js'

beforeAll(async () => {
  await initBackend('cpu')
})

describe('constructors reject bad hyper-parameters, naming optimizer, parameter and value', () => {
  const cases: [string, () => unknown, string][] = [
    ['NaN lr', () => adamw({ lr: NaN }), 'adamw: lr must be a finite number > 0, got NaN'],
    ['infinite lr', () => adam({ lr: Infinity }), 'adam: lr must be a finite number > 0, got Infinity'],
    ['zero lr', () => sgd({ lr: 0 }), 'sgd: lr must be a finite number > 0, got 0'],
    ['negative lr', () => adamw({ lr: -1e-3 }), 'adamw: lr must be a finite number > 0, got -0.001'],
    ['string lr', () => adamw({ lr: '1e-3' as unknown as number }), 'adamw: lr must be a finite number > 0, got "1e-3"'],
    ['negative weight decay', () => adamw({ lr: 1e-3, weightDecay: -0.1 }), 'adamw: weightDecay must be a finite number >= 0, got -0.1'],
    ['b1 = 1', () => adamw({ lr: 1e-3, b1: 1 }), 'adamw: b1 must be a number in [0, 1), got 1'],
    ['b2 < 0', () => adam({ lr: 1e-3, b2: -0.5 }), 'adam: b2 must be a number in [0, 1), got -0.5'],
    ['eps = 0', () => adamw({ lr: 1e-3, eps: 0 }), 'adamw: eps must be a finite number > 0, got 0'],
    ['eps < 0', () => scaleByAdam({ b1: 0.9, b2: 0.999, eps: -1e-8 }), 'scaleByAdam: eps must be a finite number > 0, got -1e-8'],
    ['maxNorm = 0', () => clipByGlobalNorm(0), 'clipByGlobalNorm: maxNorm must be a finite number > 0, got 0'],
    ['maxNorm NaN', () => clipByGlobalNorm(NaN), 'clipByGlobalNorm: maxNorm must be a finite number > 0, got NaN'],
    ['momentum 1', () => sgd({ lr: 0.1, momentum: 1 }), 'sgd: momentum must be a number in [0, 1), got 1'],
    ['nesterov without momentum', () => sgd({ lr: 0.1, nesterov: true }), 'sgd: nesterov needs momentum > 0, got momentum 0'],
    ['trace decay', () => trace({ decay: 2 }), 'trace: decay must be a number in [0, 1), got 2'],
    ['decay weights', () => addDecayedWeights(NaN), 'addDecayedWeights: weightDecay must be a finite number >= 0, got NaN'],
    ['scale', () => scale(Infinity), 'scale: s must be a finite number, got Infinity'],
    ['scaleByLearningRate', () => scaleByLearningRate(-1), 'scaleByLearningRate: lr must be a finite number > 0, got -1'],
    ['mask', () => adamw({ lr: 1e-3, mask: 'bias' as never }), 'adamw: mask must be a function (path, param) => boolean, got "bias"'],
    ['constant', () => constant(0), 'constant: value must be a finite number > 0, got 0'],
    ['linearWarmup steps', () => linearWarmup(1.5, 1e-3), 'linearWarmup: warmupSteps must be an integer >= 0, got 1.5'],
    ['linear decay total', () => warmupLinearDecay(100, 50, 1e-3), 'warmupLinearDecay: totalSteps must be an integer >= warmupSteps (100), got 50'],
    ['cosine peak', () => warmupCosineDecay(0, 10, NaN), 'warmupCosineDecay: peak must be a finite number > 0, got NaN'],
    ['cosine end', () => warmupCosineDecay(0, 10, 1e-3, 1e-2), 'warmupCosineDecay: end must be <= peak (0.001), got 0.01'],
  ]
  for (const [name, make, message] of cases) {
    it(name, () => {
      expect(make).toThrow(Error)
      expect(make).toThrow(message)
    })
  }

  it('lists every problem at once', () => {
    expect(() => adamw({ lr: NaN, b1: 2, eps: 0 })).toThrow(
      'adamw: lr must be a finite number > 0, got NaN\nadamw: b1 must be a number in [0, 1), got 2\nadamw: eps must be a finite number > 0, got 0',
    )
  })

  it('a schedule that gives a bad value fails at that step, naming it', () => {
    const opt = adamw({ lr: (step) => (step < 1 ? 1e-3 : NaN) })
    const state = opt.init({})
    const [, s1] = opt.update({}, state, {})
    expect(() => opt.update({}, s1, {})).toThrow('adamw: the lr schedule gave NaN at step 1; it must give finite numbers >= 0')
  })

  it('addDecayedWeights needs the params', () => {
    const t = addDecayedWeights(0.1)
    expect(() => t.update({}, t.init({}))).toThrow('addDecayedWeights: update needs the parameters')
  })
})

describe('OptimizerConfig codec', () => {
  const left = (u: unknown): readonly string[] => {
    const r = decodeOptimizerConfig(u)
    if (E.isRight(r)) throw new Error(`expected a failure for ${JSON.stringify(u)}`)
    return r.left
  }

  it('decodes valid configs, numbers or schedules for lr', () => {
    const configs = [
      { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true },
      { name: 'adam', lr: 3e-4, eps: 1e-6 },
      { name: 'adamw', lr: { schedule: 'warmupCosineDecay', warmupSteps: 100, totalSteps: 1000, peak: 3e-4, end: 3e-5 }, weightDecay: 0.1, decayMask: 'matrices', maxGradNorm: 1 },
      { name: 'adamw', lr: { schedule: 'linearWarmup', warmupSteps: 10, peak: 1e-3 } },
      { name: 'adam', lr: { schedule: 'constant', value: 1e-3 } },
    ]
    for (const c of configs) {
      expect(decodeOptimizerConfig(c)).toEqual(E.right(c))
      expect(OptimizerConfig.is(c)).toBe(true)
    }
  })

  it('gives one message per problem, with optimizer, field and value', () => {
    expect(left({ name: 'adamw', lr: NaN })).toEqual(['adamw: lr must be a finite number > 0, got NaN'])
    expect(left({ name: 'adamw', lr: '3e-4', b2: 1, weightDecay: -1 })).toEqual([
      'adamw: lr must be a finite number > 0, got "3e-4"',
      'adamw: b2 must be a number in [0, 1), got 1',
      'adamw: weightDecay must be a finite number >= 0, got -1',
    ])
    expect(left({ name: 'sgd', lr: 0.1, maxGradNorm: 0 })).toEqual(['sgd: maxGradNorm must be a finite number > 0, got 0'])
    expect(left({ name: 'adamw', lr: 1e-3, decayMask: 'biases' })).toEqual(['adamw: decayMask must be "all" or "matrices", got "biases"'])
  })

  it('reports unknown fields instead of ignoring them', () => {
    expect(left({ name: 'adamw', lr: 1e-3, weight_decay: 0.1 })).toEqual([
      'adamw: unknown field "weight_decay" (known fields: name, lr, maxGradNorm, b1, b2, eps, weightDecay, decayMask)',
    ])
    expect(left({ name: 'adam', lr: 1e-3, momentum: 0.9 })[0]).toMatch(/^adam: unknown field "momentum"/)
  })

  it("checks schedules with the schedule's own messages", () => {
    expect(left({ name: 'adamw', lr: { schedule: 'warmupLinearDecay', warmupSteps: 100, totalSteps: 10, peak: 1e-3 } })).toEqual([
      'adamw: lr: warmupLinearDecay: totalSteps must be an integer >= warmupSteps (100), got 10',
    ])
    expect(left({ name: 'sgd', lr: { schedule: 'cosine' } })).toEqual([
      'sgd: lr.schedule must be one of constant, linearWarmup, warmupLinearDecay, warmupCosineDecay, got "cosine"',
    ])
    expect(left({ name: 'sgd', lr: { schedule: 'constant', value: 0.1, peak: 1 } })).toEqual(['sgd: lr: unknown field "peak" (known fields: schedule, value)'])
  })

  it('rejects what is not an optimizer config', () => {
    expect(left(null)).toEqual(['optimizer config must be an object with a "name" (sgd, adam, adamw), got null'])
    expect(left({ name: 'rmsprop', lr: 1 })).toEqual(['optimizer config: name must be one of sgd, adam, adamw, got "rmsprop"'])
    expect(left({ name: 'adam', lr: () => 1 })).toEqual(['adam: lr must be a finite number > 0, got a function'])
  })

  it('is an ordinary io-ts codec (works with PathReporter)', () => {
    const r = OptimizerConfig.decode({ name: 'adamw', lr: 0 })
    expect(PathReporter.report(r)).toEqual(['adamw: lr must be a finite number > 0, got 0'])
  })
})
