/**
 * The WebAssembly SIMD kernels (src/backend/simd): the committed bytes are the assembly of the
 * committed text, and each kernel equals the tfjs ops it stands for.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { attendOneQuery } from '../../src/backend/simd/attend-one-query.js'
import { concat2 } from '../../src/backend/simd/concat-blocks.js'
import { geluErfKernel } from '../../src/backend/simd/gelu-erf.js'
import { gatherRowsKernel } from '../../src/backend/simd/gather-rows.js'
import { layerNormKernel } from '../../src/backend/simd/layer-norm.js'
import { KERNELS_WASM_BASE64 } from '../../src/backend/simd/kernels-wasm.js'
import { key, normal } from '../../src/core/key.js'
import { scaledDotProductAttention } from '../../src/nn/attention.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source, WAT, OUT } from '../../scripts/kernels.mjs'

const randn = (seed: number, shape: number[], scale = 1) =>
  tf.tensor(
    normal(
      key(seed),
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  )

describe('the kernels module', () => {
  it('is the assembly of kernels.wat (run `npm run kernels` after editing it)', async () => {
    const bytes: Buffer = await assemble(readFileSync(WAT, 'utf8'))
    expect(Buffer.from(KERNELS_WASM_BASE64, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync(OUT, 'utf8')).toBe(source(bytes))
  })
})

describe('attendOneQuery (one query position over one or two cache parts)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  /** The same attention by tfjs ops: a zero mask keeps scaledDotProductAttention off the kernel. */
  const byOps = (q: tf.Tensor4D, parts: { k: tf.Tensor; v: tf.Tensor }[]) =>
    tf.tidy(() => {
      const k =
        parts.length === 1
          ? parts[0].k
          : tf.concat(
              parts.map((p) => p.k),
              2,
            )
      const v =
        parts.length === 1
          ? parts[0].v
          : tf.concat(
              parts.map((p) => p.v),
              2,
            )
      return scaledDotProductAttention(q, k, v, tf.zeros([1, k.shape[2] as number])).output
    })

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(4, 8, 16, 20, 36, 64), // 16 features at a time, then 4
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom(0.1, 1, 4),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 40 },
  )('equals softmax(q·Kᵀ/√d)·V by tfjs ops, to float32 rounding', (b, h, d, len1, len2, scale, seed) => {
    const before = tf.memory().numTensors
    const q = randn(seed, [b, h, 1, d], scale) as tf.Tensor4D
    const parts = [{ k: randn(seed + 1, [b, h, len1, d], scale), v: randn(seed + 2, [b, h, len1, d]) }]
    if (len2 > 0) parts.push({ k: randn(seed + 3, [b, h, len2, d], scale), v: randn(seed + 4, [b, h, len2, d]) })
    const got = attendOneQuery(q, parts)
    expect(got).toBeDefined()
    const want = byOps(q, parts)
    expect(got!.shape).toEqual([b, h, 1, d])
    const g = got!.dataSync()
    const w = want.dataSync()
    for (let i = 0; i < w.length; i++) expect(Math.abs(g[i] - w[i])).toBeLessThan(2e-6 * (1 + Math.abs(w[i])) * Math.max(1, scale * scale))
    tf.dispose([q, got!, want, ...parts.flatMap((p) => [p.k, p.v])])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('gives a far-ahead score all the weight, and equal scores the mean of the values', () => {
    // Scores 0, 100, -100 (keys e·s, query e): softmax ≈ [e^-100, 1, e^-200] — the output is v[1].
    const q = tf.tensor4d([1, 0, 0, 0], [1, 1, 1, 4])
    const k = tf.tensor4d([0, 0, 0, 0, 200, 0, 0, 0, -200, 0, 0, 0], [1, 1, 3, 4])
    const v = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 1, 3, 4])
    const far = attendOneQuery(q, [{ k, v }])!
    expect(Array.from(far.dataSync())).toEqual([5, 6, 7, 8])
    const flat = attendOneQuery(q, [{ k: tf.zerosLike(k), v }])!
    Array.from(flat.dataSync()).forEach((x, i) => expect(x).toBeCloseTo([5, 6, 7, 8][i], 5))
    tf.dispose([q, k, v, far, flat])
  })

  it('does not apply to a head size that is not a multiple of 4, nor to another backend', async () => {
    const q = tf.zeros([1, 1, 1, 6]) as tf.Tensor4D
    const kv = tf.zeros([1, 1, 3, 6])
    expect(attendOneQuery(q, [{ k: kv, v: kv }])).toBeUndefined()
    tf.dispose([q, kv])
    await initBackend('cpu')
    const q4 = tf.zeros([1, 1, 1, 4]) as tf.Tensor4D
    const kv4 = tf.zeros([1, 1, 3, 4])
    expect(attendOneQuery(q4, [{ k: kv4, v: kv4 }])).toBeUndefined()
    tf.dispose([q4, kv4])
    await initBackend('wasm')
  })
})

