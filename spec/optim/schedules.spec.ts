import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { constant, linearWarmup, warmupCosineDecay, warmupLinearDecay } from '../../src/optim/index.js'

/** HF transformers' lr_lambda of get_linear_schedule_with_warmup, written out. */
const hfLinear = (warmup: number, total: number) => (step: number) => (step < warmup ? step / Math.max(1, warmup) : Math.max(0, (total - step) / Math.max(1, total - warmup)))

/** HF's get_cosine_schedule_with_warmup (num_cycles 0.5), written out. */
const hfCosine = (warmup: number, total: number) => (step: number) => {
  if (step < warmup) return step / Math.max(1, warmup)
  const progress = (step - warmup) / Math.max(1, total - warmup)
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)))
}

describe('schedules', () => {
  it('constant', () => {
    const s = constant(3e-4)
    expect([0, 1, 1e6].map(s)).toEqual([3e-4, 3e-4, 3e-4])
  })

  it('linearWarmup: 0 at step 0, peak at the warmup boundary and after', () => {
    const s = linearWarmup(4, 1e-3)
    expect([0, 1, 2, 3, 4, 5, 1000].map(s)).toEqual([0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3])
    expect(linearWarmup(0, 1e-3)(0)).toBe(1e-3)
  })

  it('warmupLinearDecay at key steps: start, warmup boundary, middle of the decay, end, past the end', () => {
    const s = warmupLinearDecay(10, 110, 2e-3)
    expect(s(0)).toBe(0)
    expect(s(5)).toBeCloseTo(1e-3, 15)
    expect(s(10)).toBeCloseTo(2e-3, 15)
    expect(s(60)).toBeCloseTo(1e-3, 15)
    expect(s(110)).toBe(0)
    expect(s(500)).toBe(0)
  })

  it('warmupCosineDecay at key steps, holding end past totalSteps', () => {
    const s = warmupCosineDecay(10, 110, 2e-3, 2e-4)
    expect(s(0)).toBe(0)
    expect(s(10)).toBeCloseTo(2e-3, 15)
    expect(s(60)).toBeCloseTo(2e-4 + (2e-3 - 2e-4) / 2, 15)
    expect(s(110)).toBeCloseTo(2e-4, 15)
    expect(s(200)).toBeCloseTo(2e-4, 15)
  })

  test.prop([fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 600 })])(
    "equal HF transformers' lambdas × peak up to totalSteps",
    (warmup, extra, step) => {
      const total = warmup + extra
      const at = Math.min(step, total)
      expect(warmupLinearDecay(warmup, total, 0.1)(step)).toBeCloseTo(0.1 * hfLinear(warmup, total)(step), 14)
      expect(warmupCosineDecay(warmup, total, 0.1)(at)).toBeCloseTo(0.1 * hfCosine(warmup, total)(at), 14)
    },
  )
})
