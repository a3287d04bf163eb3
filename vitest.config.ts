import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['spec/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs keeps global engine state: one worker per file, files in parallel on the 2 cores.
    pool: 'forks',
    reporters: ['default'],
  },
})
