/**
 * Deterministic pure-JS decoders for the sample specs: the cache is just the token lists, and
 * every cache the model hands out is tracked so specs can check the engine releases each one
 * exactly once and never uses a released one.
 */
import type { DecoderModel } from '../../src/sample/index.js'

/** A toy cache: an id (for release bookkeeping) and each row's tokens so far. */
export interface ToyCache {
  readonly id: number
  readonly rows: readonly (readonly number[])[]
}

/** A toy model plus its bookkeeping. */
export interface ToyModel extends DecoderModel<ToyCache> {
  /** How many caches were handed out. */
  readonly created: () => number
  /** Ids released, in order (a double release shows up twice). */
  readonly released: () => readonly number[]
  /** Caches handed out and not released. */
  readonly live: () => number
  /** Calls made: 'prefill:B' / 'step:B' / 'select:B' with the batch size. */
  readonly calls: () => readonly string[]
}

/** Wraps a next-token function of the whole token list (prompt included) as a DecoderModel. */
export const toyModel = (
  vocabSize: number,
  contextLength: number,
  logitsOf: (tokens: readonly number[]) => Float32Array,
  opts: { readonly stepDelay?: () => Promise<void> } = {},
): ToyModel => {
  let next = 0
  const alive = new Set<number>()
  const released: number[] = []
  const calls: string[] = []
  const make = (rows: readonly (readonly number[])[]): ToyCache => {
    const c = { id: next++, rows }
    alive.add(c.id)
    return c
  }
  const use = (c: ToyCache, what: string): void => {
    if (!alive.has(c.id)) throw new Error(`${what}: cache ${c.id} used after release`)
  }
  const fits = (rows: readonly (readonly number[])[]): void => {
    for (const r of rows) if (r.length > contextLength) throw new Error(`position ${r.length - 1} is past the table (${contextLength})`)
  }
  return {
    vocabSize,
    contextLength,
    async prefill(prompts) {
      calls.push(`prefill:${prompts.length}`)
      if (new Set(prompts.map((p) => p.length)).size !== 1) throw new Error('prefill: prompts of different lengths')
      fits(prompts)
      return { logits: prompts.map(logitsOf), cache: make(prompts.map((p) => p.slice())) }
    },
    async step(cache, tokens) {
      use(cache, 'step')
      calls.push(`step:${tokens.length}`)
      if (tokens.length !== cache.rows.length) throw new Error('step: one token per row')
      const rows = cache.rows.map((r, i) => [...r, tokens[i]])
      fits(rows)
      if (opts.stepDelay) await opts.stepDelay()
      return { logits: rows.map(logitsOf), cache: make(rows) }
    },
    select(cache, rows) {
      use(cache, 'select')
      calls.push(`select:${rows.length}`)
      return make(rows.map((i) => cache.rows[i]))
    },
    release(cache) {
      alive.delete(cache.id)
      released.push(cache.id)
    },
    created: () => next,
    released: () => released.slice(),
    live: () => alive.size,
    calls: () => calls.slice(),
  }
}

/** A deterministic 32-bit hash of a list of integers. */
const hash = (xs: readonly number[]): number => {
  let h = 0x811c9dc5
  for (const x of xs) {
    h = Math.imul(h ^ (x & 0xffff), 0x01000193)
    h = Math.imul(h ^ (x >>> 16), 0x01000193)
    h ^= h >>> 15
  }
  return h >>> 0
}

/**
 * A hashed trigram "language model": each row is a pseudo-random permutation (from the last two
 * tokens and the seed) of evenly spaced logits in [-4, 4], so no two logits of a row tie.
 */
export const hashedModel = (vocabSize: number, contextLength: number, seed = 0): ToyModel =>
  toyModel(vocabSize, contextLength, (tokens) => {
    const a = tokens[tokens.length - 1] ?? -1
    const b = tokens[tokens.length - 2] ?? -1
    const h = Array.from({ length: vocabSize }, (_, v) => hash([seed, b, a, v]))
    const byHash = Array.from(h.keys()).sort((i, j) => h[i] - h[j] || i - j)
    const row = new Float32Array(vocabSize)
    byHash.forEach((v, r) => (row[v] = -4 + (8 * r) / Math.max(1, vocabSize - 1)))
    return row
  })

/** Every cache handed out was released exactly once. */
export const releasedExactlyOnce = (m: ToyModel): boolean => {
  const r = m.released()
  return m.live() === 0 && r.length === m.created() && new Set(r).size === r.length
}
