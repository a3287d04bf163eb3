/**
 * The library's models as {@link DecoderModel}s for the generation engine (incremental
 * decoding with a key/value cache passed from step to step).
 */
import * as tf from '@tensorflow/tfjs-core'
import { EVAL } from '../../core/layer.js'
import { contextLength, type MiniGptConfig } from './config.js'
import { miniGpt, type MiniGptWeights } from './model.js'
import type { DecoderModel } from '../../sample/model.js'
import { tfjsDecoder, type LayerCaches } from '../tfjs-decoder.js'

/** Mini-GPT as a decoder, over a float or a quantized tree: eval mode, last-position logits, a cache per layer; context max_len + 2. */
export const miniGptDecoder = (config: MiniGptConfig, params: MiniGptWeights): DecoderModel<LayerCaches> => {
  const model = miniGpt(config)
  return tfjsDecoder(
    (p: MiniGptWeights, ids, cache) => {
      const out = model.apply(p, { ids, cache, returnCache: true }, EVAL)
      const [b, t, v] = out.logits.shape
      return { logits: t === 1 ? out.logits : tf.slice(out.logits, [0, t - 1, 0], [b, 1, v]), cache: out.cache }
    },
    params,
    { vocabSize: config.vocab_size, contextLength: contextLength(config) },
  )
}
