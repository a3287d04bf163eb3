/**
 * End-to-end: the playground (examples/web) built with Vite, served on 127.0.0.1, driven in
 * Debian's headless Chromium by playwright-core (no browser download). It loads a checkpoint,
 * generates names, moves sliders (the names and the pictures change; the same settings give the
 * same names back), tries a backend the browser lacks (the error is shown, nothing breaks),
 * trains a few steps in the worker while the page keeps generating, and uses the trained model.
 * It runs each weights choice (float32, int8, q4) and checks that the quantized ones go through
 * the library's quantized kernels on wasm (and its host arithmetic on cpu, to the same names).
 * The page is served cross-origin isolated, as `npm run web` serves it, so wasm runs threaded
 * (the page and its training worker report their threads); a second server without the COOP/COEP
 * headers checks that the page still works on one thread and says why. The playground's training
 * tokens/s with and without threads are printed (not asserted: speed is judged in
 * docs/benchmarks.md). Any console error, uncaught page error or failed request fails the test.
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

/** The threads wasm takes in a cross-origin-isolated page: one per core the browser reports, at most 8 (the library's default). */
const threadsFor = (cores: number): number => Math.max(1, Math.min(8, cores))

/** "1 thread", "2 threads". */
const threadsText = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`

/** "running on wasm (2 threads, with minigpt-fp's SIMD kernels)" */
const wasmStatus = (threads: number): string => `running on wasm (${threadsText(threads)}, with minigpt-fp's SIMD kernels)`

describe.skipIf(!HAVE_CHROMIUM)('the playground in headless Chromium', () => {
  let outDir: string
  /** The page served cross-origin isolated (COOP/COEP, as `npm run web` does), and without the headers. */
  let url: string
  let plainUrl: string
  const closers: (() => Promise<void>)[] = []
  let browser: Browser
  let page: Page
  const problems: string[] = []

  /** A new page of the browser whose errors, failed requests and HTTP errors are collected in `problems`. */
  const newPage = async (): Promise<Page> => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`)
    })
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    p.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
    p.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`)
    })
    return p
  }

  beforeAll(async () => {
    const { build, preview } = await import('vite')
    const { chromium } = await import('playwright-core')
    outDir = mkdtempSync(join(tmpdir(), 'playground-'))
    await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } })
    /** Serves the build; the config reads MINIGPT_ISOLATE as it loads (0: no COOP/COEP headers). */
    const serve = async (isolate: '0' | '1'): Promise<string> => {
      const saved = process.env.MINIGPT_ISOLATE
      process.env.MINIGPT_ISOLATE = isolate
      try {
        const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } })
        closers.push(() => server.close())
        return server.resolvedUrls?.local[0] ?? ''
      } finally {
        if (saved === undefined) delete process.env.MINIGPT_ISOLATE
        else process.env.MINIGPT_ISOLATE = saved
      }
    }
    url = await serve('1')
    plainUrl = await serve('0')
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
    page = await newPage()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    for (const close of closers) await close()
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true })
  })

  const idleOn = (p: Page) => p.waitForFunction(() => document.body.dataset.busy === 'false')
  const idle = () => idleOn(page)
  const generationOn = (p: Page) => p.$eval('#names', (el) => Number((el as HTMLElement).dataset.generation))
  const generation = () => generationOn(page)
  /** Waits for a generation after `after` and for the page's queue to drain. */
  const nextGenerationOn = async (p: Page, after: number) => {
    await p.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#names')?.dataset.generation) > n, after)
    await idleOn(p)
  }
  const nextGeneration = (after: number) => nextGenerationOn(page, after)
  const namesOn = (p: Page) => p.$$eval('#names li', (lis) => lis.map((li) => li.textContent ?? ''))
  const names = () => namesOn(page)
  const svg = (id: string) => page.$eval(`#${id}`, (el) => el.innerHTML)
  const textOn = (p: Page, id: string) => p.$eval(`#${id}`, (el) => el.textContent ?? '')
  const text = (id: string) => textOn(page, id)
  /** Moves a slider as a user does with the keyboard: focus, then arrow keys. */
  const slide = async (id: string, key: 'ArrowRight' | 'ArrowLeft', times: number) => {
    await page.focus(`#${id}`)
    for (let i = 0; i < times; i++) await page.keyboard.press(key)
  }
  /** The page's cores, as it reports them to scripts (the library overrides the value only while wasm starts). */
  const coresOn = (p: Page) => p.evaluate(() => navigator.hardwareConcurrency)
  /**
   * Opens `at`, waits for wasm to run, and checks what the page says about its threads: where
   * isolated, those `?threads=` asked for, else one per core; one where not isolated, and why.
   */
  const openWasm = async (p: Page, at: string, isolated: boolean): Promise<number> => {
    await p.goto(at)
    await p.waitForFunction(() => (document.querySelector('#backend-status')?.textContent ?? '').startsWith('running on wasm'))
    expect(await p.evaluate(() => crossOriginIsolated)).toBe(isolated)
    const asked = new URL(at).searchParams.get('threads')
    const threads = !isolated ? 1 : asked !== null ? Number(asked) : threadsFor(await coresOn(p))
    expect(await textOn(p, 'backend-status')).toBe(wasmStatus(threads))
    expect(await p.$eval('body', (el) => (el as HTMLElement).dataset.wasmThreads)).toBe(String(threads))
    const note = await p.$eval('#threads-note', (el) => ((el as HTMLElement).hidden ? '' : (el.textContent ?? '')))
    if (isolated) expect(note).toBe('')
    else {
      expect(note).toMatch(/^One thread of \d+ cores: the page is not cross-origin isolated\./)
      expect(note).toContain('Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp')
    }
    return threads
  }

  it('loads a checkpoint, generates, reacts to sliders, survives a missing backend, trains in a worker', async () => {
    const threads = await openWasm(page, url, true)

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
    expect(await text('backend-status')).toBe(wasmStatus(threads))
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
    expect(await text('train-status')).toMatch(new RegExp(`^epoch 1, step \\d+/\\d+: loss \\d\\.\\d+ · [\\d,]+ tokens/s on wasm, ${threadsText(threads)}$`))
    // The worker's wasm has the page's threads (its own pool, in its own realm).
    expect(await page.$eval('#train-card', (el) => (el as HTMLElement).dataset.threads)).toBe(String(threads))
    await page.click('#stop')
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#train-card')?.dataset.done === 'true', null, { timeout: 30_000 })
    expect(await text('train-status')).toMatch(new RegExp(`^Stopped after \\d+ steps \\([\\d,]+ tokens/s on wasm, ${threadsText(threads)}\\)`))

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

  it('generates with each weights choice and says which weights and kernels ran: float32, int8 and q4 (the quantized kernels on wasm, host arithmetic on cpu)', async () => {
    const p = await newPage()
    try {
      await openWasm(p, url, true)
      await p.click('#load-sample')
      await nextGenerationOn(p, 0)
      const onWasm = new Map<string, string[]>()
      for (const weights of ['f32', 'int8', 'q4'] as const) {
        const g = await generationOn(p)
        if (weights !== 'f32') {
          await p.selectOption('#weights', weights)
          await nextGenerationOn(p, g)
        }
        const got = await namesOn(p)
        expect(got).toHaveLength(8)
        onWasm.set(weights, got)
        const model = await textOn(p, 'model-status')
        const report = await textOn(p, 'weights-status')
        expect(await p.$eval('#weights-status', (el) => (el as HTMLElement).dataset.weights)).toBe(weights)
        expect(await textOn(p, 'generate-status')).toMatch(/^8 names in \d+ ms on wasm /)
        // The decoder's own SIMD kernels run in every case (the embeddings, LayerNorm, attention over the cache).
        expect(report).toMatch(/SIMD kernels: .*MinigptLayerNorm ×\d+/)
        expect(report).toMatch(/MinigptAttend ×\d+/)
        if (weights === 'f32') {
          expect(model).toMatch(/^bundled sample \(spec\/fixtures\/minigpt-tiny, untrained\): 6,691 parameters/)
          expect(report).toMatch(/^float32 weights \(the checkpoint's\) · SIMD kernels: /)
          expect(report).not.toContain('MinigptQuant')
        } else {
          expect(model).toContain(`(${weights} weights): 6,691 parameters`)
          expect(report).toMatch(new RegExp(`^${weights} weights \\(quantized as the checkpoint loaded\\) · quantized kernels ran: `))
          // Every linear layer and the head through the quantized product, the embeddings through the quantized row lookup.
          expect(report).toMatch(/MinigptQuantMatmul ×[1-9]\d*/)
          expect(report).toMatch(/MinigptQuantRows ×[1-9]\d*/)
        }
      }
      // int8's rounding (docs/quantization.md bounds it) leaves the sample's eight names at seed 0 as float32 gives them.
      expect(onWasm.get('int8')).toEqual(onWasm.get('f32'))

      // On cpu the quantized kernels do not run; the host computes the same integer arithmetic, so the same names come out.
      let g = await generationOn(p)
      await p.selectOption('#backend', 'cpu')
      await nextGenerationOn(p, g)
      expect(await textOn(p, 'backend-status')).toBe('running on cpu')
      expect(await p.$eval('#weights', (el) => (el as HTMLSelectElement).value)).toBe('q4')
      expect(await textOn(p, 'weights-status')).toBe(
        'q4 weights (quantized as the checkpoint loaded) · no quantized kernel ran (they need wasm): the same integer arithmetic ran in JavaScript on cpu',
      )
      expect(await namesOn(p)).toEqual(onWasm.get('q4'))
      g = await generationOn(p)
      await p.selectOption('#weights', 'int8')
      await nextGenerationOn(p, g)
      expect(await textOn(p, 'weights-status')).toMatch(/^int8 weights .* no quantized kernel ran \(they need wasm\)/)
      expect(await namesOn(p)).toEqual(onWasm.get('int8'))
      expect(await textOn(p, 'generate-status')).toMatch(/^8 names in \d+ ms on cpu /)
      expect(problems).toEqual([])
    } finally {
      await p.close()
    }
  }, 120_000)

  it('trains on one thread without cross-origin isolation and says why, and on the threads ?threads= asks for; prints training tokens/s with and without threads', async () => {
    // Trains the default (tiny) model for STEPS steps and reads the tokens/s the page shows: the epoch's so far, as fit reports it.
    const STEPS = 30
    const trainOn = async (at: string, isolated: boolean): Promise<{ threads: number; tokensPerSecond: number }> => {
      const p = await newPage()
      try {
        const threads = await openWasm(p, at, isolated)
        await p.click('#load-sample')
        await nextGenerationOn(p, 0)
        expect(await namesOn(p)).toHaveLength(8)
        await p.fill('#epochs', '1')
        await p.click('#train')
        await p.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#train-card')?.dataset.steps) >= n, STEPS, { timeout: 150_000 })
        const card = await p.$eval('#train-card', (el) => ({ ...(el as HTMLElement).dataset }))
        await p.click('#stop')
        await p.waitForFunction(() => document.querySelector<HTMLElement>('#train-card')?.dataset.done === 'true', null, { timeout: 30_000 })
        expect(card.threads).toBe(String(threads))
        expect(await textOn(p, 'train-status')).toMatch(new RegExp(`^Stopped after \\d+ steps \\([\\d,]+ tokens/s on wasm, ${threadsText(threads)}\\)`))
        return { threads, tokensPerSecond: Number(card.tokensPerSecond) }
      } finally {
        await p.close()
      }
    }
    const isolated = await trainOn(url, true)
    // The threaded build on one thread (?threads=1), and the plain SIMD build where the page is not isolated.
    const isolatedOne = await trainOn(`${url}?threads=1`, true)
    const plain = await trainOn(plainUrl, false)
    expect(isolatedOne.threads).toBe(1)
    expect(plain.threads).toBe(1)
    for (const r of [isolated, isolatedOne, plain]) expect(r.tokensPerSecond).toBeGreaterThan(0)
    console.log(
      `playground training, tiny preset, ${STEPS} steps of batch 64 in headless Chromium: ` +
        `${isolated.tokensPerSecond.toLocaleString('en-US')} tokens/s on ${threadsText(isolated.threads)} (cross-origin isolated), ` +
        `${isolatedOne.tokensPerSecond.toLocaleString('en-US')} tokens/s on 1 thread (isolated, ?threads=1), ` +
        `${plain.tokensPerSecond.toLocaleString('en-US')} tokens/s on 1 thread (not isolated)`,
    )
    expect(problems).toEqual([])
  }, 480_000)

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
