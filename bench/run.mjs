// `npm run bench`: every benchmark, one after another, each in its own process (so one's memory
// and JIT state do not colour the next). Tables go to stdout in Markdown, for docs/benchmarks.md.
//   node bench/run.mjs [--only core,kernels,train-kernels,latency,minigpt,quality,gpt2,kit,quant,bucket,gpu,playground] [--no-torch]
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { machine } from './util.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const SUITES = {
  core: ['core.mjs'],
  kernels: ['kernels.mjs'],
  'train-kernels': ['train-kernels.mjs'],
  latency: ['latency.mjs'],
  minigpt: ['minigpt.mjs', '--epochs', '3'],
  quality: ['minigpt.mjs', '--quality', '--epochs', '50'],
  gpt2: ['gpt2.mjs'],
  kit: ['kit.mjs'],
  quant: ['quant.mjs'],
  // Only when asked for (--only bucket): two 10-epoch trainings of the seed recipe, uniform vs --bucket.
  bucket: ['bucket.mjs', '--epochs', '10'],
  // Only when asked for (--only gpu): it needs a WebGPU adapter (docs/gpu.md).
  gpu: ['gpu.mjs', '--rounds', '2'],
  // Only when asked for (--only playground): it needs Chromium (docs/browser.md, "Threads").
  playground: ['playground.mjs'],
}
const i = process.argv.indexOf('--only')
const only = i >= 0 ? process.argv[i + 1].split(',') : ['core', 'kernels', 'train-kernels', 'latency', 'minigpt', 'gpt2', 'kit', 'quant']
const passThrough = process.argv.includes('--no-torch') ? ['--no-torch'] : []
console.log(`# minigpt-fp benchmarks — ${new Date().toISOString().slice(0, 10)} — ${machine()}`)
let failed = 0
for (const name of only) {
  const suite = SUITES[name]
  if (suite === undefined) {
    console.error(`bench: unknown suite '${name}' (choose from ${Object.keys(SUITES).join(', ')})`)
    process.exitCode = 2
    continue
  }
  if (!existsSync(`${here}/${suite[0]}`)) {
    console.error(`bench: ${suite[0]} is missing; skipping ${name}`)
    continue
  }
  const t0 = Date.now()
  const r = spawnSync(
    process.execPath,
    [`${here}/${suite[0]}`, ...suite.slice(1), ...(['core', 'kernels', 'train-kernels', 'latency', 'kit', 'quant', 'bucket', 'playground'].includes(name) ? [] : passThrough)],
    {
      stdio: 'inherit',
    },
  )
  console.error(`bench: ${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s${r.status === 0 ? '' : ` and failed (exit ${r.status})`}`)
  if (r.status !== 0) failed++
}
if (failed > 0) process.exitCode = 1
