/**
 * Evaluation: the mean negative log-likelihood per predicted token over a data set, in eval
 * mode, summed batch by batch in JavaScript numbers (float64) rather than in one float32
 * reduction on the device, which drifts on large sets (docs/concepts.md).
 */
import type * as tf from '@tensorflow/tfjs-core'
import { scoped } from '../core/scope.js'
import type { NllSum } from './loss.js'

/** The validation metric: nats per predicted token, and how many tokens it covers. */
export interface EvalResult {
  readonly loss: number
  readonly tokens: number
}

/** Averages a model's summed NLL over batches: `nll(batch)` returns the sum and the count for one batch. */
export const evaluateNll = async <B>(batches: readonly B[], nll: (batch: B) => NllSum): Promise<EvalResult> => {
  let sum = 0
  let tokens = 0
  for (const b of batches) {
    const r = scoped(() => nll(b))
    const [s, c] = await Promise.all([r.sum.data(), r.count.data()])
    sum += s[0]
    tokens += c[0]
    ;(r.sum as tf.Tensor).dispose()
    ;(r.count as tf.Tensor).dispose()
  }
  return { loss: tokens === 0 ? NaN : sum / tokens, tokens }
}
