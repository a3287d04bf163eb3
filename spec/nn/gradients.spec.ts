/**
 * Gradients of every nn primitive against finite differences (cpu backend, float32), the
 * custom wasm-friendly gradients against tfjs's own, and forward values against hand
 * computations. See spec/helpers/gradcheck.ts for how the finite differences are made
 * robust in float32.
 */
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { geluErf, geluTanh, logSoftmax, softmax } from '../../src/nn/activation.js'
import { scaledDotProductAttention } from '../../src/nn/attention.js'
import { lookup, lookupTransposed } from '../../src/nn/embedding.js'
import { dense, matmul2d } from '../../src/nn/matmul.js'
import { normalize } from '../../src/nn/norm.js'
import { causalMask } from '../../src/mask/index.js'
import { crossEntropy } from '../../src/train/loss.js'
import { key, uniform } from '../../src/core/key.js'
import { agrees, describeCheck, directionalCheck, maxAbsDiff, randn, randu } from '../helpers/gradcheck.js'

beforeAll(async () => {
  await initBackend('cpu')
})

const RUNS = { numRuns: 15 }
const dim = (max: number) => fc.integer({ min: 1, max })
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 })

/** Integer ids in [0, n) drawn from a seed, as an int32 tensor of the given shape. */
const randomIds = (s: number, shape: readonly number[], n: number): tf.Tensor => {
  const size = shape.reduce((a, b) => a * b, 1)
  return tf.tensor(
    Array.from(uniform(key(s), size), (u) => Math.floor(u * n)),
    [...shape],
    'int32',
  )
}

const expectAgrees = (c: ReturnType<typeof directionalCheck>) => expect(agrees(c), describeCheck(c)).toBe(true)

describe('the gradient check itself', () => {
  it('detects a gradient that is 1% off', () => {
    // A custom gradient deliberately scaled by 1.01: the check must fail on it, or it proves nothing.
    const wrong = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x])
      return { value: tf.mul(x, x), gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => tf.mul(dy, tf.mul(sx, 2.02)) }
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor
    for (const s of [1, 2, 3]) {
      const x = randn(s, [4, 5])
      expect(agrees(directionalCheck(wrong, [x], s))).toBe(false)
      expect(agrees(directionalCheck((t) => tf.mul(t, t), [x], s))).toBe(true)
      x.dispose()
    }
  })

  it('detects a matmul gradient that forgets a transpose, in each of ten random directions', () => {
    const noTranspose = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x, y])
      return {
        value: tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D),
        gradFunc: (dy: tf.Tensor, [sx, sy]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, sy as tf.Tensor2D), tf.matMul(tf.transpose(sx), dy as tf.Tensor2D)],
      }
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor
    let caught = 0
    for (let s = 0; s < 10; s++) {
      const a = randn(100 + s, [4, 4])
      const b = randn(200 + s, [4, 4])
      if (!agrees(directionalCheck(noTranspose, [a, b], s))) caught++
      expect(agrees(directionalCheck((x, y) => matmul2d(x as tf.Tensor2D, y as tf.Tensor2D), [a, b], s))).toBe(true)
      tf.dispose([a, b])
    }
    expect(caught).toBe(10)
  })
})

