/** Data: the character vocabulary, names as training data, the embedded corpus, GPT-2's BPE. */
export * from './vocab.js'
export * from './names.js'
export * from './corpus.js'
export * from './bpe.js'
