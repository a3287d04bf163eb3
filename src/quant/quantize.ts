/**
 * Weight quantization on the host, as pure functions of float32 arrays: the formats the
 * quantized kernels read (src/backend/simd/quant.wat) and the quantized safetensors store.
 *
 * A matrix is quantized one row per output channel ([out, in], nn.Linear's layout):
 *
 *   int8   per row: scale = max|w| / 127, q = round(w / scale) ∈ [-127, 127]; the row padded
 *          with zeros to `stride` bytes (a multiple of 32). |w − q·scale| ≤ scale / 2.
 *   q4     GGML's q4_0, per block of 32 weights of a row: d = m / −8 where m is the block's
 *          value of largest magnitude, q = clamp(round(w / d), −8, 7) + 8 ∈ [0, 16), two
 *          weights a byte (byte j: weight j low nibble, weight j + 16 high nibble).
 *          |w − (q − 8)·d| ≤ |d| / 2, except the block's largest positive weights when m < 0
 *          (clamped to 7·|d|): ≤ |d|. A row is ⌈in / 32⌉ blocks, the last zero-padded.
 *
 * Ties round half to even ({@link roundHalfEven}, WebAssembly's `nearest`), the rounding the
 * kernels use for activations, so that the host fallback (matrix.ts) matches them.
 */

/** The quantized formats. */
export type QuantFormat = 'int8' | 'q4'

/** Weights per q4 block (one scale each). */
export const Q4_GROUP = 32

/** A quantized matrix on the host: `rows` output channels of `cols` inputs. */
export interface HostQuantized {
  readonly format: QuantFormat
  readonly rows: number
  readonly cols: number
  /** int8: `rows · stride` signed bytes; q4: `rows · groups · 16` bytes of nibbles. */
  readonly bytes: Uint8Array
  /** int8: one per row; q4: `rows · groups`, row-major. */
  readonly scales: Float32Array
}

/** Bytes a row of `cols` int8 weights takes (padded to a multiple of 32). */
export const int8Stride = (cols: number): number => Math.ceil(cols / 32) * 32

/** q4 blocks a row of `cols` weights takes. */
export const q4Groups = (cols: number): number => Math.ceil(cols / Q4_GROUP)

/** Round half to even, as WebAssembly's `f32.nearest`. */
export const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Quantizes `rows × cols` float32 values (row-major, one row per output channel). */
export const quantizeRows = (format: QuantFormat, values: Float32Array, rows: number, cols: number): HostQuantized => {
  if (values.length !== rows * cols) throw new RangeError(`quantizeRows: ${values.length} values, expected ${rows} × ${cols}`)
  return format === 'int8' ? quantizeInt8(values, rows, cols) : quantizeQ4(values, rows, cols)
}

const quantizeInt8 = (values: Float32Array, rows: number, cols: number): HostQuantized => {
  const stride = int8Stride(cols)
  const q = new Int8Array(rows * stride)
  const scales = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    let m = 0
    for (let i = 0; i < cols; i++) m = Math.max(m, Math.abs(values[r * cols + i]))
    const scale = Math.fround(m / 127)
    scales[r] = scale
    if (scale === 0) continue
    const inv = 1 / scale
    for (let i = 0; i < cols; i++) q[r * stride + i] = Math.max(-127, Math.min(127, roundHalfEven(values[r * cols + i] * inv)))
  }
  return { format: 'int8', rows, cols, bytes: new Uint8Array(q.buffer), scales }
}

const quantizeQ4 = (values: Float32Array, rows: number, cols: number): HostQuantized => {
  const groups = q4Groups(cols)
  const bytes = new Uint8Array(rows * groups * 16)
  const scales = new Float32Array(rows * groups)
  const nib = new Uint8Array(Q4_GROUP)
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * Q4_GROUP
      const n = Math.min(Q4_GROUP, cols - g * Q4_GROUP)
      let m = 0
      for (let j = 0; j < n; j++) if (Math.abs(values[start + j]) > Math.abs(m)) m = values[start + j]
      const d = Math.fround(m / -8)
      scales[r * groups + g] = d
      const inv = d === 0 ? 0 : 1 / d
      nib.fill(8)
      for (let j = 0; j < n; j++) nib[j] = Math.max(-8, Math.min(7, roundHalfEven(values[start + j] * inv))) + 8
      const at = (r * groups + g) * 16
      for (let j = 0; j < 16; j++) bytes[at + j] = nib[j] | (nib[j + 16] << 4)
    }
  }
  return { format: 'q4', rows, cols, bytes, scales }
}

/** The integer weight at (row, col) of a quantized matrix (int8: q; q4: q − 8). */
export const quantizedInt = (m: HostQuantized, row: number, col: number): number => {
  if (m.format === 'int8') {
    const v = m.bytes[row * int8Stride(m.cols) + col]
    return v > 127 ? v - 256 : v
  }
  const g = col >> 5
  const j = col & 31
  const byte = m.bytes[(row * q4Groups(m.cols) + g) * 16 + (j & 15)]
  return (j < 16 ? byte & 15 : byte >> 4) - 8
}

/** The scale of the weight at (row, col). */
export const quantizedScale = (m: HostQuantized, row: number, col: number): number => (m.format === 'int8' ? m.scales[row] : m.scales[row * q4Groups(m.cols) + (col >> 5)])

/** The float32 values a quantized matrix stands for, [rows, cols] row-major: the reference the kernels are tested against. */
export const dequantizeRows = (m: HostQuantized): Float32Array => {
  const out = new Float32Array(m.rows * m.cols)
  for (let r = 0; r < m.rows; r++) for (let i = 0; i < m.cols; i++) out[r * m.cols + i] = Math.fround(quantizedInt(m, r, i) * quantizedScale(m, r, i))
  return out
}

/** The largest |w − dequantized w| the format allows for each row: scale/2 (int8), max |d| (q4). */
export const rowErrorBound = (m: HostQuantized, row: number): number => {
  if (m.format === 'int8') return m.scales[row] / 2
  const g = q4Groups(m.cols)
  let b = 0
  for (let i = 0; i < g; i++) b = Math.max(b, Math.abs(m.scales[row * g + i]))
  return b
}

/** float32 [in, out] (Conv1D's layout) as [out, in] (one row per output channel). */
export const transposeValues = (values: Float32Array, inDim: number, outDim: number): Float32Array => {
  const out = new Float32Array(values.length)
  for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) out[o * inDim + i] = values[i * outDim + o]
  return out
}
