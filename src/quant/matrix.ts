/**
 * A quantized weight matrix as tensors, and the two things a model does with one: multiply
 * activations by it (a Linear/Conv1D or a tied head) and read its rows (an embedding).
 *
 * The stored bytes live in an int32 tensor (tfjs has no int8 dtype; four bytes a word), so
 * that on wasm they sit in the backend's memory where the kernels of quant.wat read them
 * directly. Where those kernels do not run (cpu, webgl, webgpu, or a wasm build they cannot
 * attach to), the same arithmetic runs on the host — activations quantized as the kernels
 * quantize them (int16 per row for int8 weights, int8 per block of 32 for q4), the same exact
 * integer sums, the same float32 operations in the same order — so both paths give the same
 * numbers, bit for bit (spec/quant/kernels.spec.ts).
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
 * x [..., cols] times the matrix transposed (+ bias [rows]) → [..., rows]: y = x·Wᵀ + b with W
 * dequantized on the fly, x's leading dimensions kept (no reshape: one kernel call on wasm). A
 * layer stored [in, out] (Conv1D) is quantized transposed, so this is its x·W. Inference only:
 * no gradient reaches the quantized weights.
 */
export const quantizedMatmul = <R extends tf.Rank>(x: tf.Tensor<R>, m: QuantizedMatrix, bias?: tf.Tensor1D): tf.Tensor<R> => {
  if (x.rank === 0 || x.shape[x.rank - 1] !== m.cols) throw new RangeError(`${where(m)}: input has shape [${x.shape.join(', ')}], expected [..., ${m.cols}]`)
  if (bias !== undefined && bias.size !== m.rows) throw new RangeError(`${where(m)}: bias has ${bias.size} values, expected ${m.rows}`)
  return quantMatmulKernel(x, m.data, m.scales, layout(m), bias) ?? hostMatmul(x, m, bias)
}

/** Rows `ids` of the matrix, dequantized → [...ids.shape, cols]: an embedding lookup in a quantized table. */
export const quantizedLookup = (m: QuantizedMatrix, ids: tf.Tensor): tf.Tensor => {
  const values = ids.dataSync()
  for (const id of values) {
    if (!Number.isInteger(id) || id < 0 || id >= m.rows) throw new RangeError(`${where(m)}: id ${id} is outside [0, ${m.rows})`)
  }
  // the ids tensor itself, flat, when it is int32 (a decoding step's lookup is then a kernel call on its ids: backend/kernel-trace.ts)
  const flat: tf.Tensor1D = ids.dtype === 'int32' ? tf.reshape(ids, [-1]) : tf.tensor1d(Int32Array.from(values), 'int32')
  const rows = quantRowsKernel(m.data, m.scales, layout(m), flat) ?? hostRows(m, values)
  flat.dispose()
  return tf.reshape(rows, [...ids.shape, m.cols])
}

/** An activation row quantized to int16 as quant.wat's quantize_rows does it: its scale. */
const quantizeActivations = (x: Float32Array, start: number, n: number, q: Int32Array): number => {
  let m = 0
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(x[start + i]))
  const inv = m > 0 ? Math.fround(32767 / m) : 0
  for (let i = 0; i < n; i++) q[i] = roundHalfEven(Math.fround(inv * x[start + i]))
  return Math.fround(m / 32767)
}

/**
 * An activation row quantized per block of 32 to int8 as quant.wat's quantize_blocks does it
 * (q zero past `n`): the blocks' scales into `s`.
 */
const quantizeActivationBlocks = (x: Float32Array, start: number, n: number, q: Int32Array, s: Float32Array): void => {
  q.fill(0)
  for (let g = 0; g < s.length; g++) {
    const end = Math.min(n, 32 * g + 32)
    let m = 0
    for (let i = 32 * g; i < end; i++) m = Math.max(m, Math.abs(x[start + i]))
    const inv = m > 0 ? Math.fround(127 / m) : 0
    for (let i = 32 * g; i < end; i++) q[i] = roundHalfEven(Math.fround(inv * x[start + i]))
    s[g] = Math.fround(m / 127)
  }
}

/** The kernels' arithmetic on the host (quant.wat's qmm_i8 and qmm_q4, operation for operation). */
const hostMatmul = <R extends tf.Rank>(x: tf.Tensor<R>, m: QuantizedMatrix, bias?: tf.Tensor1D): tf.Tensor<R> => {
  const cols = m.cols
  const n = x.size / cols
  const xv = x.dataSync() as Float32Array
  const h = downloadQuantized(m)
  const b = bias?.dataSync()
  const y = new Float32Array(n * m.rows)
  const groups = q4Groups(cols)
  const q = new Int32Array(32 * groups)
  const s = new Float32Array(groups)
  const f = Math.fround
  const int8 = h.format === 'int8' ? new Int8Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength) : undefined
  const stride = int8Stride(cols)
  for (let r = 0; r < n; r++) {
    // int8: y = f32(S) · f32(xs · scale) + b, S the exact sum of the row
    if (int8 !== undefined) {
      const xs = quantizeActivations(xv, r * cols, cols, q)
      for (let o = 0; o < m.rows; o++) {
        let sum = 0
        for (let i = 0; i < cols; i++) sum += q[i] * int8[o * stride + i]
        y[r * m.rows + o] = f((b === undefined ? 0 : b[o]) + f(f(sum) * f(xs * h.scales[o])))
      }
      continue
    }
    // q4: block b's exact sum times f32(d · s) into lane b mod 4; then (l0 + l1) + (l2 + l3) + b
    quantizeActivationBlocks(xv, r * cols, cols, q, s)
    for (let o = 0; o < m.rows; o++) {
      const acc = [0, 0, 0, 0]
      for (let g = 0; g < groups; g++) {
        let sum = 0
        for (let i = 32 * g; i < Math.min(cols, 32 * g + 32); i++) sum += q[i] * quantizedInt(h, o, i)
        acc[g % 4] = f(acc[g % 4] + f(sum * f(h.scales[o * groups + g] * s[g])))
      }
      y[r * m.rows + o] = f(f(f(acc[0] + acc[1]) + f(acc[2] + acc[3])) + (b === undefined ? 0 : b[o]))
    }
  }
  const out: tf.Tensor = tf.tensor(y, [...x.shape.slice(0, -1), m.rows])
  return out as tf.Tensor<R>
}

const hostRows = (m: QuantizedMatrix, ids: ArrayLike<number>): tf.Tensor2D => {
  const h = downloadQuantized(m)
  const out = new Float32Array(ids.length * m.cols)
  for (let r = 0; r < ids.length; r++) {
    for (let i = 0; i < m.cols; i++) out[r * m.cols + i] = Math.fround(quantizedInt(h, ids[r], i) * quantizedScale(h, ids[r], i))
  }
  return tf.tensor2d(out, [ids.length, m.cols])
}
