import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { foldIn, greedy, key, logProbAt, logSoftmax, sample, softmax } from '../../src/sample/index.js'

describe('softmax / logSoftmax', () => {
  test.prop([fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 32 })])(
    'stable on any finite float32 row: sums to 1, exp(logSoftmax) = softmax',
    (xs) => {
      const p = softmax(xs)
      const lp = logSoftmax(xs)
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12)
      p.forEach((pi, i) => expect(Math.exp(lp[i])).toBeCloseTo(pi, 12))
      expect(logProbAt(xs, 0)).toBe(lp[0])
    },
  )
  it('handles -Infinity, all -Infinity and +Infinity', () => {
    expect(Array.from(softmax([0, -Infinity, 0]))).toEqual([0.5, 0, 0.5])
    expect(Array.from(logSoftmax([0, -Infinity]))).toEqual([0, -Infinity])
    expect(Array.from(softmax([-Infinity, -Infinity]))).toEqual([0, 0])
    expect(Array.from(logSoftmax([-Infinity, -Infinity]))).toEqual([-Infinity, -Infinity])
    expect(Array.from(softmax([Infinity, 3, Infinity]))).toEqual([0.5, 0, 0.5])
    expect(() => softmax([0, NaN])).toThrow(/entry 1 is NaN/)
  })
  it('matches a hand example in float64', () => {
    expect(Array.from(softmax([0, 0]))).toEqual([0.5, 0.5])
    const p = softmax([Math.log(1), Math.log(3)])
    expect(p[0]).toBeCloseTo(0.25, 15)
    expect(p[1]).toBeCloseTo(0.75, 15)
  })
})

describe('greedy', () => {
  it('takes the lowest index on ties and skips -Infinity', () => {
    expect(greedy([1, 3, 3, 2])).toBe(1)
    expect(greedy([-Infinity, -5])).toBe(1)
    expect(() => greedy([-Infinity, -Infinity])).toThrow(/every logit is -Infinity/)
  })
})

describe('sample', () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 40 })])('same key, same token; never a filtered one', (s) => {
    const row = Float32Array.from([0.2, -Infinity, 1, 0.5, -Infinity])
    const t = sample(key(s))(row)
    expect(sample(key(s))(row)).toBe(t)
    expect([0, 2, 3]).toContain(t)
  })
  it('draws with the softmax frequencies', () => {
    const row = Float32Array.from(Array.from([0.6, 0.3, 0.1], Math.log))
    const n = 3000
    const counts = [0, 0, 0]
    for (let i = 0; i < n; i++)
      counts[sample(foldIn(key(1), i))(row)]++
      // 4 standard deviations of a binomial at n = 3000
    ;[0.6, 0.3, 0.1].forEach((p, i) => expect(Math.abs(counts[i] / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n)))
  })
})
