/**
 * The training kernels (src/backend/simd/train.wat): the committed bytes are the assembly of the
 * committed text, and each kernel equals the tfjs ops it replaces, in values and in gradients,
 * leaving no tensors behind.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { ATTENTION, sequenceAttention } from '../../src/backend/simd/attention-train.js'
import { columnSumsKernel, scatterAddRowsKernel } from '../../src/backend/simd/row-sums.js'
import { crossEntropyKernel } from '../../src/backend/simd/cross-entropy.js'
import { dropoutKernel } from '../../src/backend/simd/dropout-mask.js'
import { geluErfKernel, geluErfWithGradKernel } from '../../src/backend/simd/gelu-erf.js'
import { geluTanhKernel, geluTanhWithGradKernel } from '../../src/backend/simd/gelu-tanh.js'
import { layerNormKernel } from '../../src/backend/simd/layer-norm.js'
import { layerNormWithGradKernel } from '../../src/backend/simd/layer-norm-grad.js'
import { TRAIN_WASM_BASE64 } from '../../src/backend/simd/train-wasm.js'
import { key, normal, uniform } from '../../src/core/key.js'
import { causalMask } from '../../src/mask/index.js'
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../../src/nn/attention.js'
import { dropoutOp } from '../../src/nn/dropout.js'
import { training } from '../../src/core/layer.js'
import { nllSum } from '../../src/train/loss.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source } from '../../scripts/kernels.mjs'

describe('the training kernels module', () => {
  it('is the assembly of train.wat (run `npm run kernels` after editing it)', async () => {
    const wat = 'src/backend/simd/train.wat'
    const bytes: Buffer = await assemble(readFileSync(wat, 'utf8'), wat)
    expect(Buffer.from(TRAIN_WASM_BASE64, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync('src/backend/simd/train-wasm.ts', 'utf8')).toBe(source(bytes, 'train.wat', 'TRAIN_WASM_BASE64'))
  })
})

describe('dropoutKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 3 }), fc.constantFrom(0.1, 0.5, 0.9, 0.01), fc.integer({ min: 0, max: 2 ** 32 - 1 })], {
    numRuns: 60,
  })("draws tf.randomUniform's mask bit for bit and applies it as the ops do", (shape, rate, seed) => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 7)
    const before = tf.memory().numTensors
    const got = dropoutKernel(x, rate, seed)!
    const [mask, want] = tf.tidy(() => {
      const m = tf.mul(tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), rate), 'float32'), 1 / (1 - rate))
      return [m, tf.mul(x, m)]
    })
    expect(Array.from(got.mask.dataSync())).toEqual(Array.from(mask.dataSync()))
    expect(Array.from(got.output.dataSync())).toEqual(Array.from(want.dataSync()))
    tf.dispose([got.output, got.mask, mask, want])
    expect(tf.memory().numTensors).toBe(before)
    x.dispose()
  })
})

const randn = (seed: number, shape: number[], scale = 1) =>
  tf.tensor(
    normal(
      key(seed),
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  )

/** Every element of `got` within atol + rtol·|want| of `want` (same shape). */
const expectClose = (got: tf.Tensor, want: tf.Tensor, atol: number, rtol: number, what = '') => {
  expect(got.shape, what).toEqual(want.shape)
  const g = got.dataSync()
  const w = want.dataSync()
  for (let i = 0; i < w.length; i++) if (!(Math.abs(g[i] - w[i]) <= atol + rtol * Math.abs(w[i]))) expect(g[i], `${what}[${i}]`).toBe(w[i])
}

/** The value of `f` and its gradients with respect to every input, of Σ f(xs)·w for a fixed random cotangent w. */
const valueAndGrads = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed: number): tf.Tensor[] =>
  tf.tidy(() => {
    const value = f(...xs)
    const w = randn(seed, value.shape)
    const grads = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), w)))(xs)
    return [value, ...grads]
  })

