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
 * The dev and preview servers send the COOP/COEP headers below, so the page is cross-origin
 * isolated: it gets SharedArrayBuffer, and tfjs-wasm its threaded build (XNNPACK on one thread per
 * core). `MINIGPT_ISOLATE=0` serves it without them, as a server that does not send them would:
 * the page then runs wasm on one thread and says so (docs/browser.md, "Threads"). The threaded
 * build needs one fix to survive minification: ./tfjs-wasm-threads.ts.
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
import { tfjsWasmThreads } from './tfjs-wasm-threads.js'

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

/** Cross-origin isolation (off with MINIGPT_ISOLATE=0): the page and its workers get SharedArrayBuffer, which threaded wasm needs. */
const ISOLATION_HEADERS: Record<string, string> =
  process.env.MINIGPT_ISOLATE === '0' ? {} : { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }

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
      { find: /^\.\/webgpu-node\.js$/, replacement: join(here, 'src/webgpu-node.browser.ts') },
    ],
  },
  plugins: [tfjsWasmThreads(), playgroundAssets()],
  // Workers are bundled apart, with their own plugins: the training worker starts wasm too.
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
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
