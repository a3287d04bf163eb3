/** GPT-2 in the library's layers: config, presets and the graph. */
export * from './config.js'
export * from './model.js'
