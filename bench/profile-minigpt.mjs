// Where a Mini-GPT training step's time goes on wasm: tfjs's profiler around one epoch of the
// seed recipe on the first --names names (64 per batch), kernel times summed by kernel name.
// With --forward, the eval forward pass of bench/minigpt.mjs's forward figure instead (64 × 26
// tokens, 10 passes). For choosing which ops to fuse; not part of `npm run bench`.
//
//   npm run build && node bench/profile-minigpt.mjs [--names 640] [--threads N] [--forward]
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount, key, data, minigpt, train } from '../dist/index.js'
import { table } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const root = resolve(new URL('..', import.meta.url).pathname)
const dataDir = process.env.MINIGPT_DATA ?? join(root, '..', 'shared', 'data')
const all = data.parseNames(readFileSync(join(dataDir, 'fantasy_names.txt'), 'utf8'))
const names = all.slice(0, Number(arg('names', '640')))
await initBackend('wasm', arg('threads') === undefined ? {} : { threads: Number(arg('threads')) })
const vocab = data.buildVocab(all)
const config = minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad)
const run = (optimizer) => ({ config, epochs: 1, batchSize: 64, key: key(42), optimizer, train: minigpt.namesExamples(vocab, names, config) })
const drain = async (events) => {
  for (;;) {
    const n = await events.next()
    if (n.done) return n.value
  }
}

const forward = process.argv.includes('--forward')
const optimizer = train.seedOptimizer()
const params = minigpt.miniGpt(config).init(key(42))
const ids = tf.tensor2d(
  Array.from({ length: 64 * 26 }, (_, i) => 3 + ((i * 7) % 78)),
  [64, 26],
  'int32',
)
const passes = async (n) => {
  for (let i = 0; i < n; i++) {
    const l = tf.tidy(() => minigpt.miniGpt(config).apply(params, { ids }, { training: false }).logits)
    await l.data()
    l.dispose()
  }
}
// One untimed epoch (or a few passes) first (XNNPACK's operators, JIT), then the profiled one.
const warm = forward ? await passes(5) : await drain(train.trainNames(run(optimizer), { params, opt: optimizer.init(params) }))
const t0 = performance.now()
const info = await tf.profile(async () => {
  if (forward) await passes(10)
  else await drain(train.trainNames(run(optimizer), warm))
})
const wall = performance.now() - t0
const byName = new Map()
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
  const e = byName.get(k.name) ?? { calls: 0, ms: 0 }
  byName.set(k.name, { calls: e.calls + 1, ms: e.ms + ms })
}
const total = [...byName.values()].reduce((a, e) => a + e.ms, 0)
const rows = [...byName.entries()]
  .sort((a, b) => b[1].ms - a[1].ms)
  .slice(0, 25)
  .map(([name, e]) => ({
    kernel: name,
    calls: e.calls,
    'ms total': e.ms.toFixed(1),
    'share of kernel time': `${((100 * e.ms) / total).toFixed(1)}%`,
    'µs per call': ((1000 * e.ms) / e.calls).toFixed(0),
  }))
const batches = forward ? 10 : Math.ceil(names.length / 64)
const what = forward ? 'eval forward profile' : 'training profile'
const unit = forward ? 'forward passes of 64 × 26' : 'batches of 64'
console.log(
  `\n## Mini-GPT ${what} (wasm, ${wasmThreadCount()} thread(s)): ${batches} ${unit}, ${info.kernels.length.toLocaleString('en-US')} kernel calls (${Math.round(info.kernels.length / batches)} each), kernels ${total.toFixed(0)} ms of ${wall.toFixed(0)} ms wall (profiled)\n`,
)
console.log(table(rows))
