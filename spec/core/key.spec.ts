import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { bits, categorical, foldIn, key, normal, permutation, split, threefry2x32, truncatedNormal, uniform } from '../../src/core/key.js'

const hex = (xs: readonly number[]) => xs.map((x) => x.toString(16).padStart(8, '0'))

describe('threefry2x32', () => {
  it('matches the Random123 known-answer vectors (20 rounds)', () => {
    expect(hex(threefry2x32(0, 0, 0, 0))).toEqual(['6b200159', '99ba4efe'])
    expect(hex(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))).toEqual(['1cb996fc', 'bb002be7'])
    expect(hex(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3))).toEqual(['c4923a9c', '483df7a0'])
  })
})

describe('keys', () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 40 })])('same seed, same numbers', (s) => {
    expect(Array.from(uniform(key(s), 16))).toEqual(Array.from(uniform(key(s), 16)))
  })

  test.prop([fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 2, max: 8 })])('split gives distinct keys and distinct streams', (s, n) => {
    const ks = split(key(s), n)
    const streams = new Set(ks.map((k) => Array.from(bits(k, 4)).join(',')))
    expect(streams.size).toBe(n)
    expect(new Set(ks.map((k) => k.join(','))).size).toBe(n)
  })

  it('foldIn differs from split and by data', () => {
    const k = key(7)
    const a = foldIn(k, 0).join()
    const b = foldIn(k, 1).join()
    const [c, d] = split(k).map((x) => x.join())
    expect(new Set([a, b, c, d]).size).toBe(4)
  })

  it('rejects non-integer seeds', () => {
    expect(() => key(1.5)).toThrow(/seed must be a safe integer/)
  })
})

describe('draws', () => {
  it('uniform has the moments of U(0,1) and stays in [0,1)', () => {
    const u = uniform(key(1), 100_000)
    let m = 0
    let v = 0
    for (const x of u) {
      m += x
      expect(x >= 0 && x < 1).toBe(true)
    }
    m /= u.length
    for (const x of u) v += (x - m) ** 2
    v /= u.length
    expect(m).toBeCloseTo(0.5, 2)
    expect(v).toBeCloseTo(1 / 12, 3)
  })

  it('normal has mean 0 and variance 1', () => {
    const z = normal(key(2), 100_000)
    let m = 0
    let v = 0
    for (const x of z) m += x
    m /= z.length
    for (const x of z) v += (x - m) ** 2
    v /= z.length
    expect(Math.abs(m)).toBeLessThan(0.02)
    expect(Math.abs(v - 1)).toBeLessThan(0.02)
  })

  it('truncatedNormal stays within its bounds times std', () => {
    const z = truncatedNormal(key(3), 10_000, 0.02)
    for (const x of z) expect(Math.abs(x)).toBeLessThanOrEqual(0.04 + 1e-9)
    // The truncated standard normal on [-2, 2] has variance ≈ 0.7737.
    let v = 0
    for (const x of z) v += (x / 0.02) ** 2
    expect(v / z.length).toBeCloseTo(0.774, 1)
  })

  it('categorical follows the softmax of its logits and never draws -Infinity', () => {
    const logits = [Math.log(0.2), -Infinity, Math.log(0.5), Math.log(0.3)]
    const counts = [0, 0, 0, 0]
    const ks = split(key(4), 20_000)
    for (const k of ks) counts[categorical(k, logits)]++
    expect(counts[1]).toBe(0)
    expect(counts[0] / 20_000).toBeCloseTo(0.2, 1)
    expect(counts[2] / 20_000).toBeCloseTo(0.5, 1)
    expect(counts[3] / 20_000).toBeCloseTo(0.3, 1)
    expect(() => categorical(key(0), [-Infinity, -Infinity])).toThrow(/every logit is -Infinity/)
    expect(() => categorical(key(0), [0, NaN])).toThrow(/NaN/)
  })

  test.prop([fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 300 })])('permutation is a permutation', (s, n) => {
    const p = Array.from(permutation(key(s), n)).sort((a, b) => a - b)
    expect(p).toEqual(Array.from({ length: n }, (_, i) => i))
  })
})
