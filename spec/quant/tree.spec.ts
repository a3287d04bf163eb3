/**
 * Quantizing a tree by the roles its layers declare (src/quant/tree.ts): the roles a model's
 * shape-only tree carries, each matrix quantized as its layer reads it (a dense weight per
 * output channel, a table per row: checked against each channel's own bound computed from the
 * float weights), a matrix with no declared role refused by name, and the file layout derived
 * from the same roles.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key, normal } from '../../src/core/key.js'
import { compose } from '../../src/core/layer.js'
import * as T from '../../src/core/tree.js'
import { quantFileLayout } from '../../src/io/quant-file.js'
import { miniGpt, miniGptShapes } from '../../src/models/minigpt/model.js'
import type { MiniGptConfig } from '../../src/models/minigpt/config.js'
import { disposeQuantTree, isQuantized } from '../../src/quant/matrix.js'
import { dequantize, leavesByPath, quantize, quantizedFormat } from '../../src/quant/tree.js'

const c: MiniGptConfig = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 1, ff_dim: 40, max_len: 6, dropout: 0.1, pad_idx: 0 }

beforeAll(async () => {
  await initBackend('cpu')
})

describe('roles', () => {
  it("a model's shape-only tree says how each matrix is read: its linear weights 'dense', its embedding 'table', nothing else", () => {
    const roles = Object.fromEntries([...T.flatten(miniGptShapes(c))].map(([path, ref]) => [path, T.roleOf(ref)]).filter(([, r]) => r !== undefined))
    const dense = [
      'layers.0.attn.W_q.weight',
      'layers.0.attn.W_k.weight',
      'layers.0.attn.W_v.weight',
      'layers.0.attn.W_o.weight',
      'layers.0.ff.net.0.weight',
      'layers.0.ff.net.3.weight',
      'head.weight',
    ]
    expect(roles).toEqual({ 'embedding.weight': 'table', ...Object.fromEntries(dense.map((p) => [p, 'dense'])) })
  })

  it('leaves made by init itself carry no role (only the shape-only tree does)', () => {
    const p = miniGpt(c).init(key(0))
    expect([...T.flatten(p).values()].every((t) => T.roleOf(t) === undefined)).toBe(true)
    T.dispose(p)
  })

  it('the quantized file lists the matrices as stored (rows per output channel) and the rest as floats, in tree order', () => {
    const layout = quantFileLayout(miniGptShapes(c))
    expect(layout.matrices).toEqual([
      ['embedding.weight', 11, 8],
      ['layers.0.attn.W_q.weight', 8, 8],
      ['layers.0.attn.W_k.weight', 8, 8],
      ['layers.0.attn.W_v.weight', 8, 8],
      ['layers.0.attn.W_o.weight', 8, 8],
      ['layers.0.ff.net.0.weight', 40, 8],
      ['layers.0.ff.net.3.weight', 8, 40],
      ['head.weight', 11, 8],
    ])
    expect(layout.floats.map(([name]) => name)).toEqual([
      'layers.0.attn.W_q.bias',
      'layers.0.attn.W_k.bias',
      'layers.0.attn.W_v.bias',
      'layers.0.attn.W_o.bias',
      'layers.0.ff.net.0.bias',
      'layers.0.ff.net.3.bias',
      'layers.0.norm1.weight',
      'layers.0.norm1.bias',
      'layers.0.norm2.weight',
      'layers.0.norm2.bias',
      'norm.weight',
      'norm.bias',
      'head.bias',
    ])
  })
})

describe.each(['int8', 'q4'] as const)('quantize (%s)', (format) => {
  it('quantizes every matrix as its layer reads it, within each output channel’s bound, and keeps the rest float32', () => {
    const p = miniGpt(c).init(key(3))
    const shapes = miniGptShapes(c)
    const q = quantize(shapes, p, format)
    expect(quantizedFormat(q)).toBe(format)
    const deq = dequantize(shapes, q)
    expect(T.shapes(deq)).toEqual(T.shapes(p))
    const qLeaves = leavesByPath(q)
    for (const [path, x] of T.flatten(p)) {
      const ref = T.flatten(shapes).get(path) as tf.Tensor
      const got = T.flatten(deq).get(path)?.arraySync()
      const want = x.arraySync()
      const role = T.roleOf(ref)
      expect(isQuantized(qLeaves.get(path)), path).toBe(role !== undefined)
      if (role === undefined) {
        expect(got, path).toEqual(want)
        continue
      }
      // One output channel: a column of a dense weight [in, out], a row of a table [rows, dim].
      const w = want as number[][]
      const g = got as number[][]
      const channels = role === 'dense' ? w[0].length : w.length
      for (let o = 0; o < channels; o++) {
        const line = role === 'dense' ? w.map((r) => r[o]) : w[o]
        const back = role === 'dense' ? g.map((r) => r[o]) : g[o]
        // int8: scale/2 with scale = max|w|/127 over the channel; q4: |d| with |d| = m/8 per block of 32 (bounded by the channel's max).
        const bound = (format === 'int8' ? Math.max(...line.map(Math.abs)) / 254 : Math.max(...line.map(Math.abs)) / 8) * (1 + 1e-6) + 1e-7
        line.forEach((v, i) => expect(Math.abs(back[i] - v), `${path} channel ${o} entry ${i}`).toBeLessThanOrEqual(bound))
      }
    }
    T.dispose(deq)
    disposeQuantTree(q)
    T.dispose(p)
  })
})

describe('a matrix with no declared role', () => {
  it('is refused by path: nothing says how it is read', () => {
    const raw = {
      name: 'raw',
      init: () => ({ w: T.param([2, 3], () => Float32Array.from(normal(key(1), 6, 1))) }),
      apply: (_p: { readonly w: tf.Tensor2D }, x: tf.Tensor) => x,
    }
    const model = compose({ raw }, ({ raw }, x: tf.Tensor) => raw(x))
    const p = model.init(key(0))
    expect(() => quantize(T.shapesOf(model), p, 'int8')).toThrow("quantize: 'raw.w' is a matrix whose layer declares no role")
    T.dispose(p)
  })
})