describe('sequenceAttention', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  /** The same attention by tfjs ops: heads split, scaledDotProductAttention (which runs ops with a mask, or more than one query), heads merged. */
  const byOps = (heads: number, mask?: tf.Tensor, dropWeights?: (w: tf.Tensor) => tf.Tensor) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    mergeHeads(
      scaledDotProductAttention(
        splitHeads(q, heads),
        splitHeads(k, heads),
        splitHeads(v, heads),
        mask ?? tf.zeros([q.shape[1] as number, q.shape[1] as number]),
        false,
        dropWeights,
      ).output as tf.Tensor4D,
    )

  const masks = {
    none: () => undefined,
    causal: (t: number) => causalMask(t, t),
    // an additive mask of finite values and -Infinity, the diagonal always allowed
    random: (t: number, seed: number) =>
      tf.tensor2d(
        Array.from(normal(key(seed), t * t, 1), (x, i) => (i % (t + 1) === 0 ? x : x > 1 ? -Infinity : x)),
        [t, t],
      ),
  }

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(4, 8, 12, 16, 64),
      fc.constantFrom('none' as const, 'causal' as const, 'random' as const),
      fc.constantFrom(0.3, 1, 3),
      fc.constantFrom(0, 0.1, 0.5),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 40 },
  )('equals dropout(softmax(QKᵀ/√d + mask))·V per head by tfjs ops, in value and in the gradients of q, k and v', (b, t, heads, d, maskKind, scale, rate, seed) => {
    const e = heads * d
    const [q, k, v] = [0, 1, 2].map((i) => randn(seed + i, [b, t, e], scale)) as tf.Tensor3D[]
    const mask = masks[maskKind](t, seed + 3)
    // dropout on the probabilities, its mask from a key (GPT-2's attn_pdrop); none at rate 0
    const drop = rate === 0 ? undefined : (w: tf.Tensor) => dropoutOp(w, rate, training(key(seed + 5)))
    const before = tf.memory().numTensors
    const got = valueAndGrads((qi, ki, vi) => sequenceAttention(qi as tf.Tensor3D, ki as tf.Tensor3D, vi as tf.Tensor3D, heads, mask, drop) as tf.Tensor, [q, k, v], seed + 4)
    expect(tf.memory().numTensors).toBe(before + 4)
    const want = valueAndGrads(byOps(heads, mask, drop), [q, k, v], seed + 4)
    const tol = (2e-6 * Math.max(1, scale * scale)) / (1 - rate)
    ;['value', 'dq', 'dk', 'dv'].forEach((what, i) => expectClose(got[i], want[i], 4 * tol, tol, what))
    // and without a gradient recorded (the forward pass alone, weights not kept)
    const plain = sequenceAttention(q, k, v, heads, mask, drop) as tf.Tensor
    expect(Array.from(plain.dataSync())).toEqual(Array.from(got[0].dataSync()))
    tf.dispose([...got, ...want, plain])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([q, k, v, ...(mask === undefined ? [] : [mask])])
  })

  /**
   * The kernel itself (MinigptAttention) on the inputs sequenceAttention gives it: q, k, v, an
   * additive mask [T, T] or none, a dropout mask of P's shape or none, P kept or not.
   */
  const runAttention = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, mask: tf.Tensor | undefined, drop: tf.Tensor | undefined, keepProbs: boolean) =>
    tf.engine().runKernel(ATTENTION, { q, k, v, ...(mask === undefined ? {} : { mask }), ...(drop === undefined ? {} : { drop }) }, {
      heads,
      scale: 1 / Math.sqrt((q.shape[2] as number) / heads),
      keepProbs,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[]

  /** P = softmax(QKᵀ/√d + mask) [batch, heads, T, T] and (P ⊙ drop)·V [batch, T, heads·d] by tfjs ops. */
  const probsAndOutByOps = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, mask: tf.Tensor | undefined, drop: tf.Tensor | undefined) =>
    tf.tidy(() => {
      const scores = tf.mul(tf.matMul(splitHeads(q, heads), splitHeads(k, heads), false, true), 1 / Math.sqrt((q.shape[2] as number) / heads))
      const p = tf.softmax(mask === undefined ? scores : tf.add(scores, mask))
      return [p, mergeHeads(tf.matMul(drop === undefined ? p : tf.mul(p, drop), splitHeads(v, heads)) as tf.Tensor4D)]
    })

  const rowMasks = {
    ...masks,
    // each query sees itself and the w keys before it: whole groups of four keys hidden before the
    // first one a row sees as well as after its last
    window: (t: number, seed: number) =>
      tf.tensor2d(
        Array.from({ length: t * t }, (_, i) => {
          const [r, c] = [Math.floor(i / t), i % t]
          return c <= r && c >= r - 1 - (seed % 6) ? 0 : -Infinity
        }),
        [t, t],
      ),
  }

  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      // T below 4 (the one-row code alone), and every remainder mod 4 over several groups of four rows
      fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 40 })),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(4, 8, 12, 16, 64),
      fc.constantFrom('none' as const, 'causal' as const, 'random' as const, 'window' as const),
      fc.boolean(),
      fc.constantFrom(0, 0.1, 0.5),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 60 },
  )(
    'four query rows at a time and the rest one at a time equal P = softmax(QKᵀ/√d + mask) and (P ⊙ drop)·V by tfjs ops, P kept or not',
    (b, t, heads, d, maskKind, keepProbs, rate, seed) => {
      const e = heads * d
      const [q, k, v] = [0, 1, 2].map((i) => randn(seed + i, [b, t, e])) as tf.Tensor3D[]
      const mask = rowMasks[maskKind](t, seed + 3)
      // a dropout mask of P's shape: 0 or 1/(1 − rate)
      const drop =
        rate === 0
          ? undefined
          : tf.tensor4d(
              Array.from(uniform(key(seed + 5), b * heads * t * t), (u) => (u < rate ? 0 : 1 / (1 - rate))),
              [b, heads, t, t],
            )
      const before = tf.memory().numTensors
      const got = runAttention(q, k, v, heads, mask, drop, keepProbs)
      expect(got.length).toBe(keepProbs ? 2 : 1)
      expect(tf.memory().numTensors).toBe(before + got.length)
      const [wantP, wantOut] = probsAndOutByOps(q, k, v, heads, mask, drop)
      const tol = 2e-6 / (1 - rate)
      expectClose(got[0], wantOut, 4 * tol, tol, 'out')
      if (keepProbs) expectClose(got[1], wantP, 4e-7, 2e-6, 'P')
      // the output does not depend on whether P is kept
      const other = runAttention(q, k, v, heads, mask, drop, !keepProbs)
      expect(Array.from(other[0].dataSync())).toEqual(Array.from(got[0].dataSync()))
      tf.dispose([...got, ...other, wantP, wantOut])
      expect(tf.memory().numTensors).toBe(before)
      tf.dispose([q, k, v, ...(mask === undefined ? [] : [mask]), ...(drop === undefined ? [] : [drop])])
    },
  )

  test.prop(
    [
      fc.integer({ min: 1, max: 2 }),
      // several groups of four query rows and of four key rows, every remainder mod 4
      fc.integer({ min: 13, max: 40 }),
      fc.integer({ min: 1, max: 3 }),
      fc.constantFrom(4, 8, 16, 64),
      fc.constantFrom('none' as const, 'causal' as const, 'random' as const, 'window' as const),
      fc.constantFrom(0, 0.1),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 20 },
  )('over longer sequences: the gradients of q, k and v equal those of the tfjs ops, with or without a dropout mask', (b, t, heads, d, maskKind, rate, seed) => {
    const [q, k, v] = [0, 1, 2].map((i) => randn(seed + i, [b, t, heads * d])) as tf.Tensor3D[]
    const mask = rowMasks[maskKind](t, seed + 3)
    const drop = rate === 0 ? undefined : (w: tf.Tensor) => dropoutOp(w, rate, training(key(seed + 5)))
    const before = tf.memory().numTensors
    const got = valueAndGrads((qi, ki, vi) => sequenceAttention(qi as tf.Tensor3D, ki as tf.Tensor3D, vi as tf.Tensor3D, heads, mask, drop) as tf.Tensor, [q, k, v], seed + 4)
    expect(tf.memory().numTensors).toBe(before + 4)
    const want = valueAndGrads(byOps(heads, mask, drop), [q, k, v], seed + 4)
    const tol = 2e-6 / (1 - rate)
    ;['value', 'dq', 'dk', 'dv'].forEach((what, i) => expectClose(got[i], want[i], 4 * tol, tol, what))
    tf.dispose([...got, ...want])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([q, k, v, ...(mask === undefined ? [] : [mask])])
  })

  it('gives a query that sees no key zero weights and a zero output, one row at a time or four', () => {
    // T = 6: rows 0 and 1 one at a time, rows 2 … 5 four at a time; rows 1 and 4 see no key
    const [b, t, heads, d] = [2, 6, 2, 4]
    const [q, k, v] = [0, 1, 2].map((i) => randn(40 + i, [b, t, heads * d])) as tf.Tensor3D[]
    const hidden = [1, 4]
    const mask = tf.tensor2d(
      Array.from({ length: t * t }, (_, i) => (hidden.includes(Math.floor(i / t)) || i % t > Math.floor(i / t) ? -Infinity : 0)),
      [t, t],
    )
    const before = tf.memory().numTensors
    const [out, probs] = runAttention(q, k, v, heads, mask, undefined, true)
    const [wantP, wantOut] = probsAndOutByOps(q, k, v, heads, mask, undefined)
    const [o, p, wo, wp] = [out, probs, wantOut, wantP].map((x) => x.arraySync()) as [number[][][], number[][][][], number[][][], number[][][][]]
    for (let s = 0; s < b; s++)
      for (let r = 0; r < t; r++) {
        const blind = hidden.includes(r)
        for (let h = 0; h < heads; h++) {
          if (blind) expect(p[s][h][r]).toEqual(new Array(t).fill(0))
          else p[s][h][r].forEach((x, c) => expect(Math.abs(x - wp[s][h][r][c])).toBeLessThanOrEqual(1e-6))
        }
        if (blind) expect(o[s][r]).toEqual(new Array(heads * d).fill(0))
        else o[s][r].forEach((x, c) => expect(Math.abs(x - wo[s][r][c])).toBeLessThanOrEqual(1e-5))
      }
    tf.dispose([out, probs, wantP, wantOut])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([q, k, v, mask])
  })

  it('declines a head size that is not a multiple of 4, a mask of another shape, and another backend', async () => {
    const x = tf.zeros([2, 3, 16]) as tf.Tensor3D
    const fits = sequenceAttention(x, x, x, 2) // d = 8
    expect(fits?.shape).toEqual([2, 3, 16])
    expect(sequenceAttention(x, x, x, 8)).toBeUndefined() // d = 2
    const batchMask = tf.zeros([2, 1, 3, 3])
    expect(sequenceAttention(x, x, x, 2, batchMask)).toBeUndefined()
    tf.dispose([x, fits as tf.Tensor, batchMask])
    await initBackend('cpu')
    const c = tf.zeros([2, 3, 12]) as tf.Tensor3D
    expect(sequenceAttention(c, c, c, 2)).toBeUndefined()
    c.dispose()
    await initBackend('wasm')
  })
})

