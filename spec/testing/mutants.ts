/**
 * The kit's mutation suite: broken twins of the library's own models and processors, one
 * realistic bug each, and misconfigured model descriptions. The kit kills a mutant when its
 * default checks (checkCausalLm, checkSampling) report at least one failure.
 * mutation.spec.ts runs them all and prints the score (`npm run test:kit`).
 */
import * as tf from '@tensorflow/tfjs-core'
import { categorical, type Key } from '../../src/core/key.js'
import { EVAL, training } from '../../src/core/layer.js'
import { foldIn, key } from '../../src/core/key.js'
import { miniGpt, type MiniGptConfig, type MiniGptParams } from '../../src/models/minigpt/index.js'
import { gpt2, type Gpt2Config, type Gpt2Params } from '../../src/models/gpt2/index.js'
import { contextLength } from '../../src/models/minigpt/config.js'
import { tfjsDecoder } from '../../src/models/tfjs-decoder.js'
import { cacheContents, kvCache } from '../../src/nn/kv-cache.js'
import { greedy, minP, sample, softmax, temperature, topK, topP, type LogitsProcessor, type Sampler } from '../../src/sample/index.js'
import {
  checkCausalLm,
  checkSampling,
  gpt2UnderTest,
  miniGptUnderTest,
  reference,
  type CausalLm,
  type CausalLmOptions,
  type PropertyReport,
  type Selection,
  type ProcessorUnderTest,
  type SamplerUnderTest,
} from '../../src/testing/index.js'
import * as broken from './broken-models.js'
import { toyLm } from './toy-lm.js'

/** A broken twin: what its bug is, and the kit's reports on it. */
export interface Mutant {
  readonly name: string
  readonly reports: () => Promise<readonly PropertyReport[]>
}

const lm = (name: string, model: () => CausalLm<any, any>, options: CausalLmOptions & Selection = {}): Mutant => ({
  name,
  reports: () => checkCausalLm(model(), { skip: ['backendAgreement'], ...options }),
})

const processorMutant = (name: string, p: ProcessorUnderTest): Mutant => ({ name, reports: () => checkSampling({ processors: [p] }) })
const samplerMutant = (name: string, s: SamplerUnderTest): Mutant => ({ name, reports: () => checkSampling({ sampler: s }) })

const ids = (tokens: readonly (readonly number[])[]) =>
  tf.tensor2d(
    tokens.map((r) => [...r]),
    [tokens.length, tokens[0].length],
    'int32',
  )

