/**
 * The browser's stand-in for src/backend/webgpu-node.ts, which the playground's Vite config
 * aliases in: the library loads that Node helper only under Node (behind `isNode()`), but a
 * bundler still follows the import into the `webgpu` package and warns about its Node modules.
 */
import type { WebGpuAdapterInfo } from '../../../src/backend/webgpu-node.js'

export const nodeWebGpuAdapter = (): WebGpuAdapterInfo | undefined => undefined

export const registerNodeWebGpu = (): Promise<never> => Promise.reject(new Error('registerNodeWebGpu is Node-only: in a page, webgpu uses the browser’s navigator.gpu'))
