/**
 * Everything in src/sample, including the tfjs bridges (tfjsDecoder, the models' decoders) and
 * names generation: what the package's main entry exports as `sample`. The tfjs-free subset is
 * `minigpt-fp/sample` (src/sample/index.ts).
 */
export * from './index.js'
export * from '../models/tfjs-decoder.js'
export * from '../models/minigpt/decoder.js'
export * from './names.js'
export * from '../models/gpt2/decoder.js'