describe('layerNormWithGradKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  /** LayerNorm by tfjs ops: mean, centred, biased variance, rsqrt, scale, shift. */
  const byOps = (eps: number) => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
    const centred = tf.sub(x, tf.mean(x, -1, true))
    const variance = tf.mean(tf.square(centred), -1, true)
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), w), b)
  }

  test.prop(
    [
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 0, maxLength: 2 }),
      fc.constantFrom(4, 8, 64, 68),
      fc.constantFrom(1e-5, 1e-3),
      fc.constantFrom(0.1, 1, 30),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 40 },
  )('equals LayerNorm by tfjs ops in value and in the gradients of x, weight and bias', (lead, d, eps, scale, seed) => {
    const x = tf.add(randn(seed, [...lead, d], scale), scale)
    const w = randn(seed + 1, [d]) as tf.Tensor1D
    const b = randn(seed + 2, [d]) as tf.Tensor1D
    const before = tf.memory().numTensors
    const got = valueAndGrads((xi, wi, bi) => layerNormWithGradKernel(xi, wi as tf.Tensor1D, bi as tf.Tensor1D, eps) as tf.Tensor, [x, w, b], seed + 3)
    expect(tf.memory().numTensors).toBe(before + 4)
    const want = valueAndGrads(byOps(eps), [x, w, b], seed + 3)
    const rows = x.size / d
    expectClose(got[0], want[0], 2e-5, 2e-5, 'value')
    expectClose(got[1], want[1], 2e-4 / Math.min(1, scale), 2e-4, 'dx')
    expectClose(got[2], want[2], 2e-5 * rows, 2e-5, 'dweight')
    expectClose(got[3], want[3], 2e-5 * rows, 2e-5, 'dbias')
    // the forward value is the inference kernel's, to the bit (a rematerialised block relies on it)
    const untaped = layerNormKernel(x, w, b, eps) as tf.Tensor
    expect(Array.from(untaped.dataSync())).toEqual(Array.from(got[0].dataSync()))
    tf.dispose([...got, ...want, untaped])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([x, w, b])
  })

  it('declines a last axis that is not a multiple of 4, a weight of another size, and another backend', async () => {
    const x = tf.zeros([2, 6])
    const w = tf.ones([6]) as tf.Tensor1D
    expect(layerNormWithGradKernel(x, w, w, 1e-5)).toBeUndefined()
    const x8 = tf.zeros([2, 8])
    expect(layerNormWithGradKernel(x8, w, w, 1e-5)).toBeUndefined()
    tf.dispose([x, w, x8])
    await initBackend('cpu')
    const c = tf.zeros([2, 4])
    const cw = tf.ones([4]) as tf.Tensor1D
    expect(layerNormWithGradKernel(c, cw, cw, 1e-5)).toBeUndefined()
    tf.dispose([c, cw])
    await initBackend('wasm')
  })
})