/** erf in float64 (Abramowitz & Stegun 7.1.28 is too coarse; this is a series/continued fraction to ~1e-15). */
const erf64 = (x: number): number => {
  const z = Math.abs(x)
  let r: number
  if (z < 3) {
    // Maclaurin series: erf z = 2/√π Σ (-1)ⁿ z^(2n+1) / (n! (2n+1))
    let term = z
    let sum = z
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
      term *= (-z * z) / n
      sum += term / (2 * n + 1)
    }
    r = (2 / Math.sqrt(Math.PI)) * sum
  } else {
    // erfc z = e^(-z²)/(z√π) · 1/(1 + 1/(2z²)/(1 + 2/(2z²)/(1 + …))) by its continued fraction
    let f = 0
    for (let n = 60; n >= 1; n--) f = n / 2 / (z + f)
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f)
  }
  return x < 0 ? -r : r
}

describe('geluErfKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('is within 2.5e-7·(1 + |x|) of ½x(1 + erf(x/√2)) in float64, over [-12, 12] and at the edges', () => {
    const xs = Float32Array.from([...Array.from({ length: 24_001 }, (_, i) => -12 + i * 0.001), 0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 40, -40, 1e10, -1e10])
    for (const n of [xs.length, 1, 2, 3, 5]) {
      // lengths that are not multiples of 4 take the one-at-a-time tail
      const x = tf.tensor1d(xs.subarray(0, n))
      const y = geluErfKernel(x)!
      const got = y.dataSync()
      for (let i = 0; i < n; i++) {
        const v = xs[i]
        const want = 0.5 * v * (1 + erf64(v / Math.SQRT2))
        expect(Math.abs(got[i] - want), `x = ${v}`).toBeLessThanOrEqual(2.5e-7 * (1 + Math.abs(v)))
      }
      tf.dispose([x, y])
    }
  })

  it('keeps the shape, passes NaN through, and does not apply to int32 or on cpu', async () => {
    const x = tf.tensor3d([1, NaN, -1, 2, 0, 3], [1, 2, 3])
    const y = geluErfKernel(x)!
    expect(y.shape).toEqual([1, 2, 3])
    expect(Number.isNaN(y.dataSync()[1])).toBe(true)
    const ints = tf.tensor1d([1, 2], 'int32')
    expect(geluErfKernel(ints)).toBeUndefined()
    tf.dispose([x, y, ints])
    await initBackend('cpu')
    const c = tf.tensor1d([1])
    expect(geluErfKernel(c)).toBeUndefined()
    c.dispose()
    await initBackend('wasm')
  })
})

