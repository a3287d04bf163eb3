/**
 * minigpt-fp: a functional, immutable-style machine-learning DSL for TypeScript on
 * TensorFlow.js — layers as pure functions over typed parameter trees, explicit keys for
 * randomness, pure optimizers and samplers — and the Mini-GPT and GPT-2 built with it.
 *
 * The most used pieces are exported flat (`key`, `split`, `linear`, `initBackend` …); each
 * area is also exported as a namespace (`tree`, `nn`, `optim`, `train`, `data`, `minigpt`,
 * `gpt2`, `mask`).
 */
export * from './core/index.js'
export * from './backend/index.js'
export * from './backend/rows.js'
export * from './nn/index.js'
export * as nn from './nn/index.js'
export * as mask from './mask/index.js'
export * as optim from './optim/index.js'
export * as train from './entry/train.js'
export * as data from './data/index.js'
export * as minigpt from './models/minigpt/index.js'
export * as gpt2 from './models/gpt2/index.js'
export * as sample from './entry/sample.js'
export * as quant from './quant/index.js'
export * as io from './io/index.js'
export * as viz from './viz/index.js'
