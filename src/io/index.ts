/** Files at the edge: safetensors, float16, checkpoint folders, training states, tokenizer files (Node). */
export * from './safetensors.js'
export * from './float16.js'
export * from './files.js'
export * from './tensors.js'
export * from './minigpt-checkpoint.js'
export * from './train-state.js'
export * from './tokenizer-files.js'
export * from './hf-gpt2.js'