describe('concat2 (two tensors along one axis)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop(
    [fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 0, max: 4 }), fc.constantFrom('float32' as const, 'int32' as const)],
    { numRuns: 60 },
  )('equals tf.concat for any rank, axis and dtype (and falls back to it for an empty part)', (shape, axisSeed, extra, dtype) => {
    const axis = axisSeed % shape.length
    const bShape = shape.map((n, i) => (i === axis ? extra : n))
    const a = tf.tensor(
      Array.from({ length: tf.util.sizeFromShape(shape) }, (_, i) => i + 1),
      shape,
      dtype,
    )
    const b = tf.tensor(
      Array.from({ length: tf.util.sizeFromShape(bShape) }, (_, i) => -(i + 1)),
      bShape,
      dtype,
    )
    const before = tf.memory().numTensors
    const got = concat2(a, b, axis)
    const want = tf.concat([a, b], axis)
    expect(got.shape).toEqual(want.shape)
    expect(got.dtype).toBe(dtype)
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
    tf.dispose([got, want])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([a, b])
  })

  it('refuses parts whose other axes differ, as tf.concat does', () => {
    const a = tf.zeros([2, 3])
    const b = tf.zeros([3, 3])
    expect(() => concat2(a, b, 1)).toThrow()
    tf.dispose([a, b])
  })
})

describe('layerNormKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.integer({ min: 1, max: 6 }), fc.constantFrom(4, 8, 64, 768), fc.constantFrom(1e-5, 1e-3), fc.constantFrom(0.01, 1, 100), fc.integer({ min: 0, max: 10_000 })], {
    numRuns: 30,
  })("equals PyTorch's LayerNorm computed in float64, to float32 rounding", (rows, d, eps, scale, seed) => {
    const xs = normal(key(seed), rows * d, scale).map((v, i) => v + (i % 7) * scale) // an offset mean
    const w = normal(key(seed + 1), d, 1)
    const b = normal(key(seed + 2), d, 1)
    const x = tf.tensor2d(xs, [rows, d])
    const wt = tf.tensor1d(w)
    const bt = tf.tensor1d(b)
    const y = layerNormKernel(x, wt, bt, eps)!
    const got = y.dataSync()
    for (let r = 0; r < rows; r++) {
      const row = Array.from(xs.subarray(r * d, (r + 1) * d))
      const mean = row.reduce((a, v) => a + v, 0) / d
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / d
      for (let i = 0; i < d; i++) {
        const want = ((row[i] - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]
        expect(Math.abs(got[r * d + i] - want)).toBeLessThan(2e-5 * (1 + Math.abs(w[i])) + 1e-6 * Math.abs(b[i]))
      }
    }
    tf.dispose([x, wt, bt, y])
  })

  it('does not apply to a last axis that is not a multiple of 4, nor to a weight of another size', () => {
    const x = tf.zeros([2, 6])
    const w = tf.ones([6]) as tf.Tensor1D
    expect(layerNormKernel(x, w, w, 1e-5)).toBeUndefined()
    const x8 = tf.zeros([2, 8])
    expect(layerNormKernel(x8, w, w, 1e-5)).toBeUndefined()
    tf.dispose([x, w, x8])
  })
})

describe('gatherRowsKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('copies the chosen rows (in order, repeats allowed) as tf.gather does, float32 and int32', () => {
    for (const dtype of ['float32', 'int32'] as const) {
      const x = tf.tensor3d(
        Array.from({ length: 5 * 3 * 2 }, (_, i) => i - 4),
        [5, 3, 2],
        dtype,
      )
      const before = tf.memory().numTensors
      for (const rows of [[4, 0, 2], [1, 1, 1, 1], [3]]) {
        const got = gatherRowsKernel(x, rows)!
        const want = tf.gather(x, rows, 0)
        expect(got.dtype).toBe(dtype)
        expect(got.arraySync()).toEqual(want.arraySync())
        tf.dispose([got, want])
      }
      expect(tf.memory().numTensors).toBe(before)
      expect(gatherRowsKernel(x, [])).toBeUndefined()
      x.dispose()
    }
  })
})
