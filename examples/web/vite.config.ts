/**
 * Vite config of the playground (examples/web). `npm run web` builds it and serves the build on
 * 127.0.0.1; `npx vite --config examples/web/vite.config.ts` runs the dev server.
 *
 * Two things a bundler needs for minigpt-fp in the browser:
 *  - the gradient alias: src/backend/gradients.ts imports './tfjs-gradients.js', which the
 *    library's Node build generates; a bundler maps it to tfjs-core's own ES module
 *    `@tensorflow/tfjs-core/dist/register_all_gradients` (as vitest.config.ts does);
 *  - the wasm backend's `.wasm` files, served under a known folder and passed as `wasmPaths`.
 *
 * With MINIGPT_ISOLATE=1 the page is served cross-origin isolated (the COOP/COEP headers below,
 * dev and preview): that gives it SharedArrayBuffer, so tfjs-wasm loads its threaded build. Off by
 * default: in this bundle tfjs's pthread workers fail ("e is not defined": tfjs re-serialises its
 * threaded factory with `toString()`, and the minified bundle's factory refers to names outside
 * it), so the page stays on one thread (docs/browser.md, "Threads").
 *
 * The plugin below serves (dev) or emits (build) the files the page fetches at run time, without
 * copying them into git: wasm/*.wasm from the installed backend, sample/* from
 * spec/fixtures/minigpt-tiny (a real seed-architecture checkpoint, 30 KB) and names.json, the
 * library's embedded corpus of first names (@faker-js/faker's locale data, computed here so the
 * page ships ~80 KB of names rather than faker's locales).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import { defaultNames } from '../../src/data/corpus.js'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
const sampleDir = join(here, '../../spec/fixtures/minigpt-tiny')

/** The files the page fetches, by their path under the page's base. */
const servedFiles = (): ReadonlyMap<string, () => Uint8Array | string> =>
  new Map<string, () => Uint8Array | string>([
    ...['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [`wasm/${f}`, () => readFileSync(join(wasmDir, f))] as const),
    ...['model.safetensors', 'config.json', 'vocab.json'].map((f) => [`sample/${f}`, () => readFileSync(join(sampleDir, f))] as const),
    ['names.json', () => JSON.stringify(defaultNames())],
  ])

/** Cross-origin isolation (opt-in, MINIGPT_ISOLATE=1): the page and its workers get SharedArrayBuffer, which threaded wasm needs. */
const ISOLATION_HEADERS: Record<string, string> =
  process.env.MINIGPT_ISOLATE === '1' ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {}

const CONTENT_TYPES: Readonly<Record<string, string>> = { wasm: 'application/wasm', json: 'application/json; charset=utf-8' }

const playgroundAssets = (): Plugin => {
  const files = servedFiles()
  return {
    name: 'minigpt-playground-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/+/, '')
        const file = files.get(path)
        if (file === undefined) return next()
        res.setHeader('Content-Type', CONTENT_TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream')
        res.end(file())
      })
    },
    generateBundle() {
      for (const [fileName, read] of files) this.emitFile({ type: 'asset', fileName, source: read() })
    },
  }
}

export default defineConfig({
  root: here,
  base: './',
  resolve: {
    alias: [
      { find: /^\.\/tfjs-gradients\.js$/, replacement: '@tensorflow/tfjs-core/dist/register_all_gradients' },
      // Optional: the Node-only wasm-path helper is never loaded in a page; this keeps the bundler from warning about it.
      { find: /^\.\/node-wasm-path\.js$/, replacement: join(here, 'src/node-wasm-path.browser.ts') },
      { find: /^\.\/wasm-threads-node\.js$/, replacement: join(here, 'src/wasm-threads-node.browser.ts') },
    ],
  },
  plugins: [playgroundAssets()],
  worker: { format: 'es' },
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', port: 5173, headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', port: 4173, headers: ISOLATION_HEADERS },
})