/** The mutants over models of these configs and parameters (the caller owns the parameters). */
export const mutants = (mini: { c: MiniGptConfig; p: MiniGptParams; c1: MiniGptConfig; p1: MiniGptParams }, g2: { c: Gpt2Config; p: Gpt2Params }): readonly Mutant[] => {
  const { c, p, c1, p1 } = mini
  const real = () => miniGptUnderTest(c, p)
  const realGpt2 = () => gpt2UnderTest(g2.c, g2.p)
  const model = miniGpt(c)
  return [
    // --- masking and positions (Mini-GPT's forward rebuilt from its own pieces) ---
    lm('causal mask shifted by one', () => broken.forkedMiniGpt(c, p, { lookahead: 1 }, 'shifted mask')),
    lm('no causal mask in the last layer', () => broken.forkedMiniGpt(c, p, { unmaskedLayer: c.num_layers - 1 }, 'unmasked layer')),
    lm('causal mask wrong from position 9 on only (a chunked mask builder)', () => broken.forkedMiniGpt(c, p, { lookaheadFrom: 9 }, 'mask wrong from 9')),
    lm('padding mask laid on the queries', () => broken.forkedMiniGpt(c1, p1, { paddingOnQueries: true }, 'padding on queries')),
    lm('padding keys at -Infinity (NaN from fully padded queries)', () => broken.forkedMiniGpt(c, p, { infinitePadding: true }, 'infinite padding')),
    lm('positions counted from the end', () => broken.forkedMiniGpt(c, p, { positionsFromEnd: true }, 'right-aligned positions')),
    lm('declares left padding but counts positions by index', () => broken.forkedMiniGpt(c, p, {}, 'index positions', 'left')),
    // --- incremental decoding ---
    lm('KV cache drops its first position', () => broken.cacheDroppingMiniGpt(c, p)),
    lm('step ignores the cache', () => ({
      ...real(),
      incremental: tfjsDecoder(
        (q: MiniGptParams, x) => {
          const out = model.apply(q, { ids: x, returnCache: true }, EVAL)
          const [b, t, v] = out.logits.shape
          return { logits: tf.slice(out.logits, [0, t - 1, 0], [b, 1, v]), cache: out.cache }
        },
        p,
        { vocabSize: c.vocab_size, contextLength: contextLength(c) },
      ),
    })),
    lm('GPT-2 decoder whose steps restart at position 0', () => {
      const g = gpt2(g2.c)
      return {
        ...realGpt2(),
        incremental: tfjsDecoder(
          (q: Gpt2Params, x, cache) => {
            const fresh = g.apply(q, { ids: x, returnCache: true }, EVAL) // positions from 0, no past keys
            const [b, t, v] = fresh.logits.shape
            return {
              logits: tf.slice(fresh.logits, [0, t - 1, 0], [b, 1, v]),
              cache:
                cache === undefined
                  ? fresh.cache
                  : cache.map((kv, i) => {
                      const [a, b] = [cacheContents(kv), cacheContents(fresh.cache[i])]
                      return kvCache(tf.concat([a.k, b.k], 2) as tf.Tensor4D, tf.concat([a.v, b.v], 2) as tf.Tensor4D)
                    }),
            }
          },
          g2.p,
          { vocabSize: g2.c.vocab_size, contextLength: g2.c.n_positions },
        ),
      }
    }),
    lm('toy model whose prefill ignores the attention mask (left padding through the cache)', () => {
      const toy = toyLm(7, { padding: 'left' })
      const inc = toy.incremental
      if (inc === undefined) throw new Error('the toy model decodes incrementally')
      return { ...toy, incremental: { ...inc, prefill: (prompts) => inc.prefill(prompts) } }
    }),
    // --- batches, determinism, values ---
    lm('logits centred over the batch', () => broken.batchNormMiniGpt(c, p)),
    lm('rows mixed only in batches of 4 or more (a batched kernel path)', () => {
      const r = real()
      return {
        ...r,
        logits: (q: MiniGptParams, tokens, o) =>
          tf.tidy(() => {
            const l = r.logits(q, tokens, o) as tf.Tensor3D
            return tokens.length >= 4 ? tf.add(l, tf.mul(tf.reverse(l, 0), 0.01)) : l
          }),
      }
    }),
    lm('dropout left on', () => broken.dropoutOnMiniGpt(c, p)),
    lm('GPT-2 in training mode (dropout on)', () => {
      const g = gpt2(g2.c, 0.1)
      let calls = 0
      return { ...realGpt2(), logits: (q: Gpt2Params, tokens) => tf.tidy(() => g.apply(q, { ids: ids(tokens) }, training(foldIn(key(3), calls++))).logits) }
    }),
    lm('a token whose logits overflow', () => broken.overflowingMiniGpt(c, p, 3)),
    lm('attention weights not normalised', () => {
      const r = real()
      return {
        ...r,
        attention: (q: MiniGptParams, tokens) => tf.tidy(() => (model.apply(q, { ids: ids(tokens), returnAttention: true }, EVAL).attention ?? []).map((w) => tf.mul(w, 1.1))),
      }
    }),
    lm('logits of the wrong vocabulary size', () => ({ ...real(), vocabSize: c.vocab_size + 1 })),
    // --- misconfigured descriptions (must fail, never skip) ---
    lm('misspelled vocabSize (vocabsize)', () => {
      const { vocabSize, ...rest } = real()
      return { ...rest, vocabsize: vocabSize } as unknown as CausalLm<any, any>
    }),
    lm('missing maxLength', () => {
      const { maxLength: _, ...rest } = real()
      return rest as unknown as CausalLm<any, any>
    }),
    lm('logits is a tensor, not a function', () => ({ ...real(), logits: tf.zeros([1, 1, c.vocab_size]) }) as unknown as CausalLm<any, any>),
    lm("padding: 'masked' (a typo)", () => ({ ...real(), padding: 'masked' }) as unknown as CausalLm<any, any>),
    lm('incremental without step', () => ({ ...toyLm(5), incremental: { prefill: () => ({ logits: [], cache: 0 }) } }) as unknown as CausalLm<any, any>),
    lm('a model with a context of 1 (every invariant skipped)', () => ({ ...toyLm(5), maxLength: 1, padding: undefined, incremental: undefined }), {
      only: ['causalInvariance', 'prefixConsistency', 'kvCacheEquivalence'],
    }),
    // --- processors (broken twins of src/sample/processors.ts) ---
    processorMutant('temperature that multiplies', {
      name: 'temperature 0.7',
      processor: () => (l) => l.map((x) => x * 0.7),
      reference: reference.temperature(0.7),
      laws: ['preservesOrder'],
    }),
    processorMutant('repetition penalty in the wrong direction', {
      name: 'repetition penalty 1.3',
      processor: (ctx) => (l) => {
        const seen = new Set(ctx.tokens)
        return l.map((x, i) => (seen.has(i) ? (x > 0 ? x * 1.3 : x / 1.3) : x))
      },
      reference: reference.repetitionPenalty(1.3),
      laws: ['neverRaises'],
    }),
    processorMutant('top-p that removes too much (stops before reaching p)', {
      name: 'top-p 0.8',
      processor: () => (l) => {
        const probs = softmax(l)
        const order = Array.from(l.keys())
          .filter((i) => l[i] !== -Infinity)
          .sort((a, b) => probs[b] - probs[a] || a - b)
        const out = new Float32Array(l.length).fill(-Infinity)
        let cum = 0
        for (const i of order) {
          if (cum + probs[i] > 0.8 && cum > 0) break
          cum += probs[i]
          out[i] = l[i]
        }
        return out
      },
      reference: reference.topP(0.8),
    }),
    processorMutant('top-k that keeps k - 1', { name: 'top-k 3', processor: topK(2), reference: reference.topK(3) }),
    processorMutant('min-p on logits instead of probabilities', {
      name: 'min-p 0.2',
      processor: () => (l) => {
        const m = Math.max(...l)
        return l.map((x) => (x >= 0.2 * m ? x : -Infinity))
      },
      reference: reference.minP(0.2),
    }),
    processorMutant('temperature that turns -Infinity into the float32 minimum', {
      name: 'temperature 0.5',
      processor: () => (l) => l.map((x) => (x === -Infinity ? -3.4e38 : x / 0.5)),
      laws: ['preservesOrder'],
    }),
    processorMutant('frequency penalty that counts the prompt', {
      name: 'frequency penalty 0.5',
      processor: (ctx) => (l) => l.map((x, i) => x - 0.5 * ctx.tokens.filter((t) => t === i).length),
      reference: reference.frequencyPenalty(0.5),
      laws: ['neverRaises'],
    }),
    processorMutant('presence penalty that counts repeats', {
      name: 'presence penalty 0.5',
      processor: (ctx) => (l) => l.map((x, i) => x - 0.5 * ctx.tokens.slice(ctx.promptLength).filter((t) => t === i).length),
      reference: reference.presencePenalty(0.5),
    }),
    processorMutant('no-repeat 2-gram that looks one token too far back', {
      name: 'no-repeat 2-gram',
      processor: (ctx) => (l) => {
        const toks = ctx.tokens
        const out = l.slice()
        for (let s = 0; s + 2 <= toks.length - 1; s++) if (toks[s] === toks[toks.length - 2]) out[toks[s + 1]] = -Infinity
        return out
      },
      reference: reference.noRepeatNgram(2),
    }),
    processorMutant('min-p whose bar ignores m (keeps only the argmax ties)', { name: 'min-p 0.3', processor: minP(1), reference: reference.minP(0.3) }),
    processorMutant('top-p 0.9 built as top-p 0.5', { name: 'top-p 0.9', processor: topP(0.5), reference: reference.topP(0.9) }),
    processorMutant('temperature 2 built as temperature 0.5', { name: 'temperature 2', processor: temperature(0.5), reference: reference.temperature(2) }),
    // --- samplers (broken twins of src/sample/samplers.ts) ---
    samplerMutant('sampler that sharpens (softmax of 1.25 × logits)', {
      name: 'sample',
      distribution: 'softmax',
      sampler: (k: Key) => (l) =>
        categorical(
          k,
          Array.from(l, (x) => x * 1.25),
        ),
    }),
    samplerMutant('sampler with an off-by-one inverse CDF', {
      name: 'sample',
      distribution: 'softmax',
      sampler: (k: Key) => (l) => {
        const t = categorical(k, l)
        const next = (t + 1) % l.length
        return l[next] === -Infinity ? t : t === 0 ? next : t
      },
    }),
    samplerMutant('greedy that takes the second best', {
      name: 'greedy',
      distribution: 'argmax',
      sampler: () => (l) => {
        const best = greedy(l)
        const rest = Array.from(l, (x, i) => (i === best ? -Infinity : x))
        return rest.some((x) => x !== -Infinity) ? greedy(rest) : best
      },
    }),
    samplerMutant('sampler that un-filters -Infinity', {
      name: 'sample',
      distribution: 'softmax',
      sampler: (k: Key) => (l) =>
        categorical(
          k,
          Array.from(l, (x) => (x === -Infinity ? 0 : x)),
        ),
    }),
  ]
}

