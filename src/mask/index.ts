/**
 * Attention masks as pure tensor builders.
 *
 * Additive masks hold 0 where attention is allowed and -Infinity where it is not; they are
 * added to the attention scores before the softmax, which turns -Infinity into an exact 0.
 * (The seed notebook's hint `triu(ones) * -inf` computes 0 × -inf = NaN below the diagonal;
 * these builders fill -Infinity where masked and 0 elsewhere.) Boolean masks hold true where
 * attention is allowed.
 */
import * as tf from '@tensorflow/tfjs-core'

/**
 * The causal mask as plain numbers: row i (a query) allows columns j ≤ offset + i, where
 * `offset = keys − queries` lets the last `queries` positions of a longer (cached) sequence
 * attend to everything before them.
 */
export const causalMaskValues = (queries: number, keys = queries): Float32Array => {
  checkLength('causalMask', queries, keys)
  const offset = keys - queries
  const m = new Float32Array(queries * keys)
  for (let i = 0; i < queries; i++) for (let j = offset + i + 1; j < keys; j++) m[i * keys + j] = -Infinity
  return m
}

const checkLength = (where: string, queries: number, keys: number) => {
  if (!Number.isInteger(queries) || queries < 1) throw new RangeError(`${where}: length must be a positive integer, got ${queries}`)
  if (!Number.isInteger(keys) || keys < queries) throw new RangeError(`${where}: keys (${keys}) must be an integer ≥ queries (${queries})`)
}

// The masks causalMask made, with their sizes: a tensor's values never change, so an attention
// kernel that applies the causal rule itself may stand in for adding one of these.
const causalMasks = new WeakMap<tf.Tensor, { readonly queries: number; readonly keys: number }>()

/** The additive causal mask [queries, keys]: 0 on and below the (shifted) diagonal, -Infinity above. */
export const causalMask = (queries: number, keys = queries): tf.Tensor2D => {
  const m = tf.tensor2d(causalMaskValues(queries, keys), [queries, keys])
  causalMasks.set(m, { queries, keys })
  return m
}

/**
 * Whether `mask` is a mask {@link causalMask} made for `queries` queries over `keys` keys: the
 * attention kernels then apply the causal rule themselves instead of adding the mask
 * (nn/attention.ts). False for any other tensor, even one of the same values.
 */
export const isCausalMask = (mask: tf.Tensor, queries: number, keys: number): boolean => {
  const shape = causalMasks.get(mask)
  return shape !== undefined && shape.queries === queries && shape.keys === keys
}

/** The boolean causal mask [queries, keys]: true where a query may attend to a key. */
export const causalMaskBool = (queries: number, keys = queries): tf.Tensor2D => {
  const v = causalMaskValues(queries, keys)
  return tf.tensor2d(
    Array.from(v, (x) => (x === 0 ? 1 : 0)),
    [queries, keys],
    'bool',
  )
}

/** Turns a boolean mask (true = allowed) into an additive one (0 / -Infinity). */
export const additive = (allowed: tf.Tensor): tf.Tensor => tf.where(allowed, tf.zeros(allowed.shape), tf.fill(allowed.shape, -Infinity))

/**
 * The additive padding mask [batch, 1, 1, length] for token ids [batch, length]: keys that
 * are padding get -Infinity, so no query attends to them. Broadcasts over heads and queries.
 */
export const paddingMask = (ids: tf.Tensor2D, padIdx: number): tf.Tensor4D => {
  const [b, t] = ids.shape
  return tf.reshape(additive(tf.notEqual(ids, padIdx)), [b, 1, 1, t]) as tf.Tensor4D
}

/** Combines additive masks (causal with padding, say) by broadcasting addition. */
export const combine = (...masks: readonly tf.Tensor[]): tf.Tensor => masks.reduce((a, b) => tf.add(a, b))

/**
 * The additive mask of a decoder's forward pass over `queries` new positions after `past`
 * cached ones: causal, plus `extra` (a padding mask) when given. One new position sees every
 * cached one: its causal row is all zeros, so it needs no causal mask at all.
 */
export const decoderMask = (queries: number, past: number, extra?: tf.Tensor): tf.Tensor | undefined => {
  const causal = queries === 1 ? undefined : causalMask(queries, past + queries)
  return extra === undefined ? causal : causal === undefined ? extra : combine(causal, extra)
}
