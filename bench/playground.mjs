// The playground's training speed in headless Chromium, with and without threads: the page
// (examples/web) built with Vite and served twice from 127.0.0.1, cross-origin isolated (COOP/COEP,
// as `npm run web` serves it: tfjs-wasm's threaded build, one thread per core) and without the
// headers (one thread: tfjs's plain SIMD build), and the isolated page asked for one thread
// (`?threads=1`: the threaded build on one thread, which tells the threads' effect from the build's).
// Each round opens a fresh page for each of the three in turn (A B C A B C …), trains a
// preset with the page's Train button (its worker, batch 64, the seed recipe) for --steps steps,
// and reads the tokens/s the page shows: the epoch's so far, as `fit` reports it (warm-up included).
// The table gives the median of the rounds. Needs Debian's Chromium (or CHROMIUM_PATH).
//
//   node bench/playground.mjs [--presets tiny,seed] [--steps 60] [--rounds 3]
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, preview } from 'vite'
import { opt, machine, median, table } from './util.mjs'

const presets = opt('presets', 'tiny,seed').split(',')
const steps = Number(opt('steps', '60'))
const rounds = Number(opt('rounds', '3'))
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  console.error(`bench/playground.mjs: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  process.exit(2)
}

const configFile = fileURLToPath(new URL('../examples/web/vite.config.ts', import.meta.url))
const outDir = mkdtempSync(join(tmpdir(), 'playground-bench-'))
await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } })
/** Serves the build; the config reads MINIGPT_ISOLATE as it loads (0: no COOP/COEP headers). */
const serve = async (isolate) => {
  process.env.MINIGPT_ISOLATE = isolate
  const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } })
  return { url: server.resolvedUrls.local[0], close: () => server.close() }
}
const servers = { isolated: await serve('1'), plain: await serve('0') }
/** The three pages: isolated (one thread per core), isolated on one thread, not isolated. */
const pages = { isolated: servers.isolated.url, isolatedOne: `${servers.isolated.url}?threads=1`, plain: servers.plain.url }
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})

/** One training run in a fresh page: the threads the worker reports and the tokens/s after `steps` steps. */
const trainOnce = async (url, preset) => {
  const page = await browser.newPage()
  try {
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`))
    await page.goto(url)
    await page.waitForFunction(() => (document.querySelector('#backend-status')?.textContent ?? '').startsWith('running on wasm'))
    await page.selectOption('#preset', preset)
    await page.fill('#epochs', '1')
    await page.click('#train')
    await page.waitForFunction((n) => Number(document.querySelector('#train-card')?.dataset.steps) >= n, steps, { timeout: 600_000 })
    const card = await page.$eval('#train-card', (el) => ({ ...el.dataset }))
    await page.click('#stop')
    return { threads: Number(card.threads), tokensPerSecond: Number(card.tokensPerSecond) }
  } finally {
    await page.close()
  }
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim()
const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
console.log(`## Playground training in headless Chromium (\`node bench/playground.mjs --presets ${presets.join(',')} --steps ${steps} --rounds ${rounds}\`)\n`)
console.log(`${new Date().toISOString()} · ${machine()} · ${chromiumVersion} · load average ${loadavg()}\n`)
const rows = []
try {
  for (const preset of presets) {
    const runs = { isolated: [], isolatedOne: [], plain: [] }
    for (let r = 0; r < rounds; r++) {
      for (const kind of Object.keys(runs)) {
        const run = await trainOnce(pages[kind], preset)
        runs[kind].push(run)
        console.error(`${preset} round ${r + 1}: ${kind}, ${run.threads} thread(s): ${run.tokensPerSecond} tokens/s`)
      }
    }
    const tps = (kind) => median(runs[kind].map((x) => x.tokensPerSecond))
    rows.push({
      preset,
      'isolated: threads': runs.isolated[0].threads,
      'isolated: tokens/s': Math.round(tps('isolated')).toLocaleString('en-US'),
      'isolated, ?threads=1: tokens/s': Math.round(tps('isolatedOne')).toLocaleString('en-US'),
      'not isolated (1 thread): tokens/s': Math.round(tps('plain')).toLocaleString('en-US'),
      'threads ÷ not isolated': `${(tps('isolated') / tps('plain')).toFixed(2)}×`,
      'threads ÷ ?threads=1': `${(tps('isolated') / tps('isolatedOne')).toFixed(2)}×`,
    })
  }
  console.log(table(rows))
  console.log(`\nload average after: ${loadavg()}`)
} finally {
  await browser.close()
  for (const s of Object.values(servers)) await s.close()
  rmSync(outDir, { recursive: true, force: true })
}
