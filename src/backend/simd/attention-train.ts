/**
 * Multi-head attention over whole sequences as tfjs kernels on the wasm backend (train.wat's
 * `attention` and `attention_backward`), for training and for full-sequence forward passes.
 *
 * By tfjs ops, a layer's attention is four transposes (heads split and merged), two batched
 * products, a scale, a mask, a softmax — and in the backward pass as many again. tfjs-wasm
 * runs batched products as scalar loops, not XNNPACK: at Mini-GPT's training step they were
 * the largest item of the profile (docs/benchmarks.md). These kernels read the heads where the
 * projections put them (side by side in each row of [batch, T, heads·d]) and write the output
 * there, so no transpose is made; the forward pass keeps the softmax's weights for the backward
 * pass, which computes the three gradients in one sweep. Both take four query rows at a time
 * (and the backward pass four key rows), sharing each row's loads among the four. Both split the batch's
 * sequences over the kernel pool's threads (module.ts's runSplit), each in a scratch slot of
 * its own.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel, runSplit, splitSlots } from './module.js'

/** The kernels' names in tfjs's registry. */
export const ATTENTION = 'MinigptAttention'
export const ATTENTION_BACKWARD = 'MinigptAttentionBackward'

/** Sequences a thread's chunk takes at least: a few per chunk, at most eight chunks. */
const grainOf = (batch: number): number => Math.max(1, Math.ceil(batch / 8))

interface AttentionAttrs {
  readonly heads: number
  readonly scale: number
  readonly keepProbs: boolean
}

registerTrainKernel(ATTENTION, ({ inputs, backend, kernels, attrs }) => {
  const { q, k, v, mask, drop } = inputs
  const { heads, scale, keepProbs } = attrs as unknown as AttentionAttrs
  const [batch, t, e] = q.shape
  const out = backend.makeOutput([batch, t, e], 'float32')
  const probs = keepProbs ? backend.makeOutput([batch, heads, t, t], 'float32') : undefined
  const grain = grainOf(batch)
  // four query rows' interleaved scores a chunk, T + 4 vectors
  const scratch = backend.makeOutput([splitSlots(backend, batch, grain) * 4 * (t + 4)], 'float32')
  const args = [
    dataOffset(backend, q),
    dataOffset(backend, k),
    dataOffset(backend, v),
    batch,
    t,
    heads,
    e / heads,
    scale,
    mask === undefined ? 0 : dataOffset(backend, mask),
    drop === undefined ? 0 : dataOffset(backend, drop),
    probs === undefined ? 0 : dataOffset(backend, probs),
    dataOffset(backend, scratch),
    dataOffset(backend, out),
  ]
  runSplit(backend, 'train', 'attention_chunk', kernels.attention_chunk, args, batch, grain)
  backend.disposeData(scratch.dataId)
  return probs === undefined ? [out] : [out, probs]
})

registerTrainKernel(ATTENTION_BACKWARD, ({ inputs, backend, kernels, attrs }) => {
  const { dout, q, k, v, out, probs, drop } = inputs
  const { heads, scale } = attrs as unknown as AttentionAttrs
  const [batch, t, e] = q.shape
  const [dq, dk, dv] = [0, 1, 2].map(() => backend.makeOutput([batch, t, e], 'float32'))
  // one (sequence, head)'s dS [T, T rounded up to 4] a chunk, P ⊙ drop as much with a dropout mask, and four query rows' T + 4 vectors
  const grain = grainOf(batch)
  const scratch = backend.makeOutput([splitSlots(backend, batch, grain) * ((drop === undefined ? 1 : 2) * t * (t + 3) + 4 * (t + 4))], 'float32')
  const args = [
    dataOffset(backend, dout),
    dataOffset(backend, q),
    dataOffset(backend, k),
    dataOffset(backend, v),
    dataOffset(backend, out),
    dataOffset(backend, probs),
    drop === undefined ? 0 : dataOffset(backend, drop),
    batch,
    t,
    heads,
    e / heads,
    scale,
    dataOffset(backend, scratch),
    dataOffset(backend, dq),
    dataOffset(backend, dk),
    dataOffset(backend, dv),
  ]
  runSplit(backend, 'train', 'attention_backward_chunk', kernels.attention_backward_chunk, args, batch, grain)
  backend.disposeData(scratch.dataId)
  return [dq, dk, dv]
})