describe('gradients agree with central finite differences', () => {
  test.prop([dim(6), dim(6), dim(6), seed], RUNS)('matmul2d', (m, k, n, s) => {
    const a = randn(s, [m, k])
    const b = randn(s + 1, [k, n])
    expectAgrees(directionalCheck((x, y) => matmul2d(x as tf.Tensor2D, y as tf.Tensor2D), [a, b], s))
    tf.dispose([a, b])
  })

  test.prop([fc.array(dim(4), { minLength: 1, maxLength: 2 }), dim(6), dim(6), fc.boolean(), seed], RUNS)(
    'dense on rank 2 and rank 3 inputs, with and without bias',
    (lead, inDim, outDim, withBias, s) => {
      const x = randn(s, [...lead, inDim])
      const w = randn(s + 1, [inDim, outDim])
      const b = randn(s + 2, [outDim])
      const c = withBias
        ? directionalCheck((xx, ww, bb) => dense(xx, ww as tf.Tensor2D, bb as tf.Tensor1D), [x, w, b], s)
        : directionalCheck((xx, ww) => dense(xx, ww as tf.Tensor2D), [x, w], s)
      expectAgrees(c)
      tf.dispose([x, w, b])
    },
  )

  test.prop([dim(8), dim(5), fc.array(dim(4), { minLength: 1, maxLength: 2 }), seed], RUNS)('lookup (embedding) without padding', (vocab, d, idsShape, s) => {
    const table = randn(s, [vocab, d])
    const ids = randomIds(s + 1, idsShape, vocab)
    expectAgrees(directionalCheck((t) => lookup(t as tf.Tensor2D, ids), [table], s))
    tf.dispose([table, ids])
  })

  test.prop([fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 8 }), seed], RUNS)('normalize (layerNorm) in x, weight and bias', (rows, d, s) => {
    // Rows spread over [-2, 2] plus noise (σ 0.3): a row of nearly equal values has variance
    // ≈ eps, where the normalisation bends on a scale far below any usable difference step,
    // so such rows are kept out.
    const x = tf.tidy(() => tf.add(randn(s, [rows, d], 0.3), tf.linspace(-2, 2, d)))
    const w = randn(s + 1, [d])
    const b = randn(s + 2, [d])
    expectAgrees(directionalCheck((xx, ww, bb) => normalize(xx, ww as tf.Tensor1D, bb as tf.Tensor1D), [x, w, b], s))
    tf.dispose([x, w, b])
  })

  test.prop([fc.array(dim(5), { minLength: 1, maxLength: 3 }), seed], RUNS)('geluErf on [-3, 3]', (shape, s) => {
    // Beyond about -3, 1 + erf/tanh(…) cancels to a few float32 ulps: gradients there are noise.
    const x = randu(s, shape, -3, 3)
    expectAgrees(directionalCheck(geluErf, [x], s))
    x.dispose()
  })

  test.prop([fc.array(dim(5), { minLength: 1, maxLength: 3 }), seed], RUNS)('geluTanh on [-3, 3]', (shape, s) => {
    // Beyond about -3, 1 + erf/tanh(…) cancels to a few float32 ulps: gradients there are noise.
    const x = randu(s, shape, -3, 3)
    expectAgrees(directionalCheck(geluTanh, [x], s))
    x.dispose()
  })

  test.prop([fc.array(dim(6), { minLength: 1, maxLength: 3 }), seed], RUNS)('softmax', (shape, s) => {
    const x = randn(s, shape, 2)
    expectAgrees(directionalCheck(softmax, [x], s))
    x.dispose()
  })

  test.prop([fc.array(dim(6), { minLength: 1, maxLength: 3 }), seed], RUNS)('logSoftmax', (shape, s) => {
    const x = randn(s, shape, 2)
    expectAgrees(directionalCheck(logSoftmax, [x], s))
    x.dispose()
  })

  test.prop([dim(2), dim(2), dim(5), fc.integer({ min: 0, max: 3 }), dim(4), seed], RUNS)(
    'scaledDotProductAttention with a causal mask (queries ≤ keys, as with a cache)',
    (b, h, tq, extra, d, s) => {
      const tk = tq + extra
      const q = randn(s, [b, h, tq, d])
      const k = randn(s + 1, [b, h, tk, d])
      const v = randn(s + 2, [b, h, tk, d])
      const mask = causalMask(tq, tk)
      expectAgrees(directionalCheck((qq, kk, vv) => scaledDotProductAttention(qq, kk, vv, mask).output, [q, k, v], s))
      tf.dispose([q, k, v, mask])
    },
  )

  test.prop([dim(3), dim(5), fc.integer({ min: 2, max: 7 }), seed], RUNS)('crossEntropy with ignored targets', (b, t, vocab, s) => {
    const logits = randn(s, [b, t, vocab], 2)
    // Targets in [0, vocab); those equal to 0 (the PAD id, as in the seed) are ignored.
    const targets = randomIds(s + 1, [b, t], vocab)
    expectAgrees(directionalCheck((l) => crossEntropy(l, targets, 0), [logits], s))
    tf.dispose([logits, targets])
  })
})

