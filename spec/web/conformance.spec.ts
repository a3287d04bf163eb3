/**
 * The backend-conformance suite (spec/conformance/cases.ts) in headless Chromium: the cases run in
 * a page on cpu (the reference), on webgl (ANGLE on SwiftShader, as with --disable-gpu) and on
 * webgpu (SwiftShader's adapter, with --enable-unsafe-webgpu), and each backend's results are
 * compared with cpu's here, within each case's tolerance. webgpu runs when MINIGPT_BROWSER_BACKENDS names it (npm run test:gpu).
 *
 * Skipped, with a message, where there is no Chromium (set CHROMIUM_PATH to use another one).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CASES, compare, type CaseResult } from '../conformance/cases.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
if (!HAVE_CHROMIUM) console.warn(`spec/web/conformance.spec.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)

const root = fileURLToPath(new URL('../..', import.meta.url))
const pageRoot = join(root, 'spec/conformance/page')
// webgl in npm test; webgpu (two minutes on SwiftShader) in npm run test:gpu, which sets MINIGPT_BROWSER_BACKENDS=webgpu.
const BACKENDS = (process.env.MINIGPT_BROWSER_BACKENDS ?? 'webgl').split(',')

describe.skipIf(!HAVE_CHROMIUM)('conformance in headless Chromium', () => {
  let outDir: string
  let close: () => Promise<void>
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const runs = new Map<string, { readonly error?: string; readonly adapter?: unknown; readonly results?: Record<string, CaseResult> }>()

  beforeAll(async () => {
    const { build, preview } = await import('vite')
    const { chromium } = await import('playwright-core')
    outDir = mkdtempSync(join(tmpdir(), 'conformance-'))
    const config = {
      root: pageRoot,
      base: './',
      configFile: false as const,
      logLevel: 'warn' as const,
      resolve: {
        alias: [
          { find: /^\.\/tfjs-gradients\.js$/, replacement: '@tensorflow/tfjs-core/dist/register_all_gradients' },
          { find: /^\.\/node-wasm-path\.js$/, replacement: join(root, 'examples/web/src/node-wasm-path.browser.ts') },
        ],
      },
      build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4000, reportCompressedSize: false },
    }
    await build(config)
    const server = await preview({ ...config, preview: { host: '127.0.0.1', port: 0, strictPort: false } })
    close = () => server.close()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--enable-unsafe-webgpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = await browser.newPage()
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`)
    })
    await page.goto(server.resolvedUrls?.local[0] ?? '')
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready')
    for (const backend of ['cpu', ...BACKENDS]) {
      const t0 = Date.now()
      runs.set(backend, await page.evaluate((b) => window.runConformance(b), backend))
      console.log(
        `conformance page: ${backend} in ${((Date.now() - t0) / 1000).toFixed(1)} s${runs.get(backend)?.adapter ? `, adapter ${JSON.stringify(runs.get(backend)?.adapter)}` : ''}`,
      )
    }
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    await close?.()
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true })
  })

  it('runs every case on cpu in the page', () => {
    expect(runs.get('cpu')?.error).toBeUndefined()
    expect(Object.keys(runs.get('cpu')?.results ?? {})).toEqual(CASES.map((c) => c.name))
  })

  for (const backend of BACKENDS) {
    describe(backend, () => {
      for (const c of CASES) {
        it(c.name, () => {
          const run = runs.get(backend)
          expect(run?.error, `${backend} did not run`).toBeUndefined()
          const diffs = compare(c, run!.results![c.name], runs.get('cpu')!.results![c.name])
          const failed = diffs.filter((d) => !d.ok).map((d) => `${d.output}: rel ${d.rel.toExponential(2)}, abs ${d.abs.toExponential(2)} (${d.bound})`)
          expect(failed, `${backend}: ${c.name}`).toEqual([])
        })
      }
    })
  }

  it('logs no error in the page', () => {
    expect(problems).toEqual([])
  })
})
