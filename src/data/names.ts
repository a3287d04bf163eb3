/**
 * Names as training data: reading a names file, encoding a name as the seed does, splitting,
 * shuffling and batching — all pure, randomness from keys.
 */
import { permutation, split, type Key } from '../core/key.js'
import { chars, type CharVocab } from './vocab.js'

/** The lines of a names file as the seed reads it: stripped, blank lines and lines starting with `#` skipped. */
export const parseNames = (text: string): string[] =>
  text
    .split(/\r?\n/)
    // As the seed: `line.strip()` must be non-empty and the raw line must not start with '#'.
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.trim())

/** One training example: the input ids and the targets shifted by one (same length). */
export interface Example {
  readonly input: readonly number[]
  readonly target: readonly number[]
}

/**
 * The seed's encoding: SOS + name + EOS, cut to maxLen + 2 tokens (a longer name loses its
 * EOS, as in the notebook), then input = all but the last token, target = all but the first.
 * No padding here: batches pad to their own longest example.
 */
export const encodeExample = (v: CharVocab, name: string, maxLen: number): Example => {
  const ids = [
    v.sos,
    ...chars(name).map((c) => {
      const id = v.index.get(c)
      if (id === undefined) throw new RangeError(`encodeExample: character ${JSON.stringify(c)} of ${JSON.stringify(name)} is not in the vocabulary`)
      return id
    }),
    v.eos,
  ].slice(0, maxLen + 2)
  return { input: ids.slice(0, -1), target: ids.slice(1) }
}

/** A batch as host arrays, padded to its longest example: ids and targets [size, length]. */
export interface Batch {
  readonly size: number
  readonly length: number
  readonly input: Int32Array
  readonly target: Int32Array
  /** Targets that are not padding (the tokens the loss averages over). */
  readonly tokens: number
}

/**
 * Pads examples to the longest among them. The causal mask makes this exact: padding after a
 * sequence never changes the logits of its real positions, so short batches cost less than
 * padding every batch to max_len + 1.
 */
export const padBatch = (examples: readonly Example[], padIdx: number): Batch => {
  const length = Math.max(1, ...examples.map((e) => e.input.length))
  const input = new Int32Array(examples.length * length).fill(padIdx)
  const target = new Int32Array(examples.length * length).fill(padIdx)
  let tokens = 0
  examples.forEach((e, i) => {
    input.set(e.input, i * length)
    target.set(e.target, i * length)
    tokens += e.target.filter((t) => t !== padIdx).length
  })
  return { size: examples.length, length, input, target, tokens }
}

/** Cuts examples into batches of `batchSize` (the last may be smaller), in order. */
export const batches = (examples: readonly Example[], batchSize: number, padIdx: number): Batch[] => {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batch_size must be a positive integer, got ${batchSize}`)
  const out: Batch[] = []
  for (let i = 0; i < examples.length; i += batchSize) out.push(padBatch(examples.slice(i, i + batchSize), padIdx))
  return out
}

/** The items in an order drawn from the key (a pure shuffle). */
export const shuffle = <A>(k: Key, items: readonly A[]): A[] => Array.from(permutation(k, items.length), (i) => items[i])

/**
 * An epoch's batches by length bucketing: names of similar length share a batch, so each
 * batch pads to a longest example close to its others and wastes fewer positions. The
 * examples are shuffled with the key (so ties in length fall in a random order), sorted by
 * input length (a stable sort), cut into batches of `batchSize` (the last, of the longest
 * examples, may be smaller), and the batches are shuffled with the key. Every example is in
 * exactly one batch. Opt-in: the seed's recipe batches a uniform shuffle ({@link batches}).
 */
export const bucketBatches = (k: Key, examples: readonly Example[], batchSize: number, padIdx: number): Batch[] => {
  const [kItems, kOrder] = split(k)
  const sorted = shuffle(kItems, examples).sort((a, b) => a.input.length - b.input.length)
  return shuffle(kOrder, batches(sorted, batchSize, padIdx))
}

/** Splits items into (train, validation) with `fraction` of them, rounded down, as validation, after a keyed shuffle. */
export const splitTrainVal = <A>(k: Key, items: readonly A[], fraction: number): { readonly train: A[]; readonly val: A[] } => {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`splitTrainVal: fraction must be in [0, 1), got ${fraction}`)
  const s = shuffle(k, items)
  const nVal = Math.floor(fraction * items.length)
  return { train: s.slice(0, s.length - nVal), val: s.slice(s.length - nVal) }
}
