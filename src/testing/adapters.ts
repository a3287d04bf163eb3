/**
 * The library's own models as {@link CausalLm}s: evaluation-mode logits with an optional
 * attention mask, incremental decoding through the same decoders the generation engine uses,
 * and every layer's attention weights. Each call runs in its own `tf.tidy`; the kit reads and
 * disposes what they return. The parameters stay owned by the caller.
 */
import * as tf from '@tensorflow/tfjs-core'
import { EVAL } from '../core/layer.js'
import { contextLength, type MiniGptConfig } from '../models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../models/minigpt/model.js'
import type { Gpt2Config } from '../models/gpt2/config.js'
import { gpt2, type Gpt2Params } from '../models/gpt2/model.js'
import { gpt2DecodingStep } from '../models/gpt2/decoder.js'
import { miniGptDecoder } from '../models/minigpt/decoder.js'
import { tfjsDecoder, type LayerCaches } from '../models/tfjs-decoder.js'
import { keyPaddingMask } from './arbitraries.js'
import type { CausalLm, TokenBatch } from './model.js'

const ids = (tokens: TokenBatch): tf.Tensor2D =>
  tf.tensor2d(
    tokens.map((r) => [...r]),
    [tokens.length, tokens[0]?.length ?? 0],
    'int32',
  )

/** Mini-GPT under test: logits (with a key-padding mask), incremental decoding (its decoder) and attention weights. */
export const miniGptUnderTest = (config: MiniGptConfig, params: MiniGptParams, name?: string): CausalLm<MiniGptParams, LayerCaches> => {
  const model = miniGpt(config)
  return {
    name: name ?? `Mini-GPT (vocab ${config.vocab_size}, embed ${config.embed_dim}, ${config.num_heads} heads, ${config.num_layers} layers)`,
    vocabSize: config.vocab_size,
    maxLength: contextLength(config),
    params,
    logits: (p, tokens, { attentionMask }) =>
      tf.tidy(() => model.apply(p, { ids: ids(tokens), mask: attentionMask === undefined ? undefined : keyPaddingMask(attentionMask) }, EVAL).logits),
    incremental: miniGptDecoder(config, params),
    padding: 'mask',
    attention: (p, tokens) => tf.tidy(() => [...(model.apply(p, { ids: ids(tokens), returnAttention: true }, EVAL).attention ?? [])]),
  }
}

/** GPT-2 as a decoder for the generation engine: the model's own decoding step, holding no wteᵀ. */
const gpt2Decoder = (config: Gpt2Config, params: Gpt2Params) => tfjsDecoder(gpt2DecodingStep(config), params, { vocabSize: config.vocab_size, contextLength: config.n_positions })

/** GPT-2 under test: logits (with a key-padding mask), incremental decoding with a KV cache, and attention weights. */
export const gpt2UnderTest = (config: Gpt2Config, params: Gpt2Params, name?: string): CausalLm<Gpt2Params, LayerCaches> => {
  const model = gpt2(config)
  return {
    name: name ?? `GPT-2 (vocab ${config.vocab_size}, n_embd ${config.n_embd}, ${config.n_head} heads, ${config.n_layer} layers)`,
    vocabSize: config.vocab_size,
    maxLength: config.n_positions,
    params,
    logits: (p, tokens, { attentionMask }) =>
      tf.tidy(() => model.apply(p, { ids: ids(tokens), mask: attentionMask === undefined ? undefined : keyPaddingMask(attentionMask) }, EVAL).logits),
    incremental: gpt2Decoder(config, params),
    padding: 'mask',
    attention: (p, tokens) => tf.tidy(() => [...(model.apply(p, { ids: ids(tokens), returnAttention: true }, EVAL).attention ?? [])]),
  }
}
