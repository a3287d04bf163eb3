/**
 * Joining two tensors along one axis as one tfjs kernel on the wasm backend: a loop of
 * `memory.copy` per block (kernels.wat). tfjs-wasm's Concat is a JavaScript loop making two
 * subarrays per block: appending one position to a Mini-GPT cache of 1,000 rows × 4 heads is
 * 4,000 blocks of a few hundred bytes, where the loop's overhead is most of the cost.
 */
import * as tf from '@tensorflow/tfjs-core'
import { withInferenceKernel } from '../../core/grad.js'
import { activeSimdKernels, dataOffset, registerSimdKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const CONCAT_BLOCKS = 'MinigptConcatBlocks'

registerSimdKernel(CONCAT_BLOCKS, ({ inputs, backend, kernels, attrs }) => {
  const { a, b: c } = inputs
  const axis = (attrs as { axis: number }).axis
  const shape = a.shape.map((n, i) => (i === axis ? n + c.shape[i] : n))
  const out = backend.makeOutput(shape, a.dtype)
  const blocks = tf.util.sizeFromShape(a.shape.slice(0, axis))
  const bytes = (s: readonly number[]) => 4 * tf.util.sizeFromShape(s.slice(axis))
  kernels.concat_blocks(dataOffset(backend, a), bytes(a.shape), dataOffset(backend, c), bytes(c.shape), blocks, dataOffset(backend, out))
  return out
})

const concatKernel = (a: tf.Tensor, b: tf.Tensor, axis: number): tf.Tensor | undefined => {
  const fits =
    a.rank === b.rank &&
    a.dtype === b.dtype &&
    (a.dtype === 'float32' || a.dtype === 'int32') &&
    axis >= 0 &&
    axis < a.rank &&
    a.shape.every((n, i) => i === axis || n === b.shape[i]) &&
    a.size > 0 &&
    b.size > 0
  return fits && activeSimdKernels() !== null ? (tf.engine().runKernel(CONCAT_BLOCKS, { a, b }, { axis }) as tf.Tensor) : undefined
}

const concat = withInferenceKernel((a: tf.Tensor, b: tf.Tensor, axis: number): tf.Tensor => tf.concat([a, b], axis), concatKernel)

/**
 * `tf.concat([a, b], axis)` for two tensors of the same rank, dtype (float32 or int32) and
 * shape but along `axis`, by the kernel on wasm; tf.concat elsewhere (and for what the kernel
 * does not take, which tf.concat then accepts or refuses) and while a gradient is computed.
 */
export const concat2 = <T extends tf.Tensor>(a: T, b: T, axis: number): T => concat(a, b, axis) as T