/** The scale of the scores, 1/√d, as tfjs ops apply it (a float32 scalar). */
const scaleOf = (q: tf.Tensor3D, heads: number): number => 1 / Math.sqrt(q.shape[2] / heads)

/** Dropout on the attention probabilities, as a function of them (the caller's, keyed). */
type DropWeights = (weights: tf.Tensor) => tf.Tensor

/**
 * The dropout mask `dropWeights` applies to weights of P's shape [batch, heads, T, T]: its
 * value on ones (dropout multiplies by a mask of 0 and 1/(1 − rate) drawn from its key alone,
 * so P·mask is what it gives P), or undefined for none.
 */
const dropMask = (q: tf.Tensor3D, heads: number, dropWeights: DropWeights | undefined): tf.Tensor | undefined => {
  if (dropWeights === undefined) return undefined
  const [batch, t] = q.shape
  return tf.tidy(() => dropWeights(tf.ones([batch, heads, t, t])))
}

const run = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor | undefined, drop: tf.Tensor | undefined, heads: number, keepProbs: boolean): tf.Tensor[] => {
  const attrs = { heads, scale: scaleOf(q, heads), keepProbs }
  const inputs: tf.NamedTensorMap = { q, k, v, ...(mask === undefined ? {} : { mask }), ...(drop === undefined ? {} : { drop }) }
  return tf.engine().runKernel(ATTENTION, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]
}

/** The kernel's output with its gradient (the backward kernel) with respect to q, k and v. */
const withGrad = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor | undefined, heads: number, dropWeights: DropWeights | undefined): tf.Tensor3D => {
  const attrs = { heads, scale: scaleOf(q, heads) }
  const f = tf.customGrad(((qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor, save: tf.GradSaveFunc) => {
    const drop = dropMask(qi as tf.Tensor3D, heads, dropWeights)
    const [out, probs] = run(qi as tf.Tensor3D, ki as tf.Tensor3D, vi as tf.Tensor3D, mask, drop, heads, true)
    save(drop === undefined ? [qi, ki, vi, out, probs] : [qi, ki, vi, out, probs, drop])
    return {
      value: out,
      gradFunc: (dout: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sp, sd] = saved
        const inputs: tf.NamedTensorMap = { dout, q: sq, k: sk, v: sv, out: so, probs: sp, ...(sd === undefined ? {} : { drop: sd }) }
        return tf.engine().runKernel(ATTENTION_BACKWARD, inputs, attrs) as tf.Tensor[]
      },
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return f(q, k, v) as tf.Tensor3D
}

/** The kernel's output where no gradient is recorded. */
const withoutGrad = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor | undefined, heads: number, dropWeights: DropWeights | undefined): tf.Tensor3D => {
  const drop = dropMask(q, heads, dropWeights)
  const out = run(q, k, v, mask, drop, heads, false)[0] as tf.Tensor3D
  drop?.dispose()
  return out
}

/**
 * softmax(Q·Kᵀ/√d + mask)·V per head for q, k, v [batch, T, heads·d] (the heads side by side,
 * before any split), mask [T, T] additive (a causal mask) or none, `dropWeights` dropout on the
 * probabilities before they multiply V (its mask drawn once, on ones of their shape): the output
 * [batch, T, heads·d], heads merged — with a gradient with respect to q, k and v while one is
 * recorded. `undefined` where the kernels do not run: not wasm, a head size that is not a
 * multiple of 4, shapes that differ, another mask shape. The caller then uses tfjs ops.
 */
export const sequenceAttention = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, mask?: tf.Tensor, dropWeights?: DropWeights): tf.Tensor3D | undefined => {
  const [, t, e] = q.shape
  const fits =
    q.rank === 3 &&
    e % heads === 0 &&
    (e / heads) % 4 === 0 &&
    t > 0 &&
    [k, v].every((x) => x.rank === 3 && x.shape.every((n, i) => n === q.shape[i])) &&
    [q, k, v].every((x) => x.dtype === 'float32') &&
    (mask === undefined || (mask.dtype === 'float32' && mask.rank === 2 && mask.shape[0] === t && mask.shape[1] === t))
  if (!fits || activeTrainKernels() === null) return undefined
  return tf.engine().isTapeOn() ? withGrad(q, k, v, mask, heads, dropWeights) : withoutGrad(q, k, v, mask, heads, dropWeights)
}