describe('padding row of an embedding', () => {
  test.prop([fc.integer({ min: 2, max: 8 }), dim(5), dim(12), seed], RUNS)('gets exactly zero gradient; every other row gets the true gradient', (vocab, d, n, s) => {
    tf.tidy(() => {
      const pad = s % vocab
      const table = randn(s, [vocab, d])
      // Make sure the padding id occurs at least once.
      const ids = tf.concat([tf.tensor1d([pad], 'int32'), randomIds(s + 1, [n], vocab)]) as tf.Tensor1D
      const dy = randn(s + 2, [n + 1, d])
      const withPad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lookup(t as tf.Tensor2D, ids, pad), dy)))(table)
      const reference = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), dy)))(table)
      const g = withPad.arraySync() as number[][]
      const r = reference.arraySync() as number[][]
      expect(
        g[pad].every((x) => x === 0),
        `padding row ${g[pad]}`,
      ).toBe(true)
      expect(r[pad].some((x) => x !== 0)).toBe(true) // the true gradient is not zero there
      for (let i = 0; i < vocab; i++) if (i !== pad) for (let j = 0; j < d; j++) expect(Math.abs(g[i][j] - r[i][j])).toBeLessThan(1e-5)
    })
  })
})

describe('custom gradients equal tfjs’s own', () => {
  test.prop([dim(7), dim(7), dim(7), seed], RUNS)('matmul2d vs tf.matMul', (m, k, n, s) => {
    tf.tidy(() => {
      const a = randn(s, [m, k])
      const b = randn(s + 1, [k, n])
      const dy = randn(s + 2, [m, n])
      const mine = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matmul2d(x as tf.Tensor2D, y as tf.Tensor2D), dy)))([a, b])
      const theirs = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), dy)))([a, b])
      expect(maxAbsDiff(tf.matMul(a, b), matmul2d(a as tf.Tensor2D, b as tf.Tensor2D))).toBeLessThan(1e-5)
      expect(maxAbsDiff(mine[0], theirs[0])).toBeLessThan(1e-5)
      expect(maxAbsDiff(mine[1], theirs[1])).toBeLessThan(1e-5)
    })
  })

  test.prop([dim(3), dim(4), dim(6), dim(6), seed], RUNS)('dense (rank 3, with bias) vs reshape·tf.matMul + bias', (b, t, i, o, s) => {
    tf.tidy(() => {
      const x = randn(s, [b, t, i])
      const w = randn(s + 1, [i, o])
      const bias = randn(s + 2, [o])
      const dy = randn(s + 3, [b, t, o])
      const ref = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.add(tf.reshape(tf.matMul(tf.reshape(xx, [b * t, i]) as tf.Tensor2D, ww as tf.Tensor2D), [b, t, o]), bb)
      const mine = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(dense(xx, ww as tf.Tensor2D, bb as tf.Tensor1D), dy)))([x, w, bias])
      const theirs = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ref(xx, ww, bb), dy)))([x, w, bias])
      expect(maxAbsDiff(dense(x, w as tf.Tensor2D, bias as tf.Tensor1D), ref(x, w, bias))).toBeLessThan(1e-5)
      for (let j = 0; j < 3; j++) expect(maxAbsDiff(mine[j], theirs[j])).toBeLessThan(1e-5)
    })
  })

  test.prop([dim(9), dim(5), dim(4), dim(4), seed], RUNS)('lookup vs tf.gather', (vocab, d, b, t, s) => {
    tf.tidy(() => {
      const table = randn(s, [vocab, d])
      const ids = randomIds(s + 1, [b, t], vocab)
      const dy = randn(s + 2, [b, t, d])
      const mine = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(lookup(w as tf.Tensor2D, ids), dy)))(table)
      const theirs = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids), dy)))(table)
      expect(maxAbsDiff(lookup(table as tf.Tensor2D, ids), tf.gather(table, ids))).toBe(0)
      expect(maxAbsDiff(mine, theirs)).toBeLessThan(1e-5)
    })
  })
  test.prop([dim(9), dim(5), dim(4), dim(4), seed], RUNS)('lookupTransposed (a table given as its transpose) vs lookup, values and gradient', (vocab, d, b, t, s) => {
    tf.tidy(() => {
      const table = randn(s, [vocab, d])
      const tableT = tf.transpose(table)
      const ids = randomIds(s + 1, [b, t], vocab)
      const dy = randn(s + 2, [b, t, d])
      expect(maxAbsDiff(lookupTransposed(tableT as tf.Tensor2D, ids), lookup(table as tf.Tensor2D, ids))).toBe(0)
      const mine = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(lookupTransposed(w as tf.Tensor2D, ids), dy)))(tableT)
      const theirs = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids, 1), tf.transpose(dy, [2, 0, 1]))))(tableT)
      expect(maxAbsDiff(mine, theirs)).toBeLessThan(1e-5)
    })
  })
})