/** The correct subjects the kit must pass, by name (the caller owns the parameters). */
export const correctSubjects = (mini: { c: MiniGptConfig; p: MiniGptParams }, g2: { c: Gpt2Config; p: Gpt2Params }, tiny: { c: Gpt2Config; p: Gpt2Params }) => ({
  models: [
    miniGptUnderTest(mini.c, mini.p),
    gpt2UnderTest(g2.c, g2.p),
    gpt2UnderTest(tiny.c, tiny.p, 'GPT-2 gpt2-tiny (trained weights)'),
    toyLm(7),
    toyLm(6, { padding: 'left' }),
    broken.forkedMiniGpt(mini.c, mini.p, { realPositions: true }, 'Mini-GPT with positions over real tokens (left padding)'),
  ] as readonly CausalLm<any, any>[],
  sampling: {
    sampler: { name: 'sample', sampler: sample as Sampler, distribution: 'softmax' as const },
    processors: [
      { name: 'temperature 0.7', processor: temperature(0.7), reference: reference.temperature(0.7), laws: ['preservesOrder' as const] },
      { name: 'top-k 3', processor: topK(3), reference: reference.topK(3), laws: ['neverRaises' as const] },
      { name: 'top-p 0.8', processor: topP(0.8), reference: reference.topP(0.8), laws: ['neverRaises' as const] },
      { name: 'min-p 0.2', processor: minP(0.2), reference: reference.minP(0.2), laws: ['neverRaises' as const] },
    ] as readonly ProcessorUnderTest[],
  },
})

/** A processor type re-export for the spec. */
export type { LogitsProcessor }
