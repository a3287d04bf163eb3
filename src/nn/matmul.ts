/**
 * Matrix products whose gradients stay on wasm's fast path, and the product of a layer's
 * weight {@link Matrix}, float or quantized.
 *
 * tfjs's wasm backend runs a matmul through XNNPACK only when neither operand is transposed
 * and there is no batch dimension; its own MatMul gradient uses the transpose flags and so
 * falls back to a scalar loop 25-95× slower (docs/concepts.md). Every product here goes through
 * {@link product}: on wasm, gemm.wat's kernel, which reads a transposed operand in place
 * (backend/simd/gemm.ts), for products of enough rows; else an untransposed tfjs product after
 * an explicit transpose (a SIMD kernel on wasm: backend/simd/transpose.ts). {@link dense}
 * folds leading dimensions into rows so a [B, T, d] activation is a single 2-D product.
 */
import * as tf from '@tensorflow/tfjs-core'
import { columnSumsKernel } from '../backend/simd/row-sums.js'
import { transposeNoGrad } from '../backend/simd/transpose.js'
import { checkShape } from '../core/errors.js'
import { customGradWhenRecording, withInferenceKernel } from '../core/grad.js'
import { denseKernel } from '../backend/wasm-dense.js'
import { GEMM_MIN_ROWS, gemmKernel } from '../backend/simd/gemm.js'
import { isQuantized, quantizedMatmul, type QuantizedMatrix } from '../quant/matrix.js'

/**
 * A weight matrix as the layers read it: a float tensor, or a quantized matrix standing for one
 * (src/quant/matrix.ts). As a linear layer's weight, a float matrix is [in, out] and a
 * quantized one is stored a row per output channel ([out, in]); as an embedding table both are
 * [rows, dim]. The layers of nn/ take either, so one model runs a float or a quantized tree.
 */
export type Matrix = tf.Tensor2D | QuantizedMatrix

// tfjs types customGrad's callback loosely (inputs and the save function share one rest
// parameter), hence the casts through `CustomGradFn`.
type CustomGradFn = Parameters<typeof tf.customGrad>[0]

/**
 * op(a) · op(b) (+ bias [n]) with no gradient, either operand read transposed (op(x) = xᵀ):
 * gemm.wat's kernel on wasm for {@link GEMM_MIN_ROWS} rows or more, a transposed operand read
 * where it lies; else tfjs's untransposed product after an explicit transpose.
 */
export const product = (a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false, bias?: tf.Tensor1D): tf.Tensor2D => {
  const rows = transposeA ? a.shape[1] : a.shape[0]
  const fast = rows >= GEMM_MIN_ROWS ? gemmKernel(a, b, transposeA, transposeB, bias) : undefined
  if (fast !== undefined) return fast
  return tf.tidy(() => {
    const [a2, b2] = [transposeA ? transposeNoGrad(a) : a, transposeB ? transposeNoGrad(b) : b]
    const y = tf.matMul<tf.Tensor2D>(a2, b2)
    return bias === undefined ? y : tf.add<tf.Tensor2D>(y, bias)
  })
}

/**
 * The gradients of a [m, k] · b [k, n] for the output's gradient dy [m, n]: da = dy · bᵀ and
 * db = aᵀ · dy. Where da's product falls back to tfjs (few rows) and the weight is larger than
 * the activations, da is computed as (b · dyᵀ)ᵀ: two transposes of the small operands instead
 * of one of the weight.
 */
const productGrads = (a: tf.Tensor2D, b: tf.Tensor2D, dy: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] => {
  const [m, k] = a.shape
  const n = b.shape[1]
  const da = m < GEMM_MIN_ROWS && m * (k + n) < k * n ? tf.tidy(() => transposeNoGrad(product(b, dy, false, true))) : product(dy, b, false, true)
  return [da, product(a, dy, true, false)]
}

const matmul2dWithGrad: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b])
  return {
    value: product(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[]
      return productGrads(sa, sb, dy as tf.Tensor2D)
    },
  }
}) as unknown as CustomGradFn) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D

/** a [m, k] · b [k, n] with a gradient made of untransposed 2-D products (a plain product when no gradient is recorded). */
export const matmul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = customGradWhenRecording(matmul2dWithGrad, (a: tf.Tensor2D, b: tf.Tensor2D) => product(a, b))

/** a [m, k] · b [k, n] + bias [n] as one fused kernel forward, with fast-path gradients. */
const affine2dWithGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b])
  return {
    value: product(a as tf.Tensor2D, b as tf.Tensor2D, false, false, bias as tf.Tensor1D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[]
      // The bias's gradient Σ_rows dy: one kernel on wasm (tfjs-wasm transposes dy to sum its first axis).
      return [...productGrads(sa, sb, dy as tf.Tensor2D), columnSumsKernel(dy as tf.Tensor2D) ?? tf.sum(dy, 0)]
    },
  }
}) as unknown as CustomGradFn) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D

const affine2d = customGradWhenRecording(affine2dWithGrad, (a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D) => product(a, b, false, false, bias))

/**
 * The product by the quantized kernel (a quantized weight: it keeps x's leading dimensions), or
 * by tfjs ops (a float one), x's leading dimensions folded into rows.
 */
const denseOps = (x: tf.Tensor, w: Matrix, bias: tf.Tensor1D | undefined): tf.Tensor => {
  if (isQuantized(w)) return quantizedMatmul(x, w, bias)
  const [inDim, outDim] = w.shape
  const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [x.size / inDim, inDim]) as tf.Tensor2D)
  const y2 = bias === undefined ? matmul2d(x2, w) : affine2d(x2, w, bias)
  return x.rank === 2 ? y2 : tf.reshape(y2, [...x.shape.slice(0, -1), outDim])
}

// At inference on wasm a float product is one kernel (backend/wasm-dense.ts) where the ops are six engine operations.
const denseAny = withInferenceKernel(denseOps, (x: tf.Tensor, w: Matrix, bias: tf.Tensor1D | undefined) => (isQuantized(w) ? undefined : denseKernel(x, w, bias)))

/**
 * x [..., in] · w [in, out] (+ bias [out]) → [..., out]: the leading dimensions are folded
 * into rows so that the product is one 2-D matmul on every backend. A quantized `w` is
 * multiplied by its kernel (quantizedMatmul: inference only, no gradient reaches it).
 */
export const dense = <R extends tf.Rank>(x: tf.Tensor<R>, w: Matrix, bias?: tf.Tensor1D, where = 'dense'): tf.Tensor<R> => {
  const inDim = isQuantized(w) ? w.cols : w.shape[0]
  if (x.shape[x.rank - 1] !== inDim) {
    checkShape(where, 'input', x.shape, [...x.shape.slice(0, -1).map(() => null), inDim])
  }
  return denseAny(x, w, bias) as tf.Tensor<R> // the leading dimensions are kept
}

/**
 * The weight whose {@link dense} product multiplies by a table's transpose (x·tableᵀ: a head
 * tied to an embedding). A float table is transposed (a copy, the caller's); a quantized one is
 * returned as it is: its rows are already a row per output channel, the stored form of tableᵀ.
 */
export const transposed = (table: Matrix): Matrix => (isQuantized(table) ? table : tf.transpose(table))
