/**
 * A quantized weight matrix as tensors, and the two things a model does with one: multiply
 * activations by it (a Linear/Conv1D or a tied head) and read its rows (an embedding).
 *
 * The stored bytes live in an int32 tensor (tfjs has no int8 dtype; four bytes a word), so
 * that on wasm they sit in the backend's memory where the kernels of quant.wat read them
 * directly. Where those kernels do not run (cpu, webgl, webgpu, or a wasm build they cannot
 * attach to), the same arithmetic runs on the host — activations quantized to int16 per row,
 * exact integer dot products, one float scale — so both paths give the same numbers to
 * float32 rounding (spec/quant/kernels.spec.ts).
 *
 * A quantized matrix is a leaf of a model's quantized tree (src/quant/tree.ts), read by the
 * layers of nn/ where a float matrix goes; core/tree.ts's functions, which take tensor leaves,
 * do not know it: {@link disposeQuantized} frees one, {@link disposeQuantTree} a tree holding some.
 */
import * as tf from '@tensorflow/tfjs-core'
import { quantMatmulKernel, quantRowsKernel, type QuantLayout } from '../backend/simd/quant-matmul.js'
import { int8Stride, q4Groups, quantizedInt, quantizedScale, roundHalfEven, type HostQuantized, type QuantFormat } from './quantize.js'

/** A quantized matrix of `rows` output channels × `cols` inputs, on the active backend. */
export interface QuantizedMatrix {
  readonly _tag: 'QuantizedMatrix'
  readonly format: QuantFormat
  readonly rows: number
  readonly cols: number
  /** The stored bytes (quantize.ts's layout) as int32 words. */
  readonly data: tf.Tensor1D
  /** The float32 scales: one per row (int8), one per block of 32 (q4). */
  readonly scales: tf.Tensor1D
}

/** True for a {@link QuantizedMatrix}. */
export const isQuantized = (x: unknown): x is QuantizedMatrix => typeof x === 'object' && x !== null && (x as { _tag?: unknown })._tag === 'QuantizedMatrix'

/** Uploads a host-quantized matrix (the caller owns the result). */
export const uploadQuantized = (h: HostQuantized): QuantizedMatrix => {
  const words = new Int32Array(h.bytes.buffer.slice(h.bytes.byteOffset, h.bytes.byteOffset + h.bytes.byteLength))
  return Object.freeze({
    _tag: 'QuantizedMatrix',
    format: h.format,
    rows: h.rows,
    cols: h.cols,
    data: tf.tensor1d(words, 'int32'),
    scales: tf.tensor1d(h.scales, 'float32'),
  })
}

/** The matrix's bytes and scales read back to the host. */
export const downloadQuantized = (m: QuantizedMatrix): HostQuantized => {
  const words = m.data.dataSync() as Int32Array
  return { format: m.format, rows: m.rows, cols: m.cols, bytes: new Uint8Array(words.buffer, words.byteOffset, words.byteLength), scales: m.scales.dataSync() as Float32Array }
}

/** Frees a quantized matrix's tensors. */
export const disposeQuantized = (m: QuantizedMatrix): void => {
  m.data.dispose()
  m.scales.dispose()
}

/** Frees every tensor of a tree whose leaves are tensors or quantized matrices. */
export const disposeQuantTree = (tree: unknown): void => {
  if (tree instanceof tf.Tensor) tree.dispose()
  else if (isQuantized(tree)) disposeQuantized(tree)
  else if (Array.isArray(tree)) tree.forEach(disposeQuantTree)
  else if (tree !== null && typeof tree === 'object') Object.values(tree).forEach(disposeQuantTree)
}

/** Bytes the matrix takes (data and scales). */
export const quantizedBytes = (m: QuantizedMatrix): number => 4 * (m.data.size + m.scales.size)

const layout = (m: QuantizedMatrix): QuantLayout => ({ format: m.format, rows: m.rows, cols: m.cols, width: m.format === 'int8' ? int8Stride(m.cols) : q4Groups(m.cols) })

const where = (m: QuantizedMatrix) => `quantized ${m.format} [${m.rows}, ${m.cols}]`