describe('on wasm (SIMD transposes in the product gradients, the scatter-add embedding gradient), the gradients equal tfjs’s own on cpu', () => {
  /** f's value and gradients (as nested arrays) for the inputs made by `make`, on a backend. */
  const on = async (backend: string, make: () => tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor) => {
    await initBackend(backend)
    return tf.tidy(() => {
      const xs = make()
      const w = randn(777, f(...xs).shape)
      const grads = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), w)))(xs)
      return [f(...xs), ...grads].map((t) => Array.from(t.dataSync()))
    })
  }
  const close = (got: number[][], want: number[][]) =>
    got.forEach((g, i) => {
      const scale = Math.max(1, ...want[i].map(Math.abs))
      g.forEach((x, j) => expect(Math.abs(x - want[i][j]) / scale).toBeLessThan(1e-5))
    })

  afterAll(async () => {
    await initBackend('cpu')
  })

  // Small row counts against wide weights take the (b·dyᵀ)ᵀ form, the others dy·bᵀ; 48 rows or
  // more run gemm.wat's product (transposed operands read in place).
  test.prop([fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.boolean(), seed], RUNS)(
    'matmul2d and dense vs tf.matMul (+ bias)',
    async (m, k, n, withBias, s) => {
      const make = () => [randn(s, [m, k]), randn(s + 1, [k, n]), randn(s + 2, [n])]
      const mine = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        withBias ? dense(a as tf.Tensor2D, b as tf.Tensor2D, c as tf.Tensor1D) : tf.add(matmul2d(a as tf.Tensor2D, b as tf.Tensor2D), tf.mul(c, 0))
      const theirs = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), withBias ? c : tf.mul(c, 0))
      close(await on('wasm', make, mine), await on('cpu', make, theirs))
    },
  )

  test.prop([fc.integer({ min: 1, max: 300 }), dim(12), dim(4), dim(9), fc.boolean(), seed], RUNS)(
    'lookup (with and without a padding row) vs tf.gather',
    async (vocab, d, b, t, withPad, s) => {
      const pad = withPad ? s % vocab : undefined
      const make = () => [randn(s, [vocab, d])]
      const ids = () => randomIds(s + 1, [b, t], vocab)
      const mine = (table: tf.Tensor) => lookup(table as tf.Tensor2D, ids(), pad)
      // The padding row's gradient is zero by definition: its rows come from a constant copy of the table.
      const theirs = (table: tf.Tensor) => {
        const i = ids()
        const g = tf.gather(table, i)
        if (pad === undefined) return g
        const keep = tf.expandDims(tf.cast(tf.notEqual(i, pad), 'float32'), -1)
        const constant = tf.gather(tf.tensor(table.dataSync(), table.shape), i)
        return tf.add(tf.mul(g, keep), tf.mul(constant, tf.sub(1, keep)))
      }
      close(await on('wasm', make, mine), await on('cpu', make, theirs))
    },
  )
})

