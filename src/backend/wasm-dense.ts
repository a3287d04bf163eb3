/**
 * A dense layer's product x [..., k] · w [k, n] (+ bias [n]) → [..., n] as one tfjs kernel on the
 * wasm backend: gemm.wat's product for {@link GEMM_MIN_ROWS} rows or more, gemv.ts's over a packed
 * copy of w for {@link GEMV_MAX_ROWS} rows or fewer (a decoding step), else tfjs-wasm's own
 * `_FusedMatMul` (XNNPACK) called on views of the operands with the 3-D shapes it takes
 * ([1, rows, k], [1, k, n]); the output viewed as [..., n].
 *
 * Why: through `tf.fused.matMul`, one product is six engine operations — the caller's reshape
 * of x to 2-D, three reshapes to 3-D and back inside fused.matMul, a custom-gradient scope (it
 * records one whether or not a gradient is asked for), the kernel, the reshape back — each with
 * the engine's bookkeeping. A GPT-2 decoding step runs 48 such products on a single row, where
 * that bookkeeping is a visible share of the step (docs/benchmarks.md). Here it is one.
 */
import * as tf from '@tensorflow/tfjs-core'
import { asWasmBackend } from '../core/tfjs-internals.js'
import { GEMM_MIN_ROWS, gemmOn } from './simd/gemm.js'
import { GEMV_MAX_ROWS, gemvOn } from './simd/gemv.js'
import { gemmKernels } from './simd/module.js'

/** The kernel's name in tfjs's registry. */
export const DENSE = 'MinigptDense'

tf.registerKernel({
  kernelName: DENSE,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, w, bias } = inputs as Record<string, tf.TensorInfo>
    const [k, n] = w.shape
    const rows = x.shape.reduce((a, b) => a * b, 1) / k
    const outShape = (attrs as { outShape: number[] }).outShape
    const wasm = asWasmBackend(backend)
    const own = gemmKernels(wasm)
    if (own !== null && rows >= GEMM_MIN_ROWS) return gemmOn(wasm, own, { a: x, b: w, bias, m: rows, k, n, transposeA: false, transposeB: false }, outShape)
    if (own !== null && rows <= GEMV_MAX_ROWS) return gemvOn(wasm, own, { x, w, bias, m: rows, k, n }, outShape)
    const fused = tf.getKernel('_FusedMatMul', 'wasm')
    if (fused === undefined) throw new Error(`${DENSE}: tfjs-wasm's _FusedMatMul kernel is not registered`)
    const view = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype })
    const out = fused.kernelFunc({
      inputs: bias === undefined ? { a: view(x, [1, rows, k]), b: view(w, [1, k, n]) } : { a: view(x, [1, rows, k]), b: view(w, [1, k, n]), bias },
      backend,
      attrs: { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
    }) as tf.TensorInfo
    return { dataId: out.dataId, shape: [...outShape], dtype: out.dtype }
  },
})

/**
 * x [..., k] · w [k, n] (+ bias [n]) by the kernel on wasm (float32), or `undefined` elsewhere.
 * No gradient: for inference only.
 */
export const denseKernel = (x: tf.Tensor, w: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor | undefined => {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || w.dtype !== 'float32' || x.shape[x.rank - 1] !== w.shape[0] || x.size === 0) return undefined
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.rank !== 1 || bias.shape[0] !== w.shape[1])) return undefined
  const inputs: tf.NamedTensorMap = bias === undefined ? { x, w } : { x, w, bias }
  return tf.engine().runKernel(DENSE, inputs, { outShape: [...x.shape.slice(0, -1), w.shape[1]] }) as tf.Tensor
}
