/**
 * The gradient of a row lookup (an embedding) as one tfjs kernel on the wasm backend
 * (kernels.wat's `scatter_add_rows`): each looked-up row's gradient added into a zeroed
 * [vocab, d] table — tfjs's UnsortedSegmentSum, which tfjs-wasm lacks.
 *
 * Why: without it the gradient is a product with a one-hot matrix (nn/embedding.ts), which for
 * GPT-2's 50,257-row table and 256 tokens is a [50,257, 256] one-hot, its transpose and a
 * 19.8-GFLOP product, to add 256 rows.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const SCATTER_ADD_ROWS = 'MinigptScatterAddRows'

registerSimdKernel(SCATTER_ADD_ROWS, ({ inputs, backend, kernels, attrs }) => {
  const { rows, ids } = inputs
  const vocab = (attrs as { vocab: number }).vocab
  const [n, d] = rows.shape
  const out = backend.makeOutput([vocab, d], 'float32')
  kernels.scatter_add_rows(dataOffset(backend, rows), d, dataOffset(backend, ids), n, vocab, dataOffset(backend, out))
  return out
})

/**
 * The [vocab, d] table whose row r is the sum of the rows of `rows` [n, d] whose id (`ids`,
 * int32 [n]) is r — zero for rows no id names; ids outside [0, vocab) add nothing — by the
 * SIMD kernel, or `undefined` where it does not run. No gradient (it is one).
 */
export const scatterAddRowsKernel = (rows: tf.Tensor2D, ids: tf.Tensor1D, vocab: number): tf.Tensor2D | undefined =>
  rows.dtype !== 'float32' || ids.dtype !== 'int32' || ids.size !== rows.shape[0] || activeSimdKernels() === null
    ? undefined
    : (tf.engine().runKernel(SCATTER_ADD_ROWS, { rows, ids }, { vocab }) as tf.Tensor2D)
