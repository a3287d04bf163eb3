/**
 * A quantized GPT-2 ({@link QuantGpt2Params}) as a decoder for the generation engine
 * (generate, stream, beamSearch), through the same `tfjsDecoder` bridge as the float model's
 * `gpt2Decoder`. The head is the quantized wte itself: no transposed copy is made.
 *
 * @example
 * const q = quantizeGpt2(config, params, 'int8')
 * const decoder = quantGpt2Decoder(config, q, { ownsParams: true })
 * const r = await generate(decoder, { prompt, maxNewTokens: 20, sampler: greedySampler }, key(0))
 * decoder.dispose()
 */
import type { Gpt2Config } from '../models/gpt2/config.js'
import { tfjsDecoder } from '../models/tfjs-decoder.js'
import type { Gpt2Decoder } from '../models/gpt2/decoder.js'
import { disposeQuantGpt2, quantGpt2, type QuantGpt2Params } from './gpt2.js'

/** A decoder over quantized GPT-2 parameters; `ownsParams` makes `dispose()` free them too. */
export const quantGpt2Decoder = (config: Gpt2Config, params: QuantGpt2Params, options: { readonly ownsParams?: boolean } = {}): Gpt2Decoder => {
  const forward = quantGpt2(config)
  const decoder = tfjsDecoder((p: QuantGpt2Params, ids, cache) => forward(p, ids, cache), params, { vocabSize: config.vocab_size, contextLength: config.n_positions })
  return { ...decoder, dispose: () => (options.ownsParams === true ? disposeQuantGpt2(params) : undefined) }
}
