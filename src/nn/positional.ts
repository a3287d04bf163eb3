/**
 * Sinusoidal positional encodings (Vaswani et al.), as the seed notebook's PositionalEncoding:
 * pe[pos, 2i] = sin(pos · 10000^(−2i/d)), pe[pos, 2i+1] = cos(…). A fixed table, not a
 * parameter (PyTorch registers it as the buffer `pos_encoding.pe`).
 */
import * as tf from '@tensorflow/tfjs-core'

/** The table [maxLen, dim] as plain numbers (computed in float32 steps, as PyTorch does). */
export const sinusoidalTable = (maxLen: number, dim: number): Float32Array => {
  const pe = new Float32Array(maxLen * dim)
  const f = Math.fround
  const scale = f(-Math.log(10000) / dim)
  for (let i = 0; i < dim; i += 2) {
    const div = f(Math.exp(f(i * scale)))
    for (let pos = 0; pos < maxLen; pos++) {
      const a = f(pos * div)
      pe[pos * dim + i] = Math.sin(a)
      if (i + 1 < dim) pe[pos * dim + i + 1] = Math.cos(a)
    }
  }
  return pe
}

/** The table as a tensor [maxLen, dim]. */
export const sinusoidalEncoding = (maxLen: number, dim: number): tf.Tensor2D => tf.tensor2d(sinusoidalTable(maxLen, dim), [maxLen, dim])
