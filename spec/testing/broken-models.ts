/**
 * Deliberately broken variants of the library's models, for proving that the kit catches
 * bugs. `forkedMiniGpt` is Mini-GPT's forward pass rebuilt from the real pieces (the real
 * decoder block, embedding, positions, norm and head, on the real parameter tree) with knobs
 * for classic masking bugs; with no knob set it computes exactly what src/models/minigpt does
 * (broken-models.spec.ts checks that first). The other variants wrap the real model.
 */
import * as tf from '@tensorflow/tfjs-core'
import { EVAL, training } from '../../src/core/layer.js'
import { foldIn, key } from '../../src/core/key.js'
import { causalMask } from '../../src/mask/index.js'
import { contextLength, decoderBlock, miniGpt, type MiniGptConfig, type MiniGptParams } from '../../src/models/minigpt/index.js'
import { cacheContents, kvCache, layerNorm, linear, lookup, sinusoidalTable, type KVCache } from '../../src/nn/index.js'
import { tfjsDecoder } from '../../src/models/tfjs-decoder.js'
import { keyPaddingMask, miniGptUnderTest, type CausalLm, type TokenBatch } from '../../src/testing/index.js'

/** The bugs the fork can have. */
export interface Bugs {
  /** The causal mask lets each query see `lookahead` later positions (0 is correct). */
  readonly lookahead?: number
  /** This layer gets no mask at all. */
  readonly unmaskedLayer?: number
  /** The key-padding mask is laid along the queries axis ([b, 1, t, 1]) instead of the keys ([b, 1, 1, t]). */
  readonly paddingOnQueries?: boolean
  /** Positions count from the end of the sequence (right-aligned), so a prefix sees different positions. */
  readonly positionsFromEnd?: boolean
  /** Queries from this position on also see the next position (a mask built in chunks, wrong past the first chunk). */
  readonly lookaheadFrom?: number
  /** Padding keys get -Infinity instead of a large finite score (fully padded queries turn to NaN). */
  readonly infinitePadding?: boolean
  /**
   * Not a bug: positions count real tokens only (Hugging Face's position ids from the mask), so
   * the fork supports left padding; with `false` and `padding: 'left'` declared, it is the bug.
   */
  readonly realPositions?: boolean
}

const ids = (tokens: TokenBatch): tf.Tensor2D =>
  tf.tensor2d(
    tokens.map((r) => [...r]),
    [tokens.length, tokens[0].length],
    'int32',
  )

/** A causal mask whose rows allow `lookahead` positions past the diagonal. */
const shiftedCausal = (t: number, lookahead: number): tf.Tensor2D =>
  tf.tensor2d(
    Array.from({ length: t * t }, (_, n) => (n % t <= Math.floor(n / t) + lookahead ? 0 : -Infinity)),
    [t, t],
  )

/** Mini-GPT's forward (full sequences, evaluation mode) with the given bugs, on the real parameters. */
export const forkedForward = (c: MiniGptConfig, bugs: Bugs = {}) => {
  const block = decoderBlock(c)
  const norm = layerNorm(c.embed_dim, 1e-5)
  const head = linear(c.embed_dim, c.vocab_size)
  const table = sinusoidalTable(contextLength(c), c.embed_dim)
  return (p: MiniGptParams, tokens: TokenBatch, attentionMask?: TokenBatch, returnAttention = false) => {
    const x0 = ids(tokens)
    const t = tokens[0].length
    const emb = tf.mul(lookup(p.embedding.weight, x0, c.pad_idx), Math.sqrt(c.embed_dim))
    const rows = Array.from({ length: t }, (_, i) => (bugs.positionsFromEnd === true ? t - 1 - i : i))
    const at = (r: number) => Array.from(table.subarray(r * c.embed_dim, (r + 1) * c.embed_dim))
    const realRows = (m: readonly number[]) => m.map((_, i) => Math.max(0, m.slice(0, i + 1).filter((x) => x === 1).length - 1))
    const pos =
      bugs.realPositions === true && attentionMask !== undefined
        ? tf.tensor3d(
            attentionMask.map((m) => realRows(m).map(at)),
            [tokens.length, t, c.embed_dim],
          )
        : tf.tensor2d(rows.flatMap(at), [t, c.embed_dim])
    let x = tf.add(emb, pos) as tf.Tensor3D
    const from = bugs.lookaheadFrom
    const causal =
      (bugs.lookahead ?? 0) > 0
        ? shiftedCausal(t, bugs.lookahead ?? 0)
        : from !== undefined
          ? tf.tensor2d(
              Array.from({ length: t * t }, (_, n) => (n % t <= Math.floor(n / t) + (Math.floor(n / t) >= from ? 1 : 0) ? 0 : -Infinity)),
              [t, t],
            )
          : causalMask(t)
    const keys =
      attentionMask === undefined
        ? undefined
        : bugs.infinitePadding === true
          ? tf.reshape(
              tf.tensor2d(
                attentionMask.map((r) => r.map((v) => (v === 1 ? 0 : -Infinity))),
                [tokens.length, t],
              ),
              [tokens.length, 1, 1, t],
            )
          : keyPaddingMask(attentionMask)
    const padding = keys === undefined ? undefined : bugs.paddingOnQueries === true ? tf.reshape(keys, [tokens.length, 1, t, 1]) : keys
    const mask = padding === undefined ? causal : tf.add(causal, padding)
    const weights: tf.Tensor4D[] = []
    p.layers.forEach((lp, i) => {
      const layerMask = bugs.unmaskedLayer === i ? tf.zeros([t, t]) : mask
      const out = block.apply(lp, { x, mask: layerMask, returnWeights: returnAttention }, EVAL)
      x = out.x
      if (out.weights !== undefined) weights.push(out.weights)
    })
    const logits = head.apply(p.head, norm.apply(p.norm, x, EVAL), EVAL) as tf.Tensor3D
    return { logits, weights }
  }
}

