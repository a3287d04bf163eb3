/** Training: losses, the pure step, the owning trainer, the event loop, evaluation. */
export * from './loss.js'
export * from './step.js'
export * from './loop.js'
export * from './evaluate.js'
export * from './leafwise.js'
export * from './tied-head.js'
