/** GPT-2 in the library's layers: config, presets, the graph and its fine-tuning glue. */
export * from './config.js'
export * from './model.js'
export * from './task.js'
export * from './decoder.js'
