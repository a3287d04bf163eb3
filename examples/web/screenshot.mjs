// The README's picture of the playground: builds it, serves it on 127.0.0.1, loads a checkpoint
// folder (the one `minigpt demo` writes; the bundled sample without an argument) as a user
// picks files, sets a few sliders, trains one epoch of the tiny model in the worker, and saves a
// full-page screenshot taken with Debian's headless Chromium.
//
//   node dist/cli/bin.js demo --epochs 3 --out /tmp/ckpt
//   node examples/web/screenshot.mjs /tmp/ckpt docs/images/playground.png
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, preview } from 'vite'

const [checkpoint, out = 'docs/images/playground.png'] = process.argv.slice(2)
const configFile = fileURLToPath(new URL('./vite.config.ts', import.meta.url))
const outDir = mkdtempSync(join(tmpdir(), 'playground-'))
await build({ configFile, logLevel: 'warn', build: { outDir } })
const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } })
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1180, height: 900 } })
  page.on('console', (m) => m.type() === 'error' && console.error('page:', m.text()))
  const idle = () => page.waitForFunction(() => document.body.dataset.busy === 'false')
  const generated = (n) => page.waitForFunction((k) => Number(document.querySelector('#names').dataset.generation) > k, n)
  await page.goto(server.resolvedUrls.local[0])
  await page.waitForFunction(() => document.querySelector('#backend-status').textContent.startsWith('running'))
  if (checkpoint === undefined) await page.click('#load-sample')
  else
    await page.setInputFiles(
      '#files',
      ['model.safetensors', 'config.json', 'vocab.json'].map((f) => join(checkpoint, f)),
    )
  await generated(0)
  await idle()
  const slide = async (id, key, times) => {
    await page.focus(`#${id}`)
    for (let i = 0; i < times; i++) await page.keyboard.press(key)
    await idle()
  }
  await slide('temperature', 'ArrowLeft', 4) // 0.8
  await slide('top-k', 'ArrowRight', 12)
  await slide('top-p', 'ArrowLeft', 2) // 0.9
  await page.fill('#epochs', '1')
  await page.click('#train')
  await page.waitForFunction(() => document.querySelector('#train-card').dataset.done === 'true', null, { timeout: 120_000 })
  await page.click('#names li:nth-child(2) button')
  await idle()
  await page.$eval('#position', (el) => {
    el.value = String(Math.min(Number(el.max), Number(el.min) + 2))
    el.dispatchEvent(new Event('input', { bubbles: true }))
  })
  await idle()
  await page.waitForTimeout(200)
  await page.screenshot({ path: out, fullPage: true })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await server.close()
  rmSync(outDir, { recursive: true, force: true })
}
