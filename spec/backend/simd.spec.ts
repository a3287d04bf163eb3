/**
 * The WebAssembly SIMD kernels (src/backend/simd): the committed bytes are the assembly of the
 * committed text, and each kernel equals the tfjs ops it stands for.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend, kernelThreads } from '../../src/backend/index.js'
import { addKernel } from '../../src/backend/simd/add.js'
import { attendKernel } from '../../src/backend/simd/attend.js'
import { copyInto, selectInto, splitHeadsKernel, writeInPlace } from '../../src/backend/simd/cache-blocks.js'
import { geluErfKernel } from '../../src/backend/simd/gelu-erf.js'
import { geluTanhKernel } from '../../src/backend/simd/gelu-tanh.js'
import { transpose2dKernel } from '../../src/backend/simd/transpose.js'
import { gatherRowsKernel } from '../../src/backend/simd/gather-rows.js'
import { layerNormKernel } from '../../src/backend/simd/layer-norm.js'
import { KERNELS_WASM_BASE64 } from '../../src/backend/simd/kernels-wasm.js'
import { kernelPool } from '../../src/backend/simd/module.js'
import { asWasmBackend } from '../../src/core/tfjs-internals.js'
import { key, normal } from '../../src/core/key.js'
import { disposeQuantized, quantizedMatmul, uploadQuantized } from '../../src/quant/matrix.js'
import { quantizeRows } from '../../src/quant/quantize.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source, WAT, OUT } from '../../scripts/kernels.mjs'
import { attention64 } from '../helpers/attention64.js'

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

describe('attendKernel (queries over a cache that may have room to spare, causal or not)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }), // batch
      fc.integer({ min: 1, max: 3 }), // heads
      fc.constantFrom(4, 8, 12, 16, 20, 36, 64, 68, 100, 128), // d: the scores 16 features at a time, then 4; the weighted sums 64, then 32, then 4
      fc.integer({ min: 1, max: 11 }), // queries: groups of four, then one at a time
      fc.integer({ min: 0, max: 30 }), // cached positions before the queries
      fc.integer({ min: 0, max: 5 }), // room to spare
      fc.boolean(),
      fc.constantFrom(0.1, 1, 4),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 80 },
  )('equals softmax(q·Kᵀ/√d)·V in float64 over the first `length` positions, to float32 rounding', (b, h, d, tq, past, room, causal, scale, seed) => {
    const len = past + tq
    const cap = len + room
    const before = tf.memory().numTensors
    const q = randn(seed, [b, h, tq, d], scale) as tf.Tensor4D
    const k = randn(seed + 1, [b, h, cap, d], scale) as tf.Tensor4D
    const v = randn(seed + 2, [b, h, cap, d]) as tf.Tensor4D
    const got = attendKernel(q, k, v, len, causal)
    expect(got).toBeDefined()
    expect(got!.shape).toEqual([b, h, tq, d])
    const want = attention64(q.dataSync() as Float32Array, k.dataSync() as Float32Array, v.dataSync() as Float32Array, b * h, tq, cap, len, d, causal)
    const g = got!.dataSync()
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(want[i])) * Math.max(1, scale * scale))
    tf.dispose([q, k, v, got!])
    expect(tf.memory().numTensors).toBe(before)
  })

  it.each([true, false])("splits 24 blocks over the kernel pool's threads with the same numbers (causal: %s)", (causal) => {
    const [b, h, tq, len, cap, d] = [2, 12, 20, 120, 130, 64]
    const pool = kernelPool(asWasmBackend(tf.backend()))
    const q = randn(11, [b, h, tq, d]) as tf.Tensor4D
    const k = randn(12, [b, h, cap, d]) as tf.Tensor4D
    const v = randn(13, [b, h, cap, d]) as tf.Tensor4D
    const jobs = pool?.stats().jobs ?? 0
    const got = attendKernel(q, k, v, len, causal)!
    // the pool ran it (a machine of one core has none: then the kernel ran on this thread)
    if (pool === null) expect(kernelThreads()).toBe(1)
    else expect([pool.running(), pool.stats().jobs]).toEqual([true, jobs + 1])
    const want = attention64(q.dataSync() as Float32Array, k.dataSync() as Float32Array, v.dataSync() as Float32Array, b * h, tq, cap, len, d, causal)
    const g = got.dataSync()
    for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(want[i])))
    tf.dispose([q, k, v, got])
  })

  it("splits a decoding step's attention over the pool when it pays, leaving asleep workers asleep and awake ones awake, with the same numbers bit for bit", () => {
    const pool = kernelPool(asWasmBackend(tf.backend()))
    if (pool === null) return expect(kernelThreads()).toBe(1) // one core: no pool
    const [b, h, d] = [1, 12, 64]
    // GPT-2 124M's step at 64 positions (12 · 64 · 64 multiply-adds) and at 512
    const shapes = [
      { len: 64, cap: 80, seed: 21 },
      { len: 512, cap: 520, seed: 31 },
    ].map(({ len, cap, seed }) => ({
      len,
      cap,
      q: randn(seed, [b, h, 1, d]) as tf.Tensor4D,
      k: randn(seed + 1, [b, h, cap, d]) as tf.Tensor4D,
      v: randn(seed + 2, [b, h, cap, d]) as tf.Tensor4D,
    }))
    // workers asleep (no job for 5 ms), as between XNNPACK's products: the step at 64 runs on the
    // caller alone (waking a worker would cost more than its share), the one at 512 is split and
    // the workers sleep again after it (three times: the first call may take longer than their spin)
    const asleep = (s: (typeof shapes)[number], split: boolean) => {
      const t0 = performance.now()
      while (performance.now() - t0 < 5);
      expect(pool.awake()).toBe(false)
      const jobs = pool.stats().jobs
      const out = attendKernel(s.q, s.k, s.v, s.len, false)!
      expect([pool.stats().jobs, pool.awake()]).toEqual([jobs + (split ? 1 : 0), false])
      return out
    }
    const firsts = shapes.map((s, i) => {
      const first = asleep(s, i === 1)
      for (let r = 0; r < 2; r++) {
        const again = asleep(s, i === 1)
        expect(again.dataSync()).toEqual(first.dataSync())
        again.dispose()
      }
      const want = attention64(s.q.dataSync() as Float32Array, s.k.dataSync() as Float32Array, s.v.dataSync() as Float32Array, b * h, 1, s.cap, s.len, d, false)
      const g = first.dataSync()
      for (let j = 0; j < want.length; j++) expect(Math.abs(g[j] - want[j])).toBeLessThan(2e-6 * (1 + Math.abs(want[j])))
      return first
    })
    // right after a pool job (a quantized product, as at an int8 decoding step) the workers spin:
    // the step at 64 is split too, and they stay awake after it (at least once in 50 tries: this
    // thread may be held up past their spin, and then the step runs on it alone, as when asleep)
    const s = shapes[0] as (typeof shapes)[number]
    const m = uploadQuantized(quantizeRows('int8', Float32Array.from(normal(key(24), 2304 * 768, 0.05)), 2304, 768))
    const x = randn(25, [1, 768]) as tf.Tensor2D
    let checked = false
    for (let i = 0; i < 50 && !checked; i++) {
      tf.dispose(quantizedMatmul(x, m))
      const before = pool.stats().jobs
      const again = attendKernel(s.q, s.k, s.v, s.len, false)!
      const split = pool.stats().jobs - before
      checked = split === 1 && pool.awake()
      expect([0, 1]).toContain(split)
      expect(again.dataSync()).toEqual(firsts[0]?.dataSync())
      again.dispose()
    }
    expect(checked).toBe(true)
    tf.dispose([...shapes.flatMap((t) => [t.q, t.k, t.v]), ...firsts, x])
    disposeQuantized(m)
  })

  it('gives a far-ahead score all the weight, equal scores the mean, and a causal first query its own value exactly', () => {
    // Scores 0, 100, -100 (keys e·s, query e): softmax ≈ [e^-100, 1, e^-200] — the output is v[1].
    const q = tf.tensor4d([1, 0, 0, 0], [1, 1, 1, 4])
    const k = tf.tensor4d([0, 0, 0, 0, 200, 0, 0, 0, -200, 0, 0, 0], [1, 1, 3, 4])
    const v = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 1, 3, 4])
    const far = attendKernel(q, k, v, 3, false)!
    expect(Array.from(far.dataSync())).toEqual([5, 6, 7, 8])
    const zeros = tf.zerosLike(k)
    const flat = attendKernel(q, zeros, v, 3, false)!
    Array.from(flat.dataSync()).forEach((x, i) => expect(x).toBeCloseTo([5, 6, 7, 8][i], 5))
    // Four causal queries over the same four positions (the grouped path): query i sees keys
    // 0 … i, so the first reads v[0] alone, however large the hidden scores are.
    const q4 = tf.tensor4d(
      Array.from({ length: 16 }, () => 1),
      [1, 1, 4, 4],
    )
    const k4 = tf.tensor4d([...[0, 0, 0, 0], ...[50, 50, 50, 50], ...[80, 80, 80, 80], ...[90, 90, 90, 90]], [1, 1, 4, 4])
    const v4 = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 1, 4, 4],
    )
    const causal = attendKernel(q4, k4, v4, 4, true)!.arraySync()[0][0]
    expect(causal[0]).toEqual([0, 1, 2, 3])
    expect(causal[3]).toEqual([12, 13, 14, 15])
    tf.dispose([q, k, v, far, zeros, flat, q4, k4, v4])
  })

  it('does not apply to a head size that is not a multiple of 4, a length past the room, too few keys for causal queries, nor to another backend', async () => {
    const q = tf.zeros([1, 1, 1, 6]) as tf.Tensor4D
    const kv = tf.zeros([1, 1, 3, 6]) as tf.Tensor4D
    expect(attendKernel(q, kv, kv, 3, false)).toBeUndefined()
    const q2 = tf.zeros([1, 1, 2, 4]) as tf.Tensor4D
    const kv2 = tf.zeros([1, 1, 3, 4]) as tf.Tensor4D
    expect(attendKernel(q2, kv2, kv2, 4, false)).toBeUndefined()
    expect(attendKernel(q2, kv2, kv2, 1, true)).toBeUndefined()
    expect(attendKernel(q2, kv2, kv2, 0, false)).toBeUndefined()
    tf.dispose([q, kv, q2, kv2])
    await initBackend('cpu')
    const q4 = tf.zeros([1, 1, 1, 4]) as tf.Tensor4D
    const kv4 = tf.zeros([1, 1, 3, 4]) as tf.Tensor4D
    expect(attendKernel(q4, kv4, kv4, 3, false)).toBeUndefined()
    tf.dispose([q4, kv4])
    await initBackend('wasm')
  })
})

describe('the cache kernels (writeInPlace, copyInto, selectInto)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  /** Positions of a [B, H, T, d] array as nested plain arrays. */
  const blocks = (t: tf.Tensor4D) => t.arraySync()

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
    ],
    {
      numRuns: 40,
    },
  )('copy positions per (batch, head) block, as slicing and concatenating by tfjs ops', (b, h, d, length, n, room) => {
    const before = tf.memory().numTensors
    const capacity = length + n + room
    const old = tf.tensor4d(
      Array.from({ length: b * h * capacity * d }, (_, i) => i + 1),
      [b, h, capacity, d],
    )
    const x = tf.tensor4d(
      Array.from({ length: b * h * n * d }, (_, i) => -(i + 1)),
      [b, h, n, d],
    )
    const want = tf.tidy(() => blocks(tf.concat([tf.slice(old, [0, 0, 0, 0], [b, h, length, d]), x], 2) as tf.Tensor4D))
    // copyInto: a new buffer of the old positions then x; its room past them is unspecified.
    const copied = copyInto(old, length, x, capacity)
    expect(copied.shape).toEqual([b, h, capacity, d])
    expect(blocks(copied).map((bb) => bb.map((hh) => hh.slice(0, length + n)))).toEqual(want)
    const fresh = copyInto(undefined, 0, x, n + room)
    expect(blocks(fresh).map((bb) => bb.map((hh) => hh.slice(0, n)))).toEqual(blocks(x))
    // writeInPlace: the same buffer, x written after `length`, every other position unchanged.
    const oldValues = blocks(old)
    const written = writeInPlace(old, x, length)
    expect(written.dataId).toBe(old.dataId)
    const after = blocks(old)
    expect(after.map((bb) => bb.map((hh) => hh.slice(0, length + n)))).toEqual(want)
    expect(after.map((bb) => bb.map((hh) => hh.slice(length + n)))).toEqual(oldValues.map((bb) => bb.map((hh) => hh.slice(length + n))))
    // Disposing the returned handle leaves the buffer alive.
    written.dispose()
    expect(blocks(old)).toEqual(after)
    // selectInto: rows (repeats, any order) of the first `length + n` positions.
    const rows = Array.from({ length: b + 1 }, (_, i) => (i * 2 + 1) % b)
    const picked = selectInto(old, rows, length + n, capacity + 1)
    expect(picked.shape).toEqual([rows.length, h, capacity + 1, d])
    expect(blocks(picked).map((bb) => bb.map((hh) => hh.slice(0, length + n)))).toEqual(rows.map((r) => want[r]))
    tf.dispose([old, x, copied, fresh, picked])
    expect(tf.memory().numTensors).toBe(before)
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

describe('splitHeadsKernel (a fused projection split into parts and heads)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 })], {
    numRuns: 40,
  })('equals tf.split along the last axis, then [B, T, H, d] → [B, H, T, d] by a transpose, for each part', (b, t, parts, heads, d) => {
    const before = tf.memory().numTensors
    const x = tf.tensor3d(
      Array.from({ length: b * t * parts * heads * d }, (_, i) => i),
      [b, t, parts * heads * d],
    )
    const got = splitHeadsKernel(x, parts, heads)!
    expect(got.length).toBe(parts)
    tf.split(x, parts, -1).forEach((p, i) => {
      const want = tf.tidy(() => tf.transpose(tf.reshape(p, [b, t, heads, d]), [0, 2, 1, 3]).arraySync())
      expect(got[i].shape).toEqual([b, heads, t, d])
      expect(got[i].arraySync()).toEqual(want)
      p.dispose()
    })
    tf.dispose([x, ...got])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('declines sizes that do not divide', () => {
    const x = tf.zeros([1, 2, 10]) as tf.Tensor3D
    expect(splitHeadsKernel(x, 3, 1)).toBeUndefined()
    expect(splitHeadsKernel(x, 2, 3)).toBeUndefined()
    x.dispose()
  })
})

describe('geluTanhKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('is within 5e-7·(1 + |x|) of ½x(1 + tanh(√(2/π)(x + 0.044715x³))) in float64, over [-12, 12] and at the edges', () => {
    const xs = Float32Array.from([...Array.from({ length: 24_001 }, (_, i) => -12 + i * 0.001), 0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 40, -40, 1e10, -1e10, 3e38, -3e38])
    const exact = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
    for (const n of [xs.length, 1, 2, 3, 5]) {
      const x = tf.tensor1d(xs.subarray(0, n))
      const y = geluTanhKernel(x)!
      const got = y.dataSync()
      for (let i = 0; i < n; i++) expect(Math.abs(got[i] - exact(xs[i])), `x = ${xs[i]}`).toBeLessThanOrEqual(5e-7 * (1 + Math.abs(xs[i])))
      tf.dispose([x, y])
    }
  })

  it('keeps the shape, passes NaN through, and does not apply to int32 or on cpu', async () => {
    const x = tf.tensor3d([1, NaN, -1, 2, 0, 3], [1, 2, 3])
    const y = geluTanhKernel(x)!
    expect(y.shape).toEqual([1, 2, 3])
    expect(Number.isNaN(y.dataSync()[1])).toBe(true)
    const ints = tf.tensor1d([1, 2], 'int32')
    expect(geluTanhKernel(ints)).toBeUndefined()
    tf.dispose([x, y, ints])
    await initBackend('cpu')
    const c = tf.tensor1d([1])
    expect(geluTanhKernel(c)).toBeUndefined()
    c.dispose()
    await initBackend('wasm')
  })
})

