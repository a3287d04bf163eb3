/**
 * End-to-end: the playground (examples/web) built with Vite, served on 127.0.0.1, driven in
 * Debian's headless Chromium by playwright-core (no browser download). It loads a checkpoint,
 * generates names, moves sliders (the names and the pictures change; the same settings give the
 * same names back), tries a backend the browser lacks (the error is shown, nothing breaks),
 * trains a few steps in the worker while the page keeps generating, and uses the trained model.
 * Any console error, uncaught page error or failed request fails the test.
 *
 * Skipped, with a message, where there is no Chromium (set CHROMIUM_PATH to use another one).
 * Run alone with `npx vitest run spec/web`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
if (!HAVE_CHROMIUM) console.warn(`spec/web/playground.spec.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)

const root = fileURLToPath(new URL('../..', import.meta.url))
const configFile = join(root, 'examples/web/vite.config.ts')
const fixture = join(root, 'spec/fixtures/minigpt-tiny')

/**
 * The flags this project runs headless Chromium with: no network chatter, no GPU. playwright-core
 * starts it with a fresh, temporary profile of its own (the --user-data-dir of a hand-run Chromium).
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

describe.skipIf(!HAVE_CHROMIUM)('the playground in headless Chromium', () => {
  let outDir: string
  let url: string
  let close: () => Promise<void>
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    const { build, preview } = await import('vite')
    const { chromium } = await import('playwright-core')
    outDir = mkdtempSync(join(tmpdir(), 'playground-'))
    await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } })
    const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } })
    url = server.resolvedUrls?.local[0] ?? ''
    close = () => server.close()
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`)
    })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await close?.()
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true })
  })

  const idle = () => page.waitForFunction(() => document.body.dataset.busy === 'false')
  const generation = () => page.$eval('#names', (el) => Number((el as HTMLElement).dataset.generation))
  /** Waits for a generation after `after` and for the page's queue to drain. */
  const nextGeneration = async (after: number) => {
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#names')?.dataset.generation) > n, after)
    await idle()
  }
  const names = () => page.$$eval('#names li', (lis) => lis.map((li) => li.textContent ?? ''))
  const svg = (id: string) => page.$eval(`#${id}`, (el) => el.innerHTML)
  const text = (id: string) => page.$eval(`#${id}`, (el) => el.textContent ?? '')
  /** Moves a slider as a user does with the keyboard: focus, then arrow keys. */
  const slide = async (id: string, key: 'ArrowRight' | 'ArrowLeft', times: number) => {
    await page.focus(`#${id}`)
    for (let i = 0; i < times; i++) await page.keyboard.press(key)
  }

  it('loads a checkpoint, generates, reacts to sliders, survives a missing backend, trains in a worker', async () => {
    await page.goto(url)
    await page.waitForFunction(() => document.querySelector('#backend-status')?.textContent === "running on wasm (with minigpt-fp's SIMD kernels)")

    // The bundled sample, then the same checkpoint picked as files.
    await page.click('#load-sample')
    await nextGeneration(0)
    expect(await text('model-status')).toContain('6,691 parameters, 2 layers × 2 heads')
    const first = await names()
    expect(first).toHaveLength(8)
    const attention0 = await svg('attention')
    const distribution0 = await svg('distribution')
    expect(attention0).toContain('<svg')
    expect(attention0).toContain('layer 1')
    expect(attention0).toContain('head 1')
    expect(distribution0).toContain('model (softmax; PAD, SOS never sampled)')

    let g = await generation()
    await page.setInputFiles(
      '#files',
      ['model.safetensors', 'config.json', 'vocab.json'].map((f) => join(fixture, f)),
    )
    await nextGeneration(g)
    expect(await text('model-status')).toContain('your files')
    expect(await names()).toEqual(first) // same model, same settings, same seed: same names
    await page.setInputFiles('#files', [join(fixture, 'config.json')])
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#model-error')?.hidden)
    expect(await text('model-error')).toContain('missing model.safetensors, vocab.json')

    // A slider moves: other names, other pictures; back where it was: the same names again.
    g = await generation()
    await slide('temperature', 'ArrowRight', 10)
    await nextGeneration(g)
    expect(await page.$eval('#temperature', (el) => (el as HTMLInputElement).value)).toBe('1.5')
    const hot = await names()
    expect(hot).not.toEqual(first)
    expect(await svg('attention')).not.toEqual(attention0)
    expect(await svg('distribution')).toContain('after temperature = 1.5')
    g = await generation()
    await slide('temperature', 'ArrowLeft', 10)
    await nextGeneration(g)
    expect(await names()).toEqual(first)

    g = await generation()
    await slide('top-k', 'ArrowRight', 3)
    await nextGeneration(g)
    expect(await svg('distribution')).toContain('after top_k = 3')

    // A backend this browser does not offer: the library's error value in the page, wasm still active.
    await page.selectOption('#backend', 'webgpu')
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#backend-error')?.hidden)
    await idle()
    expect(await text('backend-error')).toContain('the webgpu backend failed to start')
    expect(await text('backend-status')).toBe("running on wasm (with minigpt-fp's SIMD kernels)")
    expect(await page.$eval('#backend', (el) => (el as HTMLSelectElement).value)).toBe('wasm')
    g = await generation()
    await slide('top-k', 'ArrowRight', 1)
    await nextGeneration(g)

    // Training in the worker; the page keeps generating meanwhile.
    await page.fill('#epochs', '1')
    await page.click('#train')
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#train-card')?.dataset.steps) >= 2, null, { timeout: 30_000 })
    g = await generation()
    await slide('repetition', 'ArrowRight', 2)
    await nextGeneration(g)
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#train-card')?.dataset.steps) >= 6, null, { timeout: 30_000 })
    expect(await svg('loss')).toContain('Training loss')
    expect(await text('train-status')).toMatch(/epoch 1, step \d+\/\d+: loss \d/)
    await page.click('#stop')
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#train-card')?.dataset.done === 'true', null, { timeout: 30_000 })
    expect(await text('train-status')).toMatch(/^Stopped after \d+ steps/)

    g = await generation()
    await page.click('#use-trained')
    await nextGeneration(g)
    expect(await text('model-status')).toMatch(/^trained in the page \(\d+ steps, stopped\): [\d,]+ parameters, 2 layers × 2 heads, d=32/)
    expect(await names()).toHaveLength(8)
    for (const id of ['train-error', 'generate-error', 'model-error']) {
      expect(await page.$eval(`#${id}`, (el) => ((el as HTMLElement).hidden ? '' : el.textContent))).toBe('')
    }

    expect(problems).toEqual([])
  }, 120_000)

  it('starts on webgpu where the browser has an adapter (SwiftShader with --enable-unsafe-webgpu) and says so', async () => {
    const { chromium } = await import('playwright-core')
    const gpuBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] })
    try {
      const gpuPage = await gpuBrowser.newPage()
      const errors: string[] = []
      gpuPage.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
      gpuPage.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`)
      })
      await gpuPage.goto(url)
      await gpuPage.waitForFunction(() => (document.querySelector('#backend-status')?.textContent ?? '').startsWith('running on webgpu'), null, { timeout: 60_000 })
      expect(await gpuPage.$eval('#backend-status', (el) => el.textContent)).toBe('running on webgpu (adapter: google swiftshader)')
      expect(await gpuPage.$eval('#backend', (el) => (el as HTMLSelectElement).value)).toBe('webgpu')
      expect(await gpuPage.$eval('#backend-error', (el) => (el as HTMLElement).hidden)).toBe(true)
      // And it generates there: the bundled sample's eight names.
      await gpuPage.click('#load-sample')
      await gpuPage.waitForFunction(() => Number(document.querySelector<HTMLElement>('#names')?.dataset.generation) > 0 && document.body.dataset.busy === 'false', null, {
        timeout: 60_000,
      })
      expect(await gpuPage.$$eval('#names li', (lis) => lis.length)).toBe(8)
      expect(await gpuPage.$eval('#generate-status', (el) => el.textContent)).toMatch(/^8 names in \d+ ms on webgpu/)
      expect(errors).toEqual([])
    } finally {
      await gpuBrowser.close()
    }
  }, 120_000)
})