/**
 * x [n, cols] times the matrix transposed (+ bias [rows]) → [n, rows]: y = x·Wᵀ + b with W
 * dequantized on the fly. A layer stored [in, out] (Conv1D) is quantized transposed, so this
 * is its x·W. Inference only: no gradient reaches the quantized weights.
 */
export const quantizedMatmul = (x: tf.Tensor2D, m: QuantizedMatrix, bias?: tf.Tensor1D): tf.Tensor2D => {
  if (x.rank !== 2 || x.shape[1] !== m.cols) throw new RangeError(`${where(m)}: input has shape [${x.shape.join(', ')}], expected [n, ${m.cols}]`)
  if (bias !== undefined && bias.size !== m.rows) throw new RangeError(`${where(m)}: bias has ${bias.size} values, expected ${m.rows}`)
  return quantMatmulKernel(x, m.data, m.scales, layout(m), bias) ?? hostMatmul(x, m, bias)
}

/** Rows `ids` of the matrix, dequantized → [...ids.shape, cols]: an embedding lookup in a quantized table. */
export const quantizedLookup = (m: QuantizedMatrix, ids: tf.Tensor): tf.Tensor => {
  const values = ids.dataSync()
  for (const id of values) {
    if (!Number.isInteger(id) || id < 0 || id >= m.rows) throw new RangeError(`${where(m)}: id ${id} is outside [0, ${m.rows})`)
  }
  const flat = tf.tensor1d(Int32Array.from(values), 'int32')
  const rows = quantRowsKernel(m.data, m.scales, layout(m), flat) ?? hostRows(m, values)
  flat.dispose()
  return tf.reshape(rows, [...ids.shape, m.cols])
}

/** An activation row quantized to int16 as quant.wat's quantize_rows does it. */
const quantizeActivations = (x: Float32Array, start: number, n: number, q: Int32Array): number => {
  let m = 0
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(x[start + i]))
  const inv = m > 0 ? Math.fround(32767 / m) : 0
  for (let i = 0; i < n; i++) q[i] = roundHalfEven(Math.fround(inv * x[start + i]))
  return Math.fround(m / 32767)
}

const hostMatmul = (x: tf.Tensor2D, m: QuantizedMatrix, bias?: tf.Tensor1D): tf.Tensor2D => {
  const [n, cols] = x.shape
  const xv = x.dataSync() as Float32Array
  const h = downloadQuantized(m)
  const b = bias?.dataSync()
  const y = new Float32Array(n * m.rows)
  const q = new Int32Array(cols)
  const int8 = h.format === 'int8' ? new Int8Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength) : undefined
  const stride = int8Stride(cols)
  const groups = q4Groups(cols)
  for (let r = 0; r < n; r++) {
    const xs = quantizeActivations(xv, r * cols, cols, q)
    for (let o = 0; o < m.rows; o++) {
      let acc = 0
      if (int8 !== undefined) {
        for (let i = 0; i < cols; i++) acc += q[i] * int8[o * stride + i]
        acc *= h.scales[o]
      } else {
        for (let g = 0; g < groups; g++) {
          let s = 0
          for (let i = g * 32; i < Math.min(cols, g * 32 + 32); i++) s += q[i] * quantizedInt(h, o, i)
          acc += Math.fround(s) * h.scales[o * groups + g]
        }
      }
      y[r * m.rows + o] = Math.fround(Math.fround(acc) * xs + (b === undefined ? 0 : b[o]))
    }
  }
  return tf.tensor2d(y, [n, m.rows])
}

const hostRows = (m: QuantizedMatrix, ids: ArrayLike<number>): tf.Tensor2D => {
  const h = downloadQuantized(m)
  const out = new Float32Array(ids.length * m.cols)
  for (let r = 0; r < ids.length; r++) {
    for (let i = 0; i < m.cols; i++) out[r * m.cols + i] = Math.fround(quantizedInt(h, ids[r], i) * quantizedScale(h, ids[r], i))
  }
  return tf.tensor2d(out, [ids.length, m.cols])
}
