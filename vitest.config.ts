import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // See src/backend/gradients.ts: the build bundles this file; under the test runner the
    // original ES module resolves fine.
    alias: [{ find: /^\.\/tfjs-gradients\.js$/, replacement: '@tensorflow/tfjs-core/dist/register_all_gradients' }],
  },
  test: {
    include: ['spec/**/*.spec.ts'],
    // spec/gpu needs a WebGPU adapter: `npm run test:gpu` (vitest.gpu.config.ts).
    exclude: ['spec/gpu/**', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