// gelu_new by the ops of its definition, ½x(1 + tanh(√(2/π)(x + 0.044715x³))): tfjs differentiates them
const geluTanhByOps = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI))), 1))

describe.each([
  {
    form: 'erf: ½x(1 + erf(x/√2))',
    withGrad: geluErfWithGradKernel,
    untaped: geluErfKernel,
    byOps: (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
    tol: { value: 1e-6, dx: 2e-6 },
  },
  { form: "tanh: gelu_new's definition", withGrad: geluTanhWithGradKernel, untaped: geluTanhKernel, byOps: geluTanhByOps, tol: { value: 2e-6, dx: 4e-6 } },
])('GELU ($form) with its derivative, by the kernel', ({ withGrad, untaped, byOps, tol }) => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }), fc.constantFrom(0.1, 1, 4), fc.integer({ min: 0, max: 10_000 })], { numRuns: 40 })(
    'equals the tfjs ops in value and gradient (lengths not multiples of 4 included)',
    (shape, scale, seed) => {
      const x = randn(seed, shape, scale)
      const before = tf.memory().numTensors
      const got = valueAndGrads((xi) => withGrad(xi) as tf.Tensor, [x], seed + 1)
      expect(tf.memory().numTensors).toBe(before + 2)
      const want = valueAndGrads(byOps, [x], seed + 1)
      expectClose(got[0], want[0], tol.value, tol.value, 'value')
      expectClose(got[1], want[1], tol.dx, tol.dx, 'dx')
      // the forward value is the inference kernel's, to the bit (a rematerialised block relies on it)
      const plain = untaped(x) as tf.Tensor
      expect(Array.from(plain.dataSync())).toEqual(Array.from(got[0].dataSync()))
      tf.dispose([...got, ...want, plain])
      expect(tf.memory().numTensors).toBe(before)
      x.dispose()
    },
  )

  it('declines integer tensors and other backends', async () => {
    const ints = tf.tensor1d([1, 2], 'int32')
    expect(withGrad(ints)).toBeUndefined()
    ints.dispose()
    await initBackend('cpu')
    const c = tf.tensor1d([1, 2, 3])
    expect(withGrad(c)).toBeUndefined()
    c.dispose()
    await initBackend('wasm')
  })
})

