/**
 * A hand-written causal language model in plain JavaScript arrays (no tfjs): the logits at a
 * position are a token's own row plus the mean of the rows of the real tokens up to it. It
 * offers incremental decoding as a DecoderModel (the generation engine's protocol) over a running
 * sum, and takes an attention mask, in prefill too. `future: true` breaks it (the mean runs over the whole sequence).
 */
import type { DecoderModel } from '../../src/sample/model.js'
import type { CausalLm } from '../../src/testing/index.js'

/** The toy model's parameters: two [vocab][vocab] tables. */
export interface ToyParams {
  readonly own: readonly (readonly number[])[]
  readonly context: readonly (readonly number[])[]
}

/** Deterministic parameters (no randomness needed): sines of the indices. */
export const toyParams = (vocab: number): ToyParams => ({
  own: Array.from({ length: vocab }, (_, i) => Array.from({ length: vocab }, (_, j) => Math.sin(1 + i * 7 + j * 3))),
  context: Array.from({ length: vocab }, (_, i) => Array.from({ length: vocab }, (_, j) => Math.cos(2 + i * 5 - j))),
})

/** Running state of incremental decoding: per row, the sum of context rows and how many. */
export interface ToyState {
  readonly id: number
  readonly sums: readonly number[][]
  readonly counts: readonly number[]
}

/** The toy model; `future` makes it see the whole sequence; `handed` and `released` record the ids of states handed to the kit and released by it. */
export const toyLm = (
  vocab: number,
  opts: { readonly future?: boolean; readonly async?: boolean; readonly released?: number[]; readonly handed?: number[]; readonly padding?: 'mask' | 'left' } = {},
): CausalLm<ToyParams, ToyState> => {
  let next = 0
  const row = (p: ToyParams, token: number, sum: readonly number[], count: number): number[] => p.own[token].map((x, v) => x + (0.5 * sum[v]) / Math.max(1, count))
  const logits = (p: ToyParams, tokens: readonly (readonly number[])[], mask?: readonly (readonly number[])[]) =>
    tokens.map((r, b) => {
      const real = (s: number) => mask === undefined || mask[b][s] === 1
      return r.map((t, i) => {
        const sum = new Array<number>(vocab).fill(0)
        let count = 0
        const upTo = opts.future === true ? r.length - 1 : i
        for (let s = 0; s <= upTo; s++) {
          if (!real(s)) continue
          p.context[r[s]].forEach((x, v) => (sum[v] += x))
          count++
        }
        return row(p, t, sum, count)
      })
    })
  // `real[b]` false: row b's token is padding and stays out of the running sum.
  const feed = (p: ToyParams, sums: readonly number[][], counts: readonly number[], tokens: readonly number[], real?: readonly boolean[]): ToyState => ({
    id: next++,
    sums: sums.map((s, b) => (real?.[b] === false ? s : s.map((x, v) => x + p.context[tokens[b]][v]))),
    counts: counts.map((c, b) => (real?.[b] === false ? c : c + 1)),
  })
  const params = toyParams(vocab)
  const p = params
  const incremental: DecoderModel<ToyState> = {
    vocabSize: vocab,
    contextLength: 16,
    prefill: async (prompts, options) => {
      const attentionMask = options?.attentionMask
      let state: ToyState = { id: next++, sums: prompts.map(() => new Array<number>(vocab).fill(0)), counts: prompts.map(() => 0) }
      for (let i = 0; i < prompts[0].length; i++)
        state = feed(
          p,
          state.sums,
          state.counts,
          prompts.map((r) => r[i]),
          attentionMask?.map((m) => m[i] === 1),
        )
      const last = prompts.map((r) => r[r.length - 1])
      opts.handed?.push(state.id)
      return { logits: last.map((t, b) => Float32Array.from(row(p, t, state.sums[b], state.counts[b]))), cache: state }
    },
    step: async (state, tokens) => {
      const s = feed(p, state.sums, state.counts, tokens)
      opts.handed?.push(s.id)
      return { logits: tokens.map((t, b) => Float32Array.from(row(p, t, s.sums[b], s.counts[b]))), cache: s }
    },
    select: (state, rows) => {
      const s = { id: next++, sums: rows.map((r) => state.sums[r]), counts: rows.map((r) => state.counts[r]) }
      opts.handed?.push(s.id)
      return s
    },
    release: (state) => {
      opts.released?.push(state.id)
    },
  }
  return {
    name: opts.future === true ? 'toy model that sees the future' : 'toy model',
    vocabSize: vocab,
    maxLength: 16,
    params,
    padding: opts.padding ?? 'mask',
    logits: (p, tokens, { attentionMask }) => (opts.async === true ? Promise.resolve(logits(p, tokens, attentionMask)) : logits(p, tokens, attentionMask)),
    incremental,
  }
}
