/**
 * GPT-2 as a {@link DecoderModel} for the generation engine (generate, stream, beamSearch):
 * the model's forward pass with its KV cache, through {@link tfjsDecoder}.
 *
 * Two things make decoding cheap: the tied head's transpose wteᵀ [n_embd, vocab] is computed
 * once when the decoder is made (a transpose per step would copy the 154 MB embedding of the
 * 124M model at every token), and only the last position's logits are computed (the head
 * runs on one row per sequence, also in prefill).
 *
 * Memory: a decoding step's products on wasm read a copy of each weight matrix packed on first
 * use (backend/simd/gemv.ts, as XNNPACK would), so decoding holds the float weights twice. A decoder that owns its parameters
 * (`ownsParams`) frees wte once it has wteᵀ and reads token embeddings from wteᵀ's columns:
 * one copy of the embedding fewer (154 MB for the 124M model; docs/benchmarks.md).
 *
 * This module imports tfjs; like tfjs-decoder.ts it is exported by the package's main entry,
 * not by the tfjs-free `minigpt-fp/sample` subpath.
 *
 * @example
 * const decoder = gpt2Decoder(config, params)
 * const r = await generate(decoder, { prompt: tokenizer.encode('The wizard'), maxNewTokens: 20, sampler: greedySampler }, key(0))
 * decoder.dispose()   // frees wteᵀ; the parameters stay the caller's
 */
import type * as tf from '@tensorflow/tfjs-core'
import { EVAL } from '../../core/layer.js'
import type { Gpt2Config } from './config.js'
import { embedTransposed } from '../../nn/embedding.js'
import { transposed, type Matrix } from '../../nn/matmul.js'
import { disposeQuantTree } from '../../quant/matrix.js'
import { gpt2Trunk, tiedHead, type Gpt2Weights } from './model.js'
import type { KVCache } from '../../nn/attention.js'
import type { DecoderModel } from '../../sample/model.js'
import { lastPosition, tfjsDecoder, type DecoderOptions, type LayerCaches } from '../tfjs-decoder.js'

/** What a decoding step returns: the last position's logits [batch, 1, vocab] and the caches. */
export interface Gpt2StepOutput {
  readonly logits: tf.Tensor3D
  readonly cache: readonly KVCache[]
}

/**
 * GPT-2's decoding step (evaluation mode), for a float or a quantized tree: the trunk over the
 * new ids after the cache, then the tied head on the last position only. With `wteT`
 * (`transposed(wte)`, kept by the caller) the token embeddings are read from its columns and
 * `p.wte` is not read; without it, wte is transposed at each step (what a test harness that
 * holds nothing wants).
 */
export const gpt2DecodingStep = (config: Gpt2Config, wteT?: Matrix) => {
  const trunk = gpt2Trunk(config)
  return (p: Gpt2Weights, ids: tf.Tensor2D, cache?: readonly KVCache[]): Gpt2StepOutput => {
    const out = trunk.apply(p, { ids, cache, returnCache: true, tokens: wteT === undefined ? undefined : embedTransposed(wteT, ids) }, EVAL)
    return { logits: tiedHead(lastPosition(out.hidden), wteT ?? transposed(p.wte.weight)), cache: out.cache }
  }
}

/** A GPT-2 decoder: a {@link DecoderModel} plus `dispose`, which frees what the decoder holds. */
export interface Gpt2Decoder extends DecoderModel<LayerCaches> {
  /** Frees wteᵀ (a float model's), and the parameters too when the decoder owns them (`ownsParams`). */
  readonly dispose: () => void
}

/** Options of {@link gpt2Decoder}: the cache's format ({@link DecoderOptions}), and who owns the parameters. */
export interface Gpt2DecoderOptions extends DecoderOptions {
  /**
   * The decoder takes the parameters over: it disposes wte at once (keeping wteᵀ only) and the
   * rest in `dispose()`. For parameters that serve only this decoder (`minigpt gpt2
   * generate`); the caller must not use them afterwards. Default false: the parameters stay
   * the caller's, untouched.
   */
  readonly ownsParams?: boolean
}

/**
 * A decoder over GPT-2 parameters, float or quantized (evaluation mode, no dropout). Its
 * context length is the config's n_positions; its vocabulary size is vocab_size. The
 * parameters must stay alive as long as the decoder is used. A quantized wte is its own
 * transpose (`transposed`): the decoder keeps no copy of it.
 */
export const gpt2Decoder = (config: Gpt2Config, params: Gpt2Weights, options: Gpt2DecoderOptions = {}): Gpt2Decoder => {
  const wte = params.wte.weight
  const wteT = transposed(wte)
  const copied = wteT !== wte
  if (options.ownsParams === true && copied) disposeQuantTree(wte)
  const decoder = tfjsDecoder(gpt2DecodingStep(config, wteT), params, { vocabSize: config.vocab_size, contextLength: config.n_positions }, options)
  const dispose = () => {
    if (copied) disposeQuantTree(wteT)
    if (options.ownsParams === true) disposeQuantTree(params) // a float wte is disposed already: disposing again is a no-op
  }
  return { ...decoder, dispose }
}
