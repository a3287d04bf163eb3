// Build: TypeScript to dist/, then bundle tfjs-core's gradient registrations (see
// src/backend/gradients.ts for why) into dist/backend/tfjs-gradients.js.
import { execFileSync } from 'node:child_process'
import { rmSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as esbuild from 'esbuild'

const require = createRequire(import.meta.url)
rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
const core = dirname(require.resolve('@tensorflow/tfjs-core/package.json'))
mkdirSync('dist/backend', { recursive: true })
await esbuild.build({
  entryPoints: [join(core, 'dist/register_all_gradients.js')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  outfile: 'dist/backend/tfjs-gradients.js',
  logLevel: 'warning',
  legalComments: 'inline',
})
