import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import {
  bfloat16BitsToFloat32,
  decodeBfloat16,
  decodeFloat16,
  encodeBfloat16,
  encodeFloat16,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../../src/io/float16.js'

const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`

/**
 * An independent oracle: every finite non-negative value of a 16-bit format, sorted, and the
 * nearest one to |x| by binary search, ties to the even bit pattern; beyond the largest finite
 * value by at least half an ulp (of the next binade), infinity.
 */
const oracle = (decode: (b: number) => number, maxFinite: number, ulpAtMax: number) => {
  const table: Array<[number, number]> = []
  for (let b = 0; b < 0x8000; b++) {
    const v = decode(b)
    if (Number.isFinite(v)) table.push([v, b])
  }
  table.sort((a, b) => a[0] - b[0])
  const infBits = table.length === 0 ? 0 : table[table.length - 1][1] + 1 // the pattern after max finite
  return (x: number): number => {
    const f = Math.fround(x)
    if (Number.isNaN(f)) return -1
    const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0
    const a = Math.abs(f)
    if (a >= maxFinite + ulpAtMax / 2) {
      // exactly half-way rounds to even: max finite has an odd mantissa, so up (to infinity)
      return sign | infBits
    }
    let lo = 0
    let hi = table.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (table[mid][0] <= a) lo = mid
      else hi = mid - 1
    }
    const [v0, b0] = table[lo]
    if (v0 === a || lo === table.length - 1) return sign | b0
    const [v1, b1] = table[lo + 1]
    const d0 = a - v0
    const d1 = v1 - a
    if (d0 < d1) return sign | b0
    if (d1 < d0) return sign | b1
    return sign | ((b0 & 1) === 0 ? b0 : b1)
  }
}

const f16Oracle = oracle(float16BitsToFloat32, 65504, 32)
const bf16Oracle = oracle(bfloat16BitsToFloat32, 3.3895313892515355e38, 2 ** 120)

describe('float16', () => {
  it('encodes known bit patterns', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [0, 0x0000],
      [-0, 0x8000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [1e10, 0x7c00],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [2 ** -26, 0x0000],
      [-(2 ** -24), 0x8001],
      [2 ** -14 - 2 ** -25, 0x0400], // the largest subnormal rounds up into the smallest normal
    ]
    for (const [x, bits] of cases) expect(hex(float32ToFloat16Bits(x)), `${x}`).toBe(hex(bits))
  })

  it('decodes known bit patterns exactly', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1)
    expect(float16BitsToFloat32(0x7bff)).toBe(65504)
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24)
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24)
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true)
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity)
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity)
    expect(float16BitsToFloat32(0x7e00)).toBeNaN()
    expect(float16BitsToFloat32(0x2e66)).toBe(Math.fround(0.0999755859375))
  })

  it('round-trips every non-NaN bit pattern, and keeps NaN a NaN', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = float16BitsToFloat32(b)
      const isNaN16 = (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0
      if (isNaN16) {
        expect(Number.isNaN(v)).toBe(true)
        const back = float32ToFloat16Bits(v)
        expect((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0).toBe(true)
      } else if (float32ToFloat16Bits(v) !== b) {
        expect(hex(float32ToFloat16Bits(v)), `pattern ${hex(b)}`).toBe(hex(b))
      }
    }
  })

  it('keeps the sign and quietness of NaN', () => {
    expect(float32ToFloat16Bits(NaN) & 0x7e00).toBe(0x7e00)
    const negNaN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0]
    expect(float32ToFloat16Bits(negNaN) & 0x8000).toBe(0x8000)
  })

  test.prop([fc.float({ noNaN: true })], { numRuns: 3000 })('rounds to nearest even like the table oracle', (x) => {
    expect(hex(float32ToFloat16Bits(x))).toBe(hex(f16Oracle(x)))
  })

  test.prop([fc.integer({ min: 0, max: 0x7bfe }), fc.oneof(fc.constant(0x1000), fc.integer({ min: 1, max: 0x1fff }))], { numRuns: 500 })(
    'rounds values between two neighbours to the nearer one (ties to even)',
    (b, frac) => {
      // A float32 strictly between patterns b and b+1 (same sign), at a fraction of 2^13 of the gap.
      const lo = float16BitsToFloat32(b)
      const hi = float16BitsToFloat32(b + 1)
      const x = Math.fround(lo + ((hi - lo) * frac) / 0x2000)
      expect(hex(float32ToFloat16Bits(x))).toBe(hex(f16Oracle(x)))
      if (frac === 0x1000) expect(float32ToFloat16Bits(x)).toBe(b % 2 === 0 ? b : b + 1)
    },
  )

  it('encodes and decodes arrays', () => {
    const xs = new Float32Array([1, -2, 0.5, 65504, 2 ** -24, -0])
    expect(Array.from(encodeFloat16(xs))).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000])
    expect(Array.from(decodeFloat16(encodeFloat16(xs)))).toEqual(Array.from(xs))
  })
})

describe('bfloat16', () => {
  it('encodes and decodes known bit patterns', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3f80],
      [-1, 0xbf80],
      [0, 0],
      [-0, 0x8000],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
      [0.1, 0x3dcd],
      [3.140625, 0x4049],
      [1 + 2 ** -8, 0x3f80],
      [1 + 3 * 2 ** -8, 0x3f82],
      [3.4028234663852886e38, 0x7f80], // max float32 rounds up to infinity
      [2 ** -133, 0x0001], // float32 subnormal: bfloat16 keeps the top of it
    ]
    for (const [x, bits] of cases) expect(hex(float32ToBfloat16Bits(x)), `${x}`).toBe(hex(bits))
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1)
    expect(bfloat16BitsToFloat32(0x4049)).toBe(3.140625)
    expect(Object.is(bfloat16BitsToFloat32(0x8000), -0)).toBe(true)
    expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN()
  })

  it('round-trips every non-NaN bit pattern; NaN stays a quiet NaN with its sign', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = bfloat16BitsToFloat32(b)
      if (Number.isNaN(v)) {
        const back = float32ToBfloat16Bits(v)
        expect((back & 0x7f80) === 0x7f80 && (back & 0x7f) !== 0).toBe(true)
      } else if (float32ToBfloat16Bits(v) !== b) {
        expect(hex(float32ToBfloat16Bits(v)), `pattern ${hex(b)}`).toBe(hex(b))
      }
    }
    const negNaN = new Float32Array(new Uint32Array([0xff800001]).buffer)[0] // signalling, low payload only
    const bits = float32ToBfloat16Bits(negNaN)
    expect(bits & 0x8000).toBe(0x8000)
    expect(Number.isNaN(bfloat16BitsToFloat32(bits))).toBe(true)
  })

  test.prop([fc.float({ noNaN: true })], { numRuns: 3000 })('rounds to nearest even like the table oracle', (x) => {
    expect(hex(float32ToBfloat16Bits(x))).toBe(hex(bf16Oracle(x)))
  })

  it('encodes and decodes arrays', () => {
    const xs = new Float32Array([1, -2, 0.5, 3.140625])
    expect(Array.from(encodeBfloat16(xs))).toEqual([0x3f80, 0xc000, 0x3f00, 0x4049])
    expect(Array.from(decodeBfloat16(encodeBfloat16(xs)))).toEqual(Array.from(xs))
  })
})