describe('the GELU derivatives against float64', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('erf form: within 1e-6 of Φ(x) + x·φ(x) over [-10, 10]', () => {
    const xs = Float32Array.from({ length: 4001 }, (_, i) => -10 + i * 0.005)
    const x = tf.tensor1d(xs)
    const [dx] = tf.grads((xi: tf.Tensor) => tf.sum(geluErfWithGradKernel(xi) as tf.Tensor))([x])
    const got = dx.dataSync()
    xs.forEach((v, i) => {
      const cdf = 0.5 * (1 + erf64(v / Math.SQRT2))
      const pdf = Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI)
      expect(Math.abs(got[i] - (cdf + v * pdf)), `x = ${v}`).toBeLessThan(1e-6)
    })
    tf.dispose([x, dx])
  })

  it('tanh form: within 1e-6 over [-10, 10], across chunks of the kernel pool', () => {
    // 4,001 points tiled 8 times: 32,008 values, several 1,024-value chunks and a tail of 0 mod 4
    const xs = Float32Array.from({ length: 8 * 4001 }, (_, i) => -10 + (i % 4001) * 0.005)
    const x = tf.tensor1d(xs)
    const [dx] = tf.grads((xi: tf.Tensor) => tf.sum(geluTanhWithGradKernel(xi) as tf.Tensor))([x])
    const got = dx.dataSync()
    const c = Math.sqrt(2 / Math.PI)
    xs.forEach((v, i) => {
      const th = Math.tanh(c * (v + 0.044715 * v ** 3))
      const want = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * c * (1 + 3 * 0.044715 * v * v)
      expect(Math.abs(got[i] - want), `x = ${v}`).toBeLessThan(1e-6)
    })
    tf.dispose([x, dx])
  })
})

