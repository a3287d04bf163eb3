/**
 * Products with quantized weight matrices and lookups of their rows, as tfjs kernels on the
 * wasm backend (quant.wat): the weights stay int8 or 4-bit in the backend's memory and are
 * widened inside the kernel, block by block; no float32 copy of a matrix is ever made. The
 * activations are quantized into a scratch buffer first (int16 per row for int8 weights, int8
 * per block of 32 for q4: the kernels' integer dot products need them so); then the output
 * channels are split over the backend's pool of threads (module.ts's runSplit), and q4 runs
 * quant-relaxed.wat's kernel where the runtime has relaxed SIMD (the same numbers).
 * src/quant/matrix.ts calls these, with a host fallback of the same arithmetic where they do not run.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeQuantKernels, dataOffset, quantRelaxedKernels, registerQuantKernel, runSplit } from './module.js'

/** The kernels' names in tfjs's registry. */
export const QUANT_MATMUL = 'MinigptQuantMatmul'
export const QUANT_ROWS = 'MinigptQuantRows'

/** Shape facts of a quantized matrix the kernels need. */
export interface QuantLayout {
  readonly format: 'int8' | 'q4'
  /** Output channels (rows of the stored matrix). */
  readonly rows: number
  /** Inputs per channel. */
  readonly cols: number
  /** int8: bytes a stored row takes; q4: blocks of 32 a row takes. */
  readonly width: number
}

/**
 * Output channels a thread's chunk takes at least: enough weights (~32K products) that the
 * hand-over between threads, microseconds, stays small beside the work.
 */
const grain = (n: number, cols: number): number => Math.max(1, Math.ceil(32768 / (n * cols)))

registerQuantKernel(QUANT_MATMUL, ({ inputs, backend, kernels, attrs }) => {
  const { x, w, ws, bias } = inputs
  const l = attrs as unknown as QuantLayout
  const n = tf.util.sizeFromShape(x.shape) / l.cols
  const out = backend.makeOutput([...x.shape.slice(0, -1), l.rows], 'float32')
  const [wp, wsp, bp, yp] = [dataOffset(backend, w), dataOffset(backend, ws), bias === undefined ? 0 : dataOffset(backend, bias), dataOffset(backend, out)]
  if (l.format === 'int8') {
    // xq [n, stride] int16, then xs [n] float32
    const scratch = backend.makeOutput([(n * l.width) / 2 + n], 'float32')
    const xq = dataOffset(backend, scratch)
    const xs = xq + 2 * n * l.width
    kernels.quantize_rows(dataOffset(backend, x), n, l.cols, l.width, xq, xs)
    runSplit(backend, 'quant', 'qmm_i8', kernels.qmm_i8, [xq, xs, n, l.width, wp, wsp, l.rows, bp, yp], l.rows, grain(n, l.cols))
    backend.disposeData(scratch.dataId)
  } else {
    // xq [n, 32·groups] int8, then xs [n, groups] float32, xc [n, groups] int32 and, for the plain
    // kernel, xw [n, 32·groups] int16 and xd [n, groups] int32 (spread_blocks's form)
    const blocks = n * l.width
    const relaxed = quantRelaxedKernels(backend)
    const scratch = backend.makeOutput([(relaxed === null ? 27 : 10) * blocks], 'float32')
    const xq = dataOffset(backend, scratch)
    const [xs, xc, xw, xd] = [xq + 32 * blocks, xq + 36 * blocks, xq + 40 * blocks, xq + 104 * blocks]
    kernels.quantize_blocks(dataOffset(backend, x), n, l.cols, l.width, xq, xs, xc)
    const rest = [n, l.width, wp, wsp, l.rows, bp, yp]
    if (relaxed !== null) runSplit(backend, 'quant-relaxed', 'qmm_q4', relaxed.qmm_q4, [xq, xs, xc, ...rest], l.rows, grain(n, l.cols))
    else {
      kernels.spread_blocks(xq, xc, blocks, xw, xd)
      runSplit(backend, 'quant', 'qmm_q4', kernels.qmm_q4, [xw, xs, xd, ...rest], l.rows, grain(n, l.cols))
    }
    backend.disposeData(scratch.dataId)
  }
  return out
})

registerQuantKernel(QUANT_ROWS, ({ inputs, backend, kernels, attrs }) => {
  const { w, ws, ids } = inputs
  const l = attrs as unknown as QuantLayout
  const count = ids.shape[0]
  const out = backend.makeOutput([count, l.cols], 'float32')
  const run = l.format === 'int8' ? kernels.rows_i8 : kernels.rows_q4
  run(dataOffset(backend, w), dataOffset(backend, ws), l.width, l.cols, dataOffset(backend, ids), count, dataOffset(backend, out))
  return out
})

/**
 * x [..., cols] · Wᵀ (+ bias [rows]) → [..., rows] for a quantized W whose bytes are `w` (int32
 * words) and scales `ws`, by the kernel (x's leading dimensions are its rows) — or `undefined`
 * where it does not run (not wasm, or the module cannot be instantiated). No gradient.
 */
export const quantMatmulKernel = <R extends tf.Rank>(x: tf.Tensor<R>, w: tf.Tensor, ws: tf.Tensor, layout: QuantLayout, bias?: tf.Tensor1D): tf.Tensor<R> | undefined => {
  if (x.dtype !== 'float32' || x.size === 0 || activeQuantKernels() === null) return undefined
  const inputs: tf.NamedTensorMap = bias === undefined ? { x, w, ws } : { x, w, ws, bias }
  return tf.engine().runKernel(QUANT_MATMUL, inputs, { ...layout }) as tf.Tensor<R>
}

/** Rows `ids` (int32 [count], in range) of a quantized matrix, dequantized → [count, cols], by the kernel, or `undefined`. */
export const quantRowsKernel = (w: tf.Tensor, ws: tf.Tensor, layout: QuantLayout, ids: tf.Tensor1D): tf.Tensor2D | undefined => {
  if (ids.shape[0] === 0 || activeQuantKernels() === null) return undefined
  return tf.engine().runKernel(QUANT_ROWS, { w, ws, ids }, { ...layout }) as tf.Tensor2D
}
