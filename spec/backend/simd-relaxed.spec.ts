/**
 * kernels.wat's relaxed-SIMD build (kernels-relaxed-wasm.ts): the committed bytes are the
 * relaxed assembly of the committed text, the rewrite fuses exactly the attention kernel's
 * multiply-adds, the runtime's support is detected, and where the runtime has relaxed SIMD
 * the relaxed attention equals the plain one within 1e-5 (relative to the output's scale).
 */
import { readFileSync } from 'node:fs'
import { fc, test } from '@fast-check/vitest'
import { describe, expect, it } from 'vitest'
import { hasRelaxedSimd, simdKernelsOn } from '../../src/backend/simd/module.js'
import { KERNELS_RELAXED_WASM_BASE64 } from '../../src/backend/simd/kernels-relaxed-wasm.js'
import { key, normal } from '../../src/core/key.js'
// @ts-expect-error: a build script without type declarations
import { assemble, relax, source, WAT, RELAXED_OUT, RELAXED_CONSTANT } from '../../scripts/kernels.mjs'

const nodeMajor = Number(process.versions.node.split('.')[0])
const flagged = process.execArgv.includes('--experimental-wasm-relaxed-simd')

describe('the relaxed kernels module', () => {
  it('is the relaxed assembly of kernels.wat (run `npm run kernels` after editing it)', async () => {
    const r = relax(readFileSync(WAT, 'utf8')) as { text: string; count: number }
    const bytes: Buffer = await assemble(r.text, WAT, true)
    expect(Buffer.from(KERNELS_RELAXED_WASM_BASE64, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync(RELAXED_OUT, 'utf8')).toBe(source(bytes, 'kernels.wat with relaxed SIMD', RELAXED_CONSTANT))
  })

  it('fuses the fifty-four accumulations of the dot products and weighted sums (float32 and bfloat16 caches), and nothing else', () => {
    const text = readFileSync(WAT, 'utf8')
    const r = relax(text) as { text: string; count: number }
    expect(r.count).toBe(54)
    expect(r.text.match(/f32x4\.relaxed_madd/g)?.length).toBe(54)
    expect(r.text).not.toMatch(/\(f32x4\.add \(local\.get \$[ab][0-9]+\)\s+\(f32x4\.mul/)
    // Every other multiply and add is left alone.
    const count = (s: string, op: string) => s.split(op).length - 1
    expect(count(r.text, '(f32x4.mul')).toBe(count(text, '(f32x4.mul') - 54)
    expect(count(r.text, '(f32x4.add')).toBe(count(text, '(f32x4.add') - 54)
    expect(relax('(f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (v128.load (local.get $p))))').text).toBe(
      '(f32x4.relaxed_madd (local.get $x) (v128.load (local.get $p)) (local.get $a0))',
    )
  })

  it('runs where the runtime has relaxed SIMD: Node 22 and later, Node 20 only with the flag', () => {
    expect(hasRelaxedSimd()).toBe(nodeMajor >= 22 || flagged)
    expect(simdKernelsOn(new WebAssembly.Memory({ initial: 1 }), 'relaxed') === null).toBe(!hasRelaxedSimd())
    expect(simdKernelsOn(new WebAssembly.Memory({ initial: 1 }), 'plain')).not.toBeNull()
  })
})

describe.skipIf(!hasRelaxedSimd())('relaxed vs plain attend (runtimes with relaxed SIMD)', () => {
  const memory = new WebAssembly.Memory({ initial: 64 })
  const relaxed = simdKernelsOn(memory, 'relaxed')
  const plain = simdKernelsOn(memory, 'plain')

  test.prop(
    [
      fc.integer({ min: 1, max: 4 }), // blocks
      fc.integer({ min: 1, max: 20 }).map((n) => 4 * n), // d, a multiple of 4 (up to 80: both the 16- and 4-wide loops)
      fc.integer({ min: 1, max: 6 }), // queries
      fc.integer({ min: 0, max: 40 }), // positions before them
      fc.boolean(), // causal
      fc.boolean(), // a bfloat16 cache (then d rounded up to a multiple of 8)
      fc.integer({ min: 0, max: 2 ** 31 }),
    ],
    { numRuns: 60 },
  )('outputs agree within 1e-5 · max(1, |out|), over float32 and bfloat16 caches', (blocks, d4, tq, past, causal, bf16, seed) => {
    const d = bf16 ? 8 * Math.ceil(d4 / 8) : d4
    if (relaxed === null || plain === null) throw new Error('both builds should instantiate here')
    const f32 = new Float32Array(memory.buffer)
    let at = 0
    const put = (xs: Float32Array): number => {
      f32.set(xs, at)
      const offset = at * 4
      at += xs.length + 4
      return offset
    }
    const len = past + tq
    const draw = (i: number, n: number) => normal(key(seed + i), n)
    const q = put(draw(0, blocks * tq * d))
    const kf = put(draw(1, blocks * len * d))
    const vf = put(draw(2, blocks * len * d))
    // a bfloat16 cache: the keys and values packed (by the plain build) in place of half their floats
    if (bf16) for (const x of [kf, vf]) plain.pack_bf16(x, 0, x, 0, blocks * len * d, 1)
    const [k, v] = [kf, vf]
    const scratch = put(new Float32Array(4 * (len + 4)))
    const out1 = put(new Float32Array(blocks * tq * d))
    const out2 = put(new Float32Array(blocks * tq * d))
    const scale = 1 / Math.sqrt(d)
    relaxed.attend(q, k, v, len, len, tq, causal ? 1 : 0, bf16 ? 1 : 0, blocks, d, scale, scratch, out1)
    plain.attend(q, k, v, len, len, tq, causal ? 1 : 0, bf16 ? 1 : 0, blocks, d, scale, scratch, out2)
    const a = f32.subarray(out1 / 4, out1 / 4 + blocks * tq * d)
    const b = f32.subarray(out2 / 4, out2 / 4 + blocks * tq * d)
    for (let i = 0; i < a.length; i++) {
      expect(Number.isFinite(a[i])).toBe(true)
      expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[i])))
    }
  })
})
