/** Mini-GPT: the seed notebook's character-level decoder, its config and its training glue. */
export * from './config.js'
export * from './model.js'
export * from './task.js'
export * from './decoder.js'
export * from './recipe.js'
export * from './checkpoint.js'
