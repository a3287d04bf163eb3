import { describe, expect, it } from 'vitest'
import { planNextStep, promptSlots } from '../../src/sample/slots.js'

describe('promptSlots', () => {
  it('gives equal prompts one slot, in order of first appearance', () => {
    expect(
      promptSlots([
        [1, 2],
        [3, 4],
        [1, 2],
        [5, 6],
        [3, 4],
      ]),
    ).toEqual({
      prompts: [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      slotOf: [0, 1, 0, 2, 1],
    })
  })
})

describe('planNextStep', () => {
  const V = 10

  it('splits a shared slot when its rows choose different tokens, and selects the parents', () => {
    // Three rows share slot 0; two choose 7, one chooses 3.
    const plan = planNextStep({ slotOf: [0, 0, 0], fed: [1] }, [true, true, true], [7, 3, 7], V)
    expect(plan).toEqual({ select: [0, 0], state: { slotOf: [0, 1, 0], fed: [7, 3] } })
  })

  it('keeps the cache when each slot continues once and most slots are live, feeding finished slots their last token again', () => {
    // Rows 0..2 in slots 0..2; row 1 finished. Two of three slots still used: no select.
    const plan = planNextStep({ slotOf: [0, 1, 2], fed: [4, 5, 6] }, [true, false, true], [8, 0, 9], V)
    expect(plan).toEqual({ state: { slotOf: [0, 1, 2], fed: [8, 5, 9] } })
  })

  it('selects when at most half the slots are still used', () => {
    const plan = planNextStep({ slotOf: [0, 1, 2, 3], fed: [4, 5, 6, 7] }, [false, true, false, true], [0, 2, 0, 3], V)
    expect(plan).toEqual({ select: [1, 3], state: { slotOf: [0, 0, 2, 1], fed: [2, 3] } })
  })

  it('is undefined when no row is live', () => {
    expect(planNextStep({ slotOf: [0, 1], fed: [1, 2] }, [false, false], [0, 0], V)).toBeUndefined()
  })
})
