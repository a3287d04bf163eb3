/**
 * GPT-2 as a {@link DecoderModel} for the generation engine (generate, stream, beamSearch):
 * the model's forward pass with its KV cache, through {@link tfjsDecoder}.
 *
 * Two things make decoding cheap: the tied head's transpose wteᵀ [n_embd, vocab] is computed
 * once when the decoder is made (a transpose per step would copy the 154 MB embedding of the
 * 124M model at every token), and only the last position's logits are computed (`lastOnly`:
 * the final LayerNorm and the head run on one row per sequence, also in prefill).
 *
 * This module imports tfjs; like tfjs-decoder.ts it is exported by the package's main entry,
 * not by the tfjs-free `minigpt-fp/sample` subpath.
 *
 * @example
 * const decoder = gpt2Decoder(config, params)
 * const r = await generate(decoder, { prompt: tokenizer.encode('The wizard'), maxNewTokens: 20, sampler: greedySampler }, key(0))
 * decoder.dispose()   // frees wteᵀ; the parameters stay the caller's
 */
import * as tf from '@tensorflow/tfjs-core'
import { EVAL } from '../core/layer.js'
import type { Gpt2Config } from '../models/gpt2/config.js'
import { gpt2, type Gpt2Params } from '../models/gpt2/model.js'
import type { DecoderModel } from './model.js'
import { tfjsDecoder, type LayerCaches } from './tfjs-decoder.js'

/** A GPT-2 decoder: a {@link DecoderModel} plus `dispose`, which frees the transposed head it holds. */
export interface Gpt2Decoder extends DecoderModel<LayerCaches> {
  /** Frees wteᵀ. The parameters are not the decoder's: their owner disposes them. */
  readonly dispose: () => void
}

/**
 * A decoder over GPT-2 parameters (evaluation mode, no dropout). Its context length is the
 * config's n_positions; its vocabulary size is vocab_size. The parameters must stay alive as
 * long as the decoder is used.
 */
export const gpt2Decoder = (config: Gpt2Config, params: Gpt2Params): Gpt2Decoder => {
  const model = gpt2(config)
  const headT = tf.tidy(() => tf.transpose(params.wte.weight) as tf.Tensor2D)
  const decoder = tfjsDecoder(
    (p: Gpt2Params, ids, cache) => model.apply(p, { ids, cache, headT, lastOnly: true }, EVAL),
    params,
    { vocabSize: config.vocab_size, contextLength: config.n_positions },
  )
  return { ...decoder, dispose: () => headT.dispose() }
}
