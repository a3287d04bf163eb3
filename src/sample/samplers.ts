/**
 * Samplers: choose one token from a row of (processed) logits.
 *
 * {@link greedy} is the argmax; {@link sample} draws from softmax(logits) with the library's
 * Threefry keys ({@link prepareCategorical} from src/core/key.ts: the inverse CDF in float64 on the host),
 * so a draw depends only on the key and the logits, never on the backend or the batch.
 */
import { categorical, prepareCategorical, type Key } from '../core/key.js'

/** Chooses a token from logits; keyed so that sampling is a pure function of the key. */
export type Sampler = (key: Key) => (logits: ArrayLike<number>) => number

/**
 * The index of the largest logit, the lowest index on ties. Throws a RangeError when the row
 * has no candidate (empty, or every logit -Infinity) or contains NaN.
 */
export const greedy = (logits: ArrayLike<number>): number => {
  let best = -1
  let bestValue = -Infinity
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]
    if (Number.isNaN(x)) throw new RangeError(`greedy: logit ${i} is NaN`)
    if (x > bestValue) {
      best = i
      bestValue = x
    }
  }
  if (best < 0) throw new RangeError('greedy: every logit is -Infinity, nothing can be chosen')
  return best
}

/**
 * A sampler whose work on a row of logits can be done once and reused for many keys (the rows
 * of a batch that share their logits), reporting the chosen token's log-probability from the
 * sums it computes anyway. The engine uses `prepare` when a sampler has it.
 */
export interface PreparedSampler extends Sampler {
  readonly prepare: (logits: ArrayLike<number>) => (key: Key) => { readonly token: number; readonly logprob: number }
}

/** One categorical draw from softmax(logits) with `key` (see {@link prepareCategorical}). */
export const sample: PreparedSampler = Object.assign(
  (key: Key) =>
    (logits: ArrayLike<number>): number =>
      categorical(key, logits),
  { prepare: prepareCategorical },
)

/** {@link greedy} as a {@link Sampler} (it ignores the key). */
export const greedySampler: Sampler = () => greedy
