import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

/** `npm run test:gpu`: the specs that need a WebGPU adapter (spec/gpu), one file at a time. */
export default defineConfig({
  resolve: base.resolve,
  test: { ...base.test, include: ['spec/gpu/**/*.spec.ts'], exclude: ['**/node_modules/**'], fileParallelism: false },
})