/** erf in float64 (series below 3, continued fraction above). */
const erf64 = (x: number): number => {
  const z = Math.abs(x)
  let r: number
  if (z < 3) {
    let term = z
    let sum = z
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
      term *= (-z * z) / n
      sum += term / (2 * n + 1)
    }
    r = (2 / Math.sqrt(Math.PI)) * sum
  } else {
    let f = 0
    for (let n = 60; n >= 1; n--) f = n / 2 / (z + f)
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f)
  }
  return x < 0 ? -r : r
}

describe('crossEntropyKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  /** The mean over non-ignored targets by tfjs ops (train/loss.ts's nllSum). */
  const byOps = (targets: tf.Tensor, ignore: number) => (logits: tf.Tensor) => {
    const { sum, count } = nllSum(logits, targets, ignore)
    return tf.div(sum, tf.maximum(count, 1))
  }

  test.prop(
    [
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 90 }),
      fc.constantFrom(0.1, 1, 10),
      fc.constantFrom(-100, 0, 2),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 50 },
  )('equals the mean NLL of log-softmax by tfjs ops, ignored targets left out, in value and gradient', (n, v, scale, ignore, ignoredShare, seed) => {
    const logits = randn(seed, [n, v], scale) as tf.Tensor2D
    const ts = Array.from(normal(key(seed + 1), n, 1), (u, i) => (Math.abs(u) < ignoredShare ? ignore : (i * 7 + Math.floor(Math.abs(u) * 13)) % v))
    const targets = tf.tensor1d(ts, 'int32')
    const before = tf.memory().numTensors
    const got = valueAndGrads((l) => crossEntropyKernel(l as tf.Tensor2D, targets, ignore) as tf.Tensor, [logits], seed + 2)
    expect(tf.memory().numTensors).toBe(before + 2)
    const want = valueAndGrads(byOps(targets, ignore), [logits], seed + 2)
    expectClose(got[0], want[0], 2e-6, 2e-6, 'loss')
    // Both compute p = e^(x − lse) with lse rounded to float32 at its own magnitude (up to
    // max|logit| + log v), so p carries a relative error up to a few ulps of |lse|, and p − 1 at a
    // target with p near 1 keeps it undiluted; the gradient scales it by |w| / count (w the
    // cotangent, count the targets kept). With logits of scale 10 that is ~1e-6 of p − 1 (seen:
    // 7.3e-7 at p = 0.9993, |lse| ≈ 20), beyond a fixed 3e-7.
    const w = Math.abs(normal(key(seed + 2), 1, 1)[0])
    const count = Math.max(1, ts.filter((t) => t !== ignore).length)
    const maxLogit = Math.max(...Array.from(logits.dataSync(), Math.abs))
    expectClose(got[1], want[1], 3e-7 + (2 ** -22 * (maxLogit + Math.log(v)) * w) / count, 2e-5, 'dlogits')
    tf.dispose([...got, ...want])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([logits, targets])
  })

  it('gives 0 and zero gradients when every target is ignored, and declines another backend', async () => {
    const logits = randn(1, [3, 5]) as tf.Tensor2D
    const targets = tf.tensor1d([4, 4, 4], 'int32')
    const [loss, dl] = valueAndGrads((l) => crossEntropyKernel(l as tf.Tensor2D, targets, 4) as tf.Tensor, [logits], 2)
    expect(loss.dataSync()[0]).toBe(0)
    expect(Array.from(dl.dataSync()).every((g) => g === 0)).toBe(true)
    tf.dispose([logits, targets, loss, dl])
    await initBackend('cpu')
    const c = tf.zeros([2, 3]) as tf.Tensor2D
    const ct = tf.tensor1d([0, 1], 'int32')
    expect(crossEntropyKernel(c, ct, -100)).toBeUndefined()
    tf.dispose([c, ct])
    await initBackend('wasm')
  })
})

