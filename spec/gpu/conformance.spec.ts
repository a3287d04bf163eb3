/**
 * The conformance suite on webgpu against cpu (`npm run test:gpu`): in Node through the optional
 * `webgpu` package, on whatever adapter Dawn finds (spec/gpu/env.ts for its options). No adapter
 * is a failure here, with the reason: this file runs only when a WebGPU adapter is expected.
 */
import { initBackend, webgpuAdapter } from '../../src/backend/index.js'
import { conformanceSuite } from '../conformance/suite.js'
import { webgpuOptionsFromEnv } from './env.js'

conformanceSuite('webgpu', async () => {
  await initBackend('webgpu', { webgpu: webgpuOptionsFromEnv() })
  console.log(`webgpu adapter: ${JSON.stringify(await webgpuAdapter())}`)
})
