/**
 * backend/simd/gemm.ts: gemm.wat's float32 product op(A)·op(B) (+ bias) on wasm equals the
 * product in float64 on the host for any shape — rows past a tile of 5 and a block of 120,
 * columns past a panel of 8, an inner size past a packed block of 256 — either operand transposed, with and without
 * a bias; the kernel pool's split, by columns or by rows, changes no bit (one thread against the
 * pool); it declines
 * what it does not take, and leaks nothing.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend, kernelThreads } from '../../src/backend/index.js'
import { gemmKernel } from '../../src/backend/simd/gemm.js'
import { GEMM_WASM_BASE64 } from '../../src/backend/simd/gemm-wasm.js'
import { gemmKernels, kernelPool } from '../../src/backend/simd/module.js'
import { asWasmBackend } from '../../src/core/tfjs-internals.js'
import { key, normal } from '../../src/core/key.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source } from '../../scripts/kernels.mjs'

/** op(a)·op(b) (+ bias) in float64, row-major [m, n]. */
const reference = (as: Float32Array, bs: Float32Array, bias: Float32Array | undefined, m: number, k: number, n: number, ta: boolean, tb: boolean): Float64Array => {
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias === undefined ? 0 : bias[j]
      for (let p = 0; p < k; p++) s += as[ta ? p * m + i : i * k + p] * bs[tb ? j * k + p : p * n + j]
      out[i * n + j] = s
    }
  return out
}

describe('the matrix product module', () => {
  it('is the assembly of gemm.wat (run `npm run kernels` after editing it)', async () => {
    const wat = 'src/backend/simd/gemm.wat'
    const bytes: Buffer = await assemble(readFileSync(wat, 'utf8'), wat)
    expect(Buffer.from(GEMM_WASM_BASE64, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync('src/backend/simd/gemm-wasm.ts', 'utf8')).toBe(source(bytes, 'gemm.wat', 'GEMM_WASM_BASE64'))
  })
})

describe('gemmKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })
  afterAll(async () => {
    await initBackend('cpu')
  })

  test.prop(
    [
      fc.integer({ min: 1, max: 260 }),
      fc.integer({ min: 1, max: 600 }),
      fc.integer({ min: 1, max: 41 }),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 1e6 }),
    ],
    { numRuns: 60 },
  )('equals op(a)·op(b) (+ bias) in float64', (m, k, n, ta, tb, withBias, seed) => {
    const before = tf.memory().numTensors
    const [as, bs, cs] = [normal(key(seed), m * k), normal(key(seed + 1), k * n), normal(key(seed + 2), n)].map((v) => Float32Array.from(v))
    const a = tf.tensor2d(as, ta ? [k, m] : [m, k])
    const b = tf.tensor2d(bs, tb ? [n, k] : [k, n])
    const bias = tf.tensor1d(cs)
    const y = gemmKernel(a, b, ta, tb, withBias ? bias : undefined)
    expect(y?.shape).toEqual([m, n])
    const got = y?.dataSync() ?? new Float32Array()
    const want = reference(as, bs, withBias ? cs : undefined, m, k, n, ta, tb)
    // float32 accumulation of k products of unit normals (sums of size ~√k): as spec/backend/wasm-dense.spec.ts
    for (let i = 0; i < m * n; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * (1 + Math.sqrt(k)))
    tf.dispose([a, b, bias, y ?? []])
    expect(tf.memory().numTensors).toBe(before)
  })

  // 261 × 203: split by runs of column panels; 700 × 40: by blocks of rows (more rows than columns)
  it.each([
    [261, 300, 203],
    [700, 300, 40],
  ])("gives the same bits on the kernel pool's threads as on the calling thread alone (%i × %i · %i × …)", (m, k, n) => {
    const backend = asWasmBackend(tf.backend())
    const pool = kernelPool(backend)
    const kernels = gemmKernels(backend)
    expect(kernels).not.toBeNull()
    const a = tf.tensor2d(Float32Array.from(normal(key(3), m * k)), [m, k])
    const b = tf.tensor2d(Float32Array.from(normal(key(4), k * n)), [k, n])
    const bias = tf.tensor1d(Float32Array.from(normal(key(5), n)))
    const jobs = pool?.stats().jobs ?? 0
    const split = gemmKernel(a, b, false, false, bias)
    // the pool ran it (a machine of one core has none: then the kernel ran on this thread)
    if (pool === null) expect(kernelThreads()).toBe(1)
    else expect([pool.running(), pool.stats().jobs]).toEqual([true, jobs + 1])
    const alone = tf.zeros([m, n])
    const off = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId)?.memoryOffset ?? -1
    const panels = Math.ceil(n / 8)
    const scratch = tf.zeros([(panels * 8192 + 192) / 4])
    kernels?.gemm(off(a), 4 * k, 4, off(b), 4 * n, 4, off(bias), off(alone), m, k, n, off(scratch), 0, panels)
    expect(Array.from(split?.dataSync() ?? [])).toEqual(Array.from(alone.dataSync()))
    tf.dispose([a, b, bias, split ?? [], alone, scratch])
  })

  it('declines a mismatched inner size or bias, int32, an empty product, and other backends', async () => {
    tf.tidy(() => {
      const a = tf.zeros([2, 3]) as tf.Tensor2D
      expect(gemmKernel(a, tf.zeros([4, 5]) as tf.Tensor2D)).toBeUndefined()
      expect(gemmKernel(a, tf.zeros([5, 4]) as tf.Tensor2D, false, true)).toBeUndefined()
      expect(gemmKernel(a, tf.zeros([3, 5]) as tf.Tensor2D, false, false, tf.zeros([4]) as tf.Tensor1D)).toBeUndefined()
      expect(gemmKernel(tf.zeros([2, 3], 'int32') as tf.Tensor2D, tf.zeros([3, 5]) as tf.Tensor2D)).toBeUndefined()
      expect(gemmKernel(tf.zeros([2, 0]) as tf.Tensor2D, tf.zeros([0, 5]) as tf.Tensor2D)).toBeUndefined()
      expect(gemmKernel(a, tf.zeros([3, 5]) as tf.Tensor2D)?.shape).toEqual([2, 5])
    })
    await initBackend('cpu')
    tf.tidy(() => {
      expect(gemmKernel(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([3, 5]) as tf.Tensor2D)).toBeUndefined()
    })
    await initBackend('wasm')
  })
})
