/**
 * Token embeddings: a lookup table [vocab, dim] indexed by integer ids.
 *
 * The forward pass is a gather; the gradient adds each looked-up row's gradient into a zeroed
 * table — by a SIMD kernel on wasm (backend/simd/row-sums.ts), elsewhere as a product with the
 * transposed one-hot matrix, because tfjs's own gather gradient needs `UnsortedSegmentSum`, which
 * the wasm backend lacks (docs/concepts.md). With a padding index (PyTorch's `padding_idx`),
 * that row starts at zero and never receives gradient. The table is declared a `'table'`
 * matrix; a quantized one is read by its kernel (quantizedLookup), without gradient.
 */
import * as tf from '@tensorflow/tfjs-core'
import { customGradWhenRecording, withInferenceKernel } from '../core/grad.js'
import { onHostMemory, selectColumnsOf, selectRowsOf } from '../backend/rows.js'
import { activeSimdKernels } from '../backend/simd/module.js'
import { scatterAddRowsKernel } from '../backend/simd/row-sums.js'
import { normal } from '../core/key.js'
import { param } from '../core/tree.js'
import type { Layer } from '../core/layer.js'
import { isQuantized, quantizedLookup } from '../quant/matrix.js'
import { matmul2d, type Matrix } from './matmul.js'

/** Parameters of {@link embedding}: the table [vocab, dim]; `apply` also reads it quantized (M = {@link Matrix}). */
export interface EmbeddingParams<M = tf.Tensor2D> {
  readonly weight: M
}

/**
 * Looks up rows of `table` for integer `ids` of any shape → [...ids.shape, dim]. Rows equal to
 * `paddingIdx` get no gradient.
 */
export const lookup = (table: Matrix, ids: tf.Tensor, paddingIdx?: number): tf.Tensor => {
  if (isQuantized(table)) return quantizedLookup(table, ids)
  const [vocab, dim] = table.shape
  const flat = tf.reshape(ids, [-1]) as tf.Tensor1D
  const gathered = gatherRows(table, flat, vocab, paddingIdx ?? -1)
  return tf.reshape(gathered, [...ids.shape, dim])
}

/**
 * {@link lookup} in a table given transposed, [dim, vocab]: the rows of `tableT`ᵀ for `ids`, read
 * as columns of `tableT` ({@link selectColumns} on wasm and cpu; a gather along the columns on the
 * device elsewhere, so that the ids are not read back) — for a decoder that keeps only the tied
 * head's wteᵀ and not wte itself. While a gradient is computed it transposes the table and uses
 * {@link lookup}, so that gradients reach `tableT`. A quantized `tableT` (nn/matmul.ts's
 * `transposed` of a quantized table) is the table's own rows: they are looked up.
 */
export const lookupTransposed = (tableT: Matrix, ids: tf.Tensor): tf.Tensor => (isQuantized(tableT) ? quantizedLookup(tableT, ids) : lookupColumns(tableT, ids))

const lookupColumns = withInferenceKernel(
  (tableT: tf.Tensor2D, ids: tf.Tensor): tf.Tensor => lookup(tf.transpose(tableT) as tf.Tensor2D, ids),
  (tableT: tf.Tensor2D, ids: tf.Tensor): tf.Tensor =>
    tf.reshape(onHostMemory() ? selectColumnsOf(tableT, ids) : tf.transpose(tf.gather(tableT, tf.reshape(ids, [-1]), 1)), [...ids.shape, tableT.shape[0]]),
)

/** {@link lookupTransposed} for a batch of token ids [batch, length] → [batch, length, dim]. */
export const embedTransposed = (tableT: Matrix, ids: tf.Tensor2D): tf.Tensor3D => lookupTransposed(tableT, ids) as tf.Tensor3D

const gatherRows = (table: tf.Tensor2D, ids: tf.Tensor1D, vocab: number, paddingIdx: number): tf.Tensor2D =>
  customGradWhenRecording(gatherRowsWithGrad, lookupRows)(table, ids, vocab, paddingIdx)

