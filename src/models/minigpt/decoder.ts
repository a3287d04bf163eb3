/**
 * The library's models as {@link DecoderModel}s for the generation engine (incremental
 * decoding with a key/value cache passed from step to step).
 */
import { EVAL } from '../../core/layer.js'
import { contextLength, type MiniGptConfig } from './config.js'
import { miniGpt, type MiniGptWeights } from './model.js'
import type { DecoderModel } from '../../sample/model.js'
import { lastPosition, tfjsDecoder, type DecoderOptions, type LayerCaches } from '../tfjs-decoder.js'

/** Mini-GPT as a decoder, over a float or a quantized tree: eval mode, last-position logits, a cache per layer (float32 unless `options.cache` says bfloat16); context max_len + 2. */
export const miniGptDecoder = (config: MiniGptConfig, params: MiniGptWeights, options: DecoderOptions = {}): DecoderModel<LayerCaches> => {
  const model = miniGpt(config)
  return tfjsDecoder(
    (p: MiniGptWeights, ids, cache) => {
      const out = model.apply(p, { ids, cache, returnCache: true }, EVAL)
      return { logits: lastPosition(out.logits), cache: out.cache }
    },
    params,
    { vocabSize: config.vocab_size, contextLength: contextLength(config) },
    options,
  )
}