describe('columnSumsKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 0, max: 10_000 })], { numRuns: 40 })(
    'equals tf.sum over the first axis (widths not multiples of 4 included)',
    (rows, cols, seed) => {
      const x = randn(seed, [rows, cols], 3) as tf.Tensor2D
      const before = tf.memory().numTensors
      const got = columnSumsKernel(x)!
      const want = tf.sum(x, 0)
      expectClose(got, want, 1e-5 * Math.sqrt(rows), 1e-6, 'sums')
      tf.dispose([got, want, x])
      expect(tf.memory().numTensors).toBe(before - 1)
    },
  )
})

describe('scatterAddRowsKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop(
    [fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: -1, max: 19 }), fc.integer({ min: 0, max: 10_000 })],
    {
      numRuns: 40,
    },
  )('equals oneHot(ids)ᵀ·x by tfjs ops, the skipped id and ids outside the table adding nothing', (rows, vocab, width, skip, seed) => {
    const x = randn(seed, [rows, width]) as tf.Tensor2D
    const ids = tf.tensor1d(
      Array.from(normal(key(seed + 1), rows, 1), (u) => Math.floor(Math.abs(u) * (vocab + 1)) - (u < -2 ? vocab + 3 : 0)),
      'int32',
    )
    const before = tf.memory().numTensors
    const got = scatterAddRowsKernel(x, ids, vocab, skip)!
    const want = tf.tidy(() => {
      const kept = tf.where(tf.equal(ids, skip), tf.fill(ids.shape, -1, 'int32'), ids) as tf.Tensor1D
      return tf.slice(tf.matMul(tf.transpose(tf.oneHot(kept, Math.max(vocab, 2))), x), [0, 0], [vocab, width])
    })
    expectClose(got, want, 1e-5 * Math.sqrt(rows), 1e-6, 'table gradient')
    tf.dispose([got, want])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([x, ids])
  })
})