describe('addKernel (a residual connection)', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 1e6 })], { numRuns: 40 })(
    'equals tf.add to the bit, for any shape (sizes not multiples of 4 included), with no tensor left over',
    (shape, seed) => {
      const a = randn(seed, shape)
      const b = randn(seed + 1, shape)
      const before = tf.memory().numTensors
      const got = addKernel(a, b)!
      const want = tf.add(a, b)
      expect(got.shape).toEqual(shape)
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
      tf.dispose([got, want])
      expect(tf.memory().numTensors).toBe(before)
      tf.dispose([a, b])
    },
  )

  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }),
      fc.integer({ min: 0, max: 1e6 }),
    ],
    { numRuns: 40 },
  )("equals tf.add's broadcast to the bit when b is shaped as a's last axes (positional encodings over a batch)", (tail, lead, seed) => {
    const a = randn(seed, [...lead, ...tail])
    const b = randn(seed + 1, tail)
    const before = tf.memory().numTensors
    const got = addKernel(a, b)!
    const want = tf.add(a, b)
    expect(got.shape).toEqual([...lead, ...tail])
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
    tf.dispose([got, want])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([a, b])
  })

  it('does not apply to another broadcast, to int32, or on cpu', async () => {
    tf.tidy(() => {
      expect(addKernel(tf.zeros([2, 4]), tf.zeros([1, 4]))).toBeUndefined()
      expect(addKernel(tf.zeros([2, 4]), tf.zeros([2, 1]))).toBeUndefined()
      expect(addKernel(tf.zeros([4]), tf.zeros([2, 4]))).toBeUndefined()
      expect(addKernel(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32'))).toBeUndefined()
    })
    await initBackend('cpu')
    tf.tidy(() => {
      expect(addKernel(tf.zeros([4]), tf.zeros([4]))).toBeUndefined()
    })
    await initBackend('wasm')
  })
})

