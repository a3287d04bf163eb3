/**
 * The quantized-weight kernels (quant.wat, quant-relaxed.wat) against a float reference:
 * dequantize the matrix on the host (quantize.ts's `dequantizeRows`), multiply in float64. The
 * kernels quantize the activations first — for int8 weights to int16 per row (s = max|x|/32767),
 * for q4 to int8 per block of 32 (s_b = max|x_b|/127, GGML's q8_0) — so the bounds stated and
 * asserted are
 *
 *   int8  |y_o − y_ref,o| ≤ Σ_i |ŵ_oi| · max|x| / 65534            +  1e-5 · (Σ_i |x_i ŵ_oi| + |b_o|)
 *   q4    |y_o − y_ref,o| ≤ Σ_b Σ_{i∈b} |ŵ_oi| · max_{i∈b}|x_i| / 254  +  1e-5 · (Σ_i |x_i ŵ_oi| + |b_o|)
 *
 * (the activations' rounding, half a step each, then float32 rounding of the sums). The same
 * products on the cpu backend (the host fallback) must equal the kernel's bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { activeQuantKernels } from '../../src/backend/simd/module.js'
import { QUANT_WASM_BASE64 } from '../../src/backend/simd/quant-wasm.js'
import { QUANT_RELAXED_WASM_BASE64 } from '../../src/backend/simd/quant-relaxed-wasm.js'
import { key, normal } from '../../src/core/key.js'
import { disposeQuantized, quantizedLookup, quantizedMatmul, uploadQuantized } from '../../src/quant/matrix.js'
import { dequantizeRows, quantizeRows, rowErrorBound, type QuantFormat } from '../../src/quant/quantize.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source, MODULES } from '../../scripts/kernels.mjs'

interface Case {
  readonly format: QuantFormat
  readonly n: number
  readonly cols: number
  readonly outs: number
  readonly seed: number
  readonly bias: boolean
}

const values = (seed: number, size: number, scale = 1) => Float32Array.from(normal(key(seed), size, scale))

/** The float64 reference and the bound above, per output. */
const reference = (c: Case, x: Float32Array, wq: Float32Array, b: Float32Array | undefined) => {
  const y = new Float64Array(c.n * c.outs)
  const tol = new Float64Array(c.n * c.outs)
  // the activations' rounding step at each input: int8 weights, the row's max / 32767; q4, the block's max / 127
  const step = new Float64Array(c.cols)
  for (let r = 0; r < c.n; r++) {
    const row = x.subarray(r * c.cols, (r + 1) * c.cols)
    const span = c.format === 'int8' ? c.cols : 32
    for (let start = 0; start < c.cols; start += span) {
      const block = row.subarray(start, Math.min(c.cols, start + span))
      const mx = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
      step.fill(mx / (c.format === 'int8' ? 32767 : 127), start, start + block.length)
    }
    for (let o = 0; o < c.outs; o++) {
      let s = 0
      let act = 0
      let sxw = 0
      for (let i = 0; i < c.cols; i++) {
        const w = wq[o * c.cols + i]
        s += row[i] * w
        act += (Math.abs(w) * step[i]) / 2
        sxw += Math.abs(row[i] * w)
      }
      const bo = b === undefined ? 0 : b[o]
      y[r * c.outs + o] = s + bo
      tol[r * c.outs + o] = act + 1e-5 * (sxw + Math.abs(bo)) + 1e-30
    }
  }
  return { y, tol }
}

const run = (c: Case) => {
  const w = values(c.seed, c.outs * c.cols, 0.05)
  const x = values(c.seed + 1, c.n * c.cols)
  const b = c.bias ? values(c.seed + 2, c.outs) : undefined
  const h = quantizeRows(c.format, w, c.outs, c.cols)
  const m = uploadQuantized(h)
  const xt = tf.tensor2d(x, [c.n, c.cols])
  const bt = b === undefined ? undefined : tf.tensor1d(b)
  const yt = quantizedMatmul(xt, m, bt)
  const got = yt.dataSync() as Float32Array
  tf.dispose([xt, yt, ...(bt === undefined ? [] : [bt])])
  disposeQuantized(m)
  return { got: Float32Array.from(got), ...reference(c, x, dequantizeRows(h), b), shape: yt.shape }
}

const cases = fc.record({
  format: fc.constantFrom<QuantFormat>('int8', 'q4'),
  n: fc.integer({ min: 1, max: 9 }), // four rows at a time, then one
  cols: fc.constantFrom(1, 5, 31, 32, 33, 64, 96, 100, 200, 1030, 2080), // padding; q4 row ends of 0-3 blocks past a multiple of 4; int8 1024-weight chunks
  outs: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer({ min: 0, max: 10_000 }),
  bias: fc.boolean(),
})

