/** The functional core: keys, parameter trees, layers and combinators, gradients, memory scopes, errors. */
export * from './key.js'
export * as tree from './tree.js'
export type { Tree, MapLeaves, Flat } from './tree.js'
export * from './layer.js'
export * from './grad.js'
export * from './scope.js'
export * from './errors.js'
export * as codecs from './codecs.js'