describe('transpose2dKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 150 }), fc.constantFrom('float32' as const, 'int32' as const)], { numRuns: 60 })(
    'equals tf.transpose for any shape (4×4 tiles, bands of 8 columns, the remainders one at a time) and both 4-byte dtypes',
    (rows, cols, dtype) => {
      const before = tf.memory().numTensors
      const x = tf.tensor2d(
        Array.from({ length: rows * cols }, (_, i) => (dtype === 'int32' ? i - 7 : i * 0.5 - 3.25)),
        [rows, cols],
        dtype,
      )
      const got = transpose2dKernel(x)!
      const want = tf.transpose(x)
      expect(got.shape).toEqual([cols, rows])
      expect(got.dtype).toBe(dtype)
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
      tf.dispose([x, got, want])
      expect(tf.memory().numTensors).toBe(before)
    },
  )

  it('does not apply to other ranks, bool, or on cpu', async () => {
    const x = tf.zeros([2, 3, 4]) as unknown as tf.Tensor2D
    expect(transpose2dKernel(x)).toBeUndefined()
    const b = tf.tensor2d([true, false], [1, 2], 'bool')
    expect(transpose2dKernel(b)).toBeUndefined()
    tf.dispose([x, b])
    await initBackend('cpu')
    const c = tf.zeros([2, 2]) as tf.Tensor2D
    expect(transpose2dKernel(c)).toBeUndefined()
    c.dispose()
    await initBackend('wasm')
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
