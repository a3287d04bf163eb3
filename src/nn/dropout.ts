/**
 * Dropout with an explicit key: in training mode each element is zeroed with probability
 * `rate` and the rest scaled by 1/(1 − rate); in evaluation mode it is the identity.
 *
 * The mask comes from tfjs's seeded uniform generator, seeded from the context's key, which
 * gives the same mask on cpu, wasm and in the browser (docs/concepts.md). On wasm one kernel
 * (backend/simd/dropout-mask.ts) draws the same mask and applies it, in place of a host-side
 * draw per element and four ops.
 */
import * as tf from '@tensorflow/tfjs-core'
import { dropoutKernel, dropoutKernelApplies } from '../backend/simd/dropout-mask.js'
import { customGradWhenRecording } from '../core/grad.js'
import { bits } from '../core/key.js'
import { nameAt, NO_PARAMS, type Ctx, type NoParams, type TensorLayer } from '../core/layer.js'

/**
 * Applies dropout to x under ctx, its mask drawn from ctx's key. A dropout site in a layer's
 * body runs under the context at its own path (`dropoutOp(x, rate, at(ctx, 'pos_encoding.dropout'))`),
 * which names it in errors and gives it its own stream. Throws if training with rate > 0 and no key.
 */
export const dropoutOp = <T extends tf.Tensor>(x: T, rate: number, ctx: Ctx): T => {
  if (!ctx.training || rate === 0) return x
  if (ctx.key === undefined) throw new Error(`${nameAt(ctx, 'dropout')}: training with dropout needs a key in the context (use training(key))`)
  return dropSeeded(x, rate, bits(ctx.key, 1)[0]) as T
}

/** x · mask with mask = (uniform(seed) ≥ rate) / (1 − rate), by tfjs ops; and the mask. */
const opsWithMask = (x: tf.Tensor, rate: number, seed: number): { readonly output: tf.Tensor; readonly mask: tf.Tensor } => {
  const mask = tf.mul(tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate), 'float32'), 1 / (1 - rate))
  return { output: tf.mul(x, mask), mask }
}

/** The kernel's output, with the gradient the ops have: dy · mask. */
const dropSeededWithGrad = (x: tf.Tensor, rate: number, seed: number): tf.Tensor => {
  const f = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    // Where the kernel applies (dropSeeded checked); the ops' mask otherwise, the same numbers.
    const fused = dropoutKernel(t, rate, seed) ?? opsWithMask(t, rate, seed)
    save([fused.mask])
    return { value: fused.output, gradFunc: (dy: tf.Tensor, [mask]: tf.Tensor[]) => tf.mul(dy, mask) }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return f(x) as tf.Tensor
}

/** The kernel's output, outside gradient recording. */
const dropSeededPlain = (x: tf.Tensor, rate: number, seed: number): tf.Tensor => (dropoutKernel(x, rate, seed) ?? opsWithMask(x, rate, seed)).output

/** The dropout by the kernel where it runs (wasm), by ops elsewhere: the same numbers. */
const dropSeeded = (x: tf.Tensor, rate: number, seed: number): tf.Tensor =>
  dropoutKernelApplies(x) ? customGradWhenRecording(dropSeededWithGrad, dropSeededPlain)(x, rate, seed) : opsWithMask(x, rate, seed).output

/** A dropout layer with the given rate in [0, 1). */
export const dropout = (rate: number): TensorLayer<NoParams> => {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`)
  return { name: 'dropout', init: () => NO_PARAMS, apply: (_p, x, ctx) => dropoutOp(x, rate, ctx) }
}
