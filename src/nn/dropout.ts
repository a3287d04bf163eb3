/**
 * Dropout with an explicit key: in training mode each element is zeroed with probability
 * `rate` and the rest scaled by 1/(1 − rate); in evaluation mode it is the identity.
 *
 * The mask comes from tfjs's seeded uniform generator, seeded from the context's key, which
 * gives the same mask on cpu, wasm and in the browser (docs/concepts.md) without a
 * host-side draw per element on the hot path.
 */
import * as tf from '@tensorflow/tfjs-core'
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
  const seed = bits(ctx.key, 1)[0]
  const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate)
  return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - rate)))
}

/** A dropout layer with the given rate in [0, 1). */
export const dropout = (rate: number): TensorLayer<NoParams> => {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`)
  return { name: 'dropout', init: () => NO_PARAMS, apply: (_p, x, ctx) => dropoutOp(x, rate, ctx) }
}
