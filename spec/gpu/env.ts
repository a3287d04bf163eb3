/**
 * The webgpu options of `npm run test:gpu` and bench/gpu.mjs, from the environment:
 * MINIGPT_WEBGPU_FLAGS (Dawn's flags, comma-separated, e.g. `backend=vulkan`) and
 * MINIGPT_WEBGPU_FEATURE_LEVEL (`core`, the default, or `compatibility`).
 */
import type { WebGpuNodeOptions } from '../../src/backend/index.js'

/** The options the environment asks for. */
export const webgpuOptionsFromEnv = (): WebGpuNodeOptions => ({
  dawnFlags: (process.env.MINIGPT_WEBGPU_FLAGS ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== ''),
  featureLevel: process.env.MINIGPT_WEBGPU_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : 'core',
})