/**
 * The rows of `table` for `ids`, without a gradient, by {@link selectRows} on wasm and cpu:
 * tfjs-wasm's Gather computes every element's index and is several times slower there
 * (docs/benchmarks.md). On wasm with the SIMD kernels selectRows copies the rows inside the
 * backend's memory, whatever the table's size (GPT-2's 1,024 × 768 position table at a prefill);
 * without them only a small table (at most 8× the rows asked for, Mini-GPT's 81 × 64 at a
 * decoding step, say) is looked up on the host, since that reads the table out. Any table on a
 * GPU backend (where reading the ids back would be a round trip) stays with tf.gather.
 */
const lookupRows = (table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D =>
  onHostMemory() && (table.size <= 8 * ids.size * table.shape[1] || activeSimdKernels() !== null) ? selectRowsOf(table, ids) : (tf.gather(table, ids) as tf.Tensor2D)

const gatherRowsWithGrad = (table: tf.Tensor2D, ids: tf.Tensor1D, vocab: number, paddingIdx: number): tf.Tensor2D => {
  const f = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([ids])
    return {
      value: lookupRows(t as tf.Tensor2D, ids),
      gradFunc: (dy: tf.Tensor, [savedIds]: tf.Tensor[]) =>
        scatterAddRowsKernel(dy as tf.Tensor2D, savedIds as tf.Tensor1D, vocab, paddingIdx) ?? oneHotProduct(dy as tf.Tensor2D, savedIds as tf.Tensor1D, vocab, paddingIdx),
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return f(table) as tf.Tensor2D
}

/** The table's gradient oneHot(ids)ᵀ·dy by tfjs ops (one kernel on wasm: backend/simd/row-sums.ts), the padding row zero. */
const oneHotProduct = (dy: tf.Tensor2D, savedIds: tf.Tensor1D, vocab: number, paddingIdx: number): tf.Tensor2D => {
  // Padding ids map to -1, whose one-hot row is all zeros: no gradient for that row.
  const idx = paddingIdx >= 0 ? tf.where(tf.equal(savedIds, paddingIdx), tf.fill(savedIds.shape, -1, 'int32'), savedIds) : savedIds
  // tf.oneHot rejects a depth below 2: a one-row table takes two columns and keeps row 0.
  const depth = Math.max(vocab, 2)
  const oneHotT = tf.transpose(tf.oneHot(idx as tf.Tensor1D, depth)) as tf.Tensor2D
  const g = matmul2d(oneHotT, dy as tf.Tensor2D)
  return depth === vocab ? g : tf.slice(g, [0, 0], [vocab, -1])
}

/**
 * An embedding layer of `vocab` rows of `dim` features, initialised N(0, std²) (PyTorch's
 * nn.Embedding uses std 1; GPT-2 uses 0.02), the padding row set to zero.
 */
export const embedding = (
  vocab: number,
  dim: number,
  options: { readonly paddingIdx?: number; readonly std?: number } = {},
): Layer<EmbeddingParams, tf.Tensor2D, tf.Tensor3D, EmbeddingParams<Matrix>> => {
  const { paddingIdx } = options
  if (paddingIdx !== undefined && !(Number.isInteger(paddingIdx) && paddingIdx >= 0 && paddingIdx < vocab)) {
    throw new RangeError(`embedding: paddingIdx must be an integer in [0, ${vocab}), got ${paddingIdx}`)
  }
  return {
    name: 'embedding',
    init: (k) =>
      Object.freeze({
        weight: param(
          [vocab, dim],
          () => {
            const w = normal(k, vocab * dim, options.std ?? 1)
            if (paddingIdx !== undefined) w.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim)
            return w
          },
          'table',
        ),
      }),
    apply: (p, ids) => lookup(p.weight, ids, paddingIdx) as tf.Tensor3D, // [...ids.shape, dim]
  }
}
