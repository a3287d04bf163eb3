/**
 * Products with quantized weight matrices and lookups of their rows, as tfjs kernels on the
 * wasm backend (quant.wat): the weights stay int8 or 4-bit in the backend's memory and are
 * widened inside the kernel, block by block; no float32 copy of a matrix is ever made. The
 * activations are quantized to int16 per row into a scratch buffer first (the kernel's
 * integer dot products need them so). src/quant/ops.ts calls these, with a host fallback of
 * the same arithmetic where they do not run.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeQuantKernels, dataOffset, registerQuantKernel } from './module.js'

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

const xStride = (l: QuantLayout) => (l.format === 'int8' ? l.width : 32 * l.width)

registerQuantKernel(QUANT_MATMUL, ({ inputs, backend, kernels, attrs }) => {
  const { x, w, ws, bias } = inputs
  const l = attrs as unknown as QuantLayout
  const n = x.shape[0]
  const stride = xStride(l)
  const out = backend.makeOutput([n, l.rows], 'float32')
  const scratch = backend.makeOutput([(n * stride) / 2 + n + 4], 'float32')
  const xq = dataOffset(backend, scratch)
  const xs = xq + n * stride * 2
  kernels.quantize_rows(dataOffset(backend, x), n, l.cols, stride, xq, xs)
  const run = l.format === 'int8' ? kernels.qmm_i8 : kernels.qmm_q4
  run(xq, xs, n, l.width, dataOffset(backend, w), dataOffset(backend, ws), l.rows, bias === undefined ? 0 : dataOffset(backend, bias), dataOffset(backend, out))
  backend.disposeData(scratch.dataId)
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
 * x [n, cols] · Wᵀ (+ bias [rows]) → [n, rows] for a quantized W whose bytes are `w` (int32
 * words) and scales `ws`, by the kernel — or `undefined` where it does not run (not wasm, or
 * the module cannot be instantiated). No gradient.
 */
export const quantMatmulKernel = (x: tf.Tensor2D, w: tf.Tensor, ws: tf.Tensor, layout: QuantLayout, bias?: tf.Tensor1D): tf.Tensor2D | undefined => {
  if (x.dtype !== 'float32' || x.shape[0] === 0 || activeQuantKernels() === null) return undefined
  const inputs: tf.NamedTensorMap = bias === undefined ? { x, w, ws } : { x, w, ws, bias }
  return tf.engine().runKernel(QUANT_MATMUL, inputs, { ...layout }) as tf.Tensor2D
}

/** Rows `ids` (int32 [count], in range) of a quantized matrix, dequantized → [count, cols], by the kernel, or `undefined`. */
export const quantRowsKernel = (w: tf.Tensor, ws: tf.Tensor, layout: QuantLayout, ids: tf.Tensor1D): tf.Tensor2D | undefined => {
  if (ids.shape[0] === 0 || activeQuantKernels() === null) return undefined
  return tf.engine().runKernel(QUANT_ROWS, { w, ws, ids }, { ...layout }) as tf.Tensor2D
}
