/**
 * The bfloat16 form of a key/value cache on wasm (nn/kv-cache.ts, backend/simd/cache-blocks.ts,
 * kernels.wat): float32 rounded to nearest even as it is written, read back exactly, and
 * attention over such a cache (the SIMD kernel widening it in its loops) equal to attention in
 * float64 over the rounded values, to float32 rounding — however the head size splits into the
 * kernel's sixteen- and eight-feature passes, and when the blocks are split over the kernel pool.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { attendKernel } from '../../src/backend/simd/attend.js'
import { copyInto, unpackCache } from '../../src/backend/simd/cache-blocks.js'
import { key, normal } from '../../src/core/key.js'
import { attention64 } from '../helpers/attention64.js'
import { roundBf16 } from '../helpers/bf16.js'

const bitsOf = (xs: Float32Array) => Array.from(new Uint32Array(Float32Array.from(xs).buffer))

describe('a bfloat16 cache buffer', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('rounds float32 to the nearest bfloat16 (ties to even, past the largest to ±∞, NaN a NaN) and reads back exactly', () => {
    const u32 = (xs: number[]) => new Float32Array(Uint32Array.from(xs).buffer)
    const edges = u32([
      0x3f808000, // a tie below an even top half: down to 0x3f80
      0x3f818000, // a tie below an odd one: up to 0x3f82
      0x3f808001, // just past a tie: up
      0x3f807fff, // just short of one: down
      0x7f7fffff, // float32's largest: rounds past bfloat16's, to +∞
      0xff7fffff,
      0x7f800000, // ±∞
      0xff800000,
      0x7fc00001, // NaN
      0x80000000, // −0
      0x00000001, // the smallest subnormal: to +0
      0x00018000, // a subnormal tie
      0x7f7f7fff, // below bfloat16's largest: stays finite
      0xc0490fdb, // −π
      0x3eaaaaab, // ⅓
      0x00000000,
    ])
    const x = tf.tensor4d(Float32Array.from([...edges, ...normal(key(3), 48, 10)]), [2, 1, 4, 8])
    const packed = copyInto(undefined, 0, x, 6, true)
    expect([packed.dtype, packed.shape]).toEqual(['int32', [2, 1, 6, 4]])
    const back = unpackCache(packed, 4)
    expect(back.shape).toEqual([2, 1, 4, 8])
    const got = back.dataSync() as Float32Array
    expect(bitsOf(got)).toEqual(bitsOf(roundBf16(x.dataSync() as Float32Array)))
    expect(Array.from(got.subarray(0, 8))).toEqual([
      1,
      1.015625,
      1.0078125,
      1,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
    expect(Number.isNaN(got[8])).toBe(true)
    expect(Object.is(got[9], -0)).toBe(true)
    tf.dispose([x, packed, back])
  })

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }), // batch
      fc.integer({ min: 1, max: 3 }), // heads
      fc.constantFrom(8, 16, 24, 40, 64, 72, 136), // d: the scores sixteen features at a time, then eight; the weighted sums sixty-four, then eight
      fc.integer({ min: 1, max: 6 }), // queries (a bfloat16 cache takes each alone)
      fc.integer({ min: 0, max: 30 }), // cached positions before the queries
      fc.integer({ min: 0, max: 5 }), // room to spare
      fc.boolean(),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 60 },
  )('attention over it equals softmax(q·Kᵀ/√d)·V in float64 over the rounded keys and values, to float32 rounding', (b, h, d, tq, past, room, causal, seed) => {
    const len = past + tq
    const cap = len + room
    const before = tf.memory().numTensors
    const q = tf.tensor4d(normal(key(seed), b * h * tq * d), [b, h, tq, d])
    const kf = tf.tensor4d(normal(key(seed + 1), b * h * cap * d), [b, h, cap, d])
    const vf = tf.tensor4d(normal(key(seed + 2), b * h * cap * d), [b, h, cap, d])
    const [k, v] = [kf, vf].map((t) => copyInto(undefined, 0, t, cap, true))
    const got = attendKernel(q, k, v, len, causal)
    expect(got?.shape).toEqual([b, h, tq, d])
    const want = attention64(q.dataSync() as Float32Array, roundBf16(kf.dataSync() as Float32Array), roundBf16(vf.dataSync() as Float32Array), b * h, tq, cap, len, d, causal)
    const g = got!.dataSync()
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(want[i])))
    tf.dispose([q, kf, vf, k, v, got!])
    expect(tf.memory().numTensors).toBe(before)
  })

  it("a decoding step over 24 heads of 64 at 300 positions, split over the kernel pool's threads, reads each block's own keys", () => {
    const [b, h, len, cap, d] = [2, 12, 300, 310, 64]
    const q = tf.tensor4d(normal(key(21), b * h * d), [b, h, 1, d])
    const kf = tf.tensor4d(normal(key(22), b * h * cap * d), [b, h, cap, d])
    const vf = tf.tensor4d(normal(key(23), b * h * cap * d), [b, h, cap, d])
    const [k, v] = [kf, vf].map((t) => copyInto(undefined, 0, t, cap, true))
    const got = attendKernel(q, k, v, len, false)!
    const want = attention64(q.dataSync() as Float32Array, roundBf16(kf.dataSync() as Float32Array), roundBf16(vf.dataSync() as Float32Array), b * h, 1, cap, len, d, false)
    const g = got.dataSync()
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(want[i])))
    tf.dispose([q, kf, vf, k, v, got])
  })

  it('attendKernel declines a bfloat16 cache whose head size is not a multiple of 8, or whose keys and values differ in form', () => {
    const q = tf.zeros([1, 1, 1, 12]) as tf.Tensor4D
    const k = tf.zeros([1, 1, 4, 6], 'int32') as tf.Tensor4D
    expect(attendKernel(q, k, k, 4, false)).toBeUndefined()
    const q8 = tf.zeros([1, 1, 1, 8]) as tf.Tensor4D
    const k8 = tf.zeros([1, 1, 4, 4], 'int32') as tf.Tensor4D
    const v8 = tf.zeros([1, 1, 4, 8]) as tf.Tensor4D
    expect(attendKernel(q8, k8, v8, 4, false)).toBeUndefined()
    tf.dispose([q, k, q8, k8, v8])
  })
})
