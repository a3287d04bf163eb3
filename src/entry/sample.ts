/**
 * Everything in src/sample, with names generation and the tfjs decoders (tfjsDecoder, the
 * models' decoders, which live in src/models): what the package's main entry exports as `sample`. The tfjs-free subset is
 * `minigpt-fp/sample` (src/sample/index.ts).
 */
export * from '../sample/index.js'
export * from '../sample/names.js'
export * from '../models/tfjs-decoder.js'
export * from '../models/minigpt/decoder.js'
export * from '../models/gpt2/decoder.js'