/** The fork as a model under test (no incremental decoding: the bugs are in the full pass); it declares `padding: 'left'` with `realPositions`. */
export const forkedMiniGpt = (
  c: MiniGptConfig,
  params: MiniGptParams,
  bugs: Bugs,
  name: string,
  padding: 'mask' | 'left' = bugs.realPositions === true ? 'left' : 'mask',
): CausalLm<MiniGptParams> => {
  const f = forkedForward(c, bugs)
  return {
    name,
    vocabSize: c.vocab_size,
    maxLength: contextLength(c),
    params,
    padding,
    logits: (p, tokens, { attentionMask }) => tf.tidy(() => f(p, tokens, attentionMask).logits),
    attention: (p, tokens) => tf.tidy(() => f(p, tokens, undefined, true).weights),
  }
}

/** Keeps all but the first position of each layer's cache (a sliding window off by one). */
const dropFirst = (cache: readonly KVCache[] | undefined): readonly KVCache[] | undefined =>
  cache?.map((c) => {
    const { k, v } = cacheContents(c)
    const [b, h, n, d] = k.shape
    return n <= 1 ? kvCache(k, v) : kvCache(tf.slice(k, [0, 0, 1, 0], [b, h, n - 1, d]), tf.slice(v, [0, 0, 1, 0], [b, h, n - 1, d]))
  })

/** The real Mini-GPT whose incremental decoder drops the first cached position at every step. */
export const cacheDroppingMiniGpt = (c: MiniGptConfig, params: MiniGptParams): CausalLm<MiniGptParams> => {
  const model = miniGpt(c)
  const decoder = tfjsDecoder(
    (p: MiniGptParams, x, cache) => {
      const out = model.apply(p, { ids: x, cache: dropFirst(cache), returnCache: true }, EVAL)
      const [b, t, v] = out.logits.shape
      return { logits: tf.slice(out.logits, [0, t - 1, 0], [b, 1, v]), cache: out.cache }
    },
    params,
    { vocabSize: c.vocab_size, contextLength: contextLength(c) },
  )
  return { ...miniGptUnderTest(c, params), name: 'Mini-GPT with a cache that drops its first position', incremental: decoder }
}

/** The real Mini-GPT with dropout left on: each call draws a fresh key from a counter (hidden state). */
export const dropoutOnMiniGpt = (c: MiniGptConfig, params: MiniGptParams): CausalLm<MiniGptParams> => {
  const model = miniGpt(c)
  let calls = 0
  return {
    ...miniGptUnderTest(c, params),
    name: 'Mini-GPT with dropout left on',
    logits: (p, tokens) => tf.tidy(() => model.apply(p, { ids: ids(tokens) }, training(foldIn(key(7), calls++))).logits),
  }
}

/** The real Mini-GPT followed by a "normalisation" over the batch axis (batch mates leak into each other). */
export const batchNormMiniGpt = (c: MiniGptConfig, params: MiniGptParams): CausalLm<MiniGptParams> => {
  const real = miniGptUnderTest(c, params)
  return {
    ...real,
    name: 'Mini-GPT with logits centred over the batch',
    logits: (p, tokens, o) =>
      tf.tidy(() => {
        const l = real.logits(p, tokens, o) as tf.Tensor3D
        return tf.sub(l, tf.mul(tf.mean(l, 0, true), 0.5))
      }),
  }
}

/** The real Mini-GPT, nudged by 0.01 on the wasm backend only (a kernel that disagrees). */
export const wasmSkewedMiniGpt = (c: MiniGptConfig, params: MiniGptParams): CausalLm<MiniGptParams> => {
  const real = miniGptUnderTest(c, params)
  return {
    ...real,
    name: 'Mini-GPT with a wasm kernel off by 0.01',
    logits: (p, tokens, o) =>
      tf.tidy(() => {
        const l = real.logits(p, tokens, o) as tf.Tensor3D
        return tf.getBackend() === 'wasm' ? tf.add(l, 0.01) : l
      }),
  }
}

/** The real Mini-GPT with a token whose logits overflow to Infinity (a table entry scaled to overflow). */
export const overflowingMiniGpt = (c: MiniGptConfig, params: MiniGptParams, badToken: number): CausalLm<MiniGptParams> => {
  const real = miniGptUnderTest(c, params)
  return {
    ...real,
    name: `Mini-GPT whose token ${badToken} overflows`,
    logits: (p, tokens, o) =>
      tf.tidy(() => {
        const l = real.logits(p, tokens, o) as tf.Tensor3D
        const bad = tf.expandDims(tf.equal(ids(tokens), badToken), 2)
        return tf.where(tf.broadcastTo(bad, l.shape), tf.mul(l, 1e38 * 1e38), l)
      }),
  }
}
