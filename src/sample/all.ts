/**
 * Everything in src/sample, including the tfjs bridges (tfjsDecoder, the models' decoders) and
 * names generation: what the package's main entry exports as `sample`. The tfjs-free subset is
 * `minigpt-fp/sample` (src/sample/index.ts).
 */
export * from './index.js'
export * from './tfjs-decoder.js'
export * from './decoders.js'
export * from './names.js'
export * from './gpt2-decoder.js'