describe('forward values by hand', () => {
  const values = (t: tf.Tensor) => Array.from(t.dataSync())

  it('gelu (erf): Φ(x)·x at 1, -1, 2 and 0', () => {
    const y = values(geluErf(tf.tensor1d([1, -1, 2, 0])))
    // 0.5·x·(1 + erf(x/√2)) with erf(1/√2) = 0.6826895, erf(√2) = 0.9544997.
    ;[0.8413447, -0.1586553, 1.9544997, 0].forEach((e, i) => expect(y[i]).toBeCloseTo(e, 6))
  })

  it('gelu (tanh) at 1 and -1', () => {
    const y = values(geluTanh(tf.tensor1d([1, -1])))
    const g = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
    expect(y[0]).toBeCloseTo(0.841192, 6)
    expect(y[0]).toBeCloseTo(g(1), 6)
    expect(y[1]).toBeCloseTo(g(-1), 6)
  })

  it('layerNorm of [1, 2, 3] is [-1.2247, 0, 1.2247] (biased variance 2/3, eps 1e-5)', () => {
    const y = values(normalize(tf.tensor2d([[1, 2, 3]]), tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D))
    const s = 1 / Math.sqrt(2 / 3 + 1e-5)
    expect(y[0]).toBeCloseTo(-s, 5)
    expect(y[1]).toBeCloseTo(0, 6)
    expect(y[2]).toBeCloseTo(s, 5)
    expect(y[2]).toBeCloseTo(1.2247, 4)
  })

  it('layerNorm scales and shifts', () => {
    const y = values(normalize(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([2, 3, 4]), tf.tensor1d([1, 1, 1])))
    const s = 1 / Math.sqrt(2 / 3 + 1e-5)
    ;[1 - 2 * s, 1, 1 + 4 * s].forEach((e, i) => expect(y[i]).toBeCloseTo(e, 5))
  })

  it('softmax and logSoftmax of [1, 2, 3]', () => {
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3)
    const p = values(softmax(tf.tensor1d([1, 2, 3])))
    const lp = values(logSoftmax(tf.tensor1d([1, 2, 3])))
    ;[1, 2, 3].forEach((x, i) => {
      expect(p[i]).toBeCloseTo(Math.exp(x) / z, 6)
      expect(lp[i]).toBeCloseTo(x - Math.log(z), 6)
    })
  })

  it('attention of one query over two keys', () => {
    // q·k / √2: scores [1/√2, 0] → weights softmax → output = Σ w·v.
    const q = tf.tensor3d([[[1, 0]]])
    const k = tf.tensor3d([
      [
        [1, 0],
        [0, 1],
      ],
    ])
    const v = tf.tensor3d([
      [
        [10, 0],
        [0, 20],
      ],
    ])
    const { output, weights } = scaledDotProductAttention(q, k, v, undefined, true)
    const a = Math.exp(1 / Math.SQRT2)
    const w0 = a / (a + 1)
    expect(values(weights!)[0]).toBeCloseTo(w0, 6)
    const o = values(output)
    expect(o[0]).toBeCloseTo(10 * w0, 5)
    expect(o[1]).toBeCloseTo(20 * (1 - w0), 5)
  })

  it('dense with bias', () => {
    const y = values(
      dense(
        tf.tensor2d([[1, 2]]),
        tf.tensor2d([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        tf.tensor1d([0.5, 0, -1]),
      ),
    )
    expect(y).toEqual([9.5, 12, 14])
  })
})