describe.each([
  ['quant.wat', 'QUANT_WASM_BASE64', QUANT_WASM_BASE64, false],
  ['quant-relaxed.wat', 'QUANT_RELAXED_WASM_BASE64', QUANT_RELAXED_WASM_BASE64, true],
] as const)('%s', (file, constant, committed, relaxed) => {
  it(`is assembled into ${file.replace('.wat', '-wasm.ts')} (run \`npm run kernels\` after editing it)`, async () => {
    const m = (MODULES as { wat: string; out: string; constant: string; relaxed: boolean }[]).find((x) => x.wat.endsWith(`/${file}`))
    expect(m?.constant).toBe(constant)
    expect(m?.relaxed).toBe(relaxed)
    const bytes: Buffer = await assemble(readFileSync(m?.wat ?? '', 'utf8'), m?.wat, relaxed)
    expect(Buffer.from(committed, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync(m?.out ?? '', 'utf8')).toBe(source(bytes, file, constant))
  })
})

describe('quantizeRows', () => {
  test.prop([fc.constantFrom<QuantFormat>('int8', 'q4'), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 1000 })])(
    'keeps every weight within its row bound of the original',
    (format, rows, cols, seed) => {
      const w = values(seed, rows * cols, 3)
      const h = quantizeRows(format, w, rows, cols)
      const d = dequantizeRows(h)
      for (let r = 0; r < rows; r++) {
        // The row's bound is exact arithmetic's; the dequantized value q·scale is then rounded to
        // float32, which adds up to half an ulp of it (seen: a weight on a rounding tie, -68.5·scale,
        // came back 1.8e-7 past scale/2).
        const bound = rowErrorBound(h, r) * (1 + 1e-6)
        for (let i = 0; i < cols; i++) expect(Math.abs(d[r * cols + i] - w[r * cols + i])).toBeLessThanOrEqual(bound + Math.abs(d[r * cols + i]) * 2 ** -24)
      }
    },
  )

  it('stores the largest weight of an int8 row and of a q4 block exactly', () => {
    const w = Float32Array.from([0.5, -2, 1, 0.25, ...new Array(28).fill(0.125), 3, -0.5])
    expect(dequantizeRows(quantizeRows('int8', w, 1, w.length))[32]).toBe(3)
    const d = dequantizeRows(quantizeRows('q4', w, 1, w.length))
    expect(d[1]).toBe(-2) // block 0's largest magnitude
    expect(d[32]).toBe(3) // block 1's
  })
})

describe.each(['wasm', 'cpu'])('quantizedMatmul on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend)
  })
  afterAll(async () => {
    await initBackend('wasm')
  })

  it(backend === 'wasm' ? 'runs the SIMD kernels' : 'runs the host fallback', () => {
    expect(activeQuantKernels() !== null).toBe(backend === 'wasm')
  })

  test.prop([cases], { numRuns: 40 })('equals x · dequantize(W)ᵀ (+ b) within the stated bound', (c) => {
    const before = tf.memory().numTensors
    const r = run(c)
    expect(r.shape).toEqual([c.n, c.outs])
    for (let i = 0; i < r.got.length; i++) expect(Math.abs(r.got[i] - r.y[i])).toBeLessThanOrEqual(r.tol[i])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('does not overflow its integer sums (all-maximal weights and activations)', () => {
    for (const format of ['int8', 'q4'] as const) {
      const cols = 6400 // gpt2-xl's inner width
      const m = uploadQuantized(quantizeRows(format, new Float32Array(2 * cols).fill(-1), 2, cols))
      const y = quantizedMatmul(tf.fill([5, cols], -1) as tf.Tensor2D, m)
      for (const v of y.dataSync()) expect(v).toBeCloseTo(cols, 0)
      y.dispose()
      disposeQuantized(m)
    }
  })

  it("keeps the input's leading dimensions, each row as the same product of a 2-D input", () => {
    for (const format of ['int8', 'q4'] as const) {
      const [rows, cols] = [9, 70]
      const m = uploadQuantized(quantizeRows(format, values(4, rows * cols), rows, cols))
      const x = tf.tensor3d(values(5, 2 * 3 * cols), [2, 3, cols])
      const b = tf.tensor1d(values(6, rows))
      const y = quantizedMatmul(x, m, b)
      const flat = quantizedMatmul(tf.reshape(x, [6, cols]) as tf.Tensor2D, m, b)
      expect(y.shape).toEqual([2, 3, rows])
      expect(Array.from(y.dataSync())).toEqual(Array.from(flat.dataSync()))
      const bad = tf.zeros([2, cols + 1])
      expect(() => quantizedMatmul(bad, m)).toThrow(`quantized ${format} [${rows}, ${cols}]: input has shape [2, ${cols + 1}], expected [..., ${cols}]`)
      tf.dispose([x, b, y, flat, bad])
      disposeQuantized(m)
    }
  })

  it('reads embedding rows as the dequantized rows', () => {
    for (const format of ['int8', 'q4'] as const) {
      const rows = 7
      const cols = 45
      const h = quantizeRows(format, values(3, rows * cols), rows, cols)
      const d = dequantizeRows(h)
      const m = uploadQuantized(h)
      const ids = [6, 0, 3, 3]
      const got = quantizedLookup(m, tf.tensor2d(ids, [2, 2], 'int32'))
      expect(got.shape).toEqual([2, 2, cols])
      expect(Array.from(got.dataSync())).toEqual(ids.flatMap((id) => Array.from(d.subarray(id * cols, (id + 1) * cols))))
      expect(() => quantizedLookup(m, tf.tensor1d([7], 'int32'))).toThrow(/id 7 is outside \[0, 7\)/)
      got.dispose()
      disposeQuantized(m)
    }
  })
})

describe('the kernel and the host fallback', () => {
  afterAll(async () => {
    await initBackend('wasm')
  })

  test.prop([cases], { numRuns: 25 })('give the same products, bit for bit', async (c) => {
    await initBackend('wasm')
    const a = run(c)
    await initBackend('cpu')
    const b = run(c)
    expect(Array.from(a.got)).toEqual(Array.from(b.got))
  })
})
