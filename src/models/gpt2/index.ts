/** GPT-2 in the library's layers: config, presets, the graph, its fine-tuning glue, decoder and checkpoint layout. */
export * from './config.js'
export * from './model.js'
export * from './task.js'
export * from './decoder.js'
export * from './checkpoint.js'
