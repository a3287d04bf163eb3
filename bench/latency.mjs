// Per-token decoding latency as the context grows, with and without the key/value cache
// (issue #4). A GPT-2-shaped model with random weights (n_embd 384, 6 layers, 6 heads,
// 512 positions, vocab 8,000) on wasm: at each context length, the time to produce the next
// token by (a) one cached step and (b) recomputing the whole sequence.
//   node bench/latency.mjs [--out docs/images/latency.svg] [--json]
import { writeFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, tree, gpt2, viz } from '../dist/index.js'
import { machine, median, table } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
await initBackend('wasm')
const config = { vocab_size: 8000, n_positions: 512, n_embd: 384, n_layer: 6, n_head: 6, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }
const model = gpt2.gpt2(config)
const params = model.init(key(0))
const wteT = tf.keep(tf.transpose(params.wte.weight))
const step = gpt2.gpt2DecodingStep(config, wteT) // the decoder's step: wteᵀ kept, the head on the last position only
const contexts = [8, 16, 32, 64, 128, 256, 384, 511]
const ids = (n) => tf.tensor2d([Array.from({ length: n }, (_, i) => (i * 37) % config.vocab_size)], [1, n], 'int32')
const time = async (f, reps) => {
  const out = []
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now()
    await f()
    if (r > 0) out.push(performance.now() - t0)
  }
  return median(out)
}
const rows = []
for (const n of contexts) {
  // Cache of n positions, then one step with the next token.
  const prefix = tf.tidy(() => step(params, ids(n)).cache)
  const cached = await time(async () => {
    const o = tf.tidy(() => step(params, tf.tensor2d([[5]], [1, 1], 'int32'), prefix))
    await o.logits.data()
    tf.dispose([o.logits, ...o.cache.flatMap((c) => [c.k, c.v])])
  }, 5)
  const full = await time(
    async () => {
      const o = tf.tidy(() => step(params, ids(n + 1)).logits)
      await o.data()
      o.dispose()
    },
    n > 256 ? 2 : 4,
  )
  tf.dispose(prefix.flatMap((c) => [c.k, c.v]))
  rows.push({ context: n, 'cached step (ms)': cached.toFixed(1), 'full recompute (ms)': full.toFixed(1), speed_up: `${(full / cached).toFixed(1)}×` })
  process.stderr.write(`context ${n}: cached ${cached.toFixed(1)} ms, full ${full.toFixed(1)} ms\n`)
}
tree.dispose(params)
const svg = viz.lineChart(
  [
    { name: 'with the key/value cache (one step)', points: rows.map((r) => [r.context, Number(r['cached step (ms)'])]) },
    { name: 'without (recompute the whole sequence)', points: rows.map((r) => [r.context, Number(r['full recompute (ms)'])]) },
  ],
  {
    title: 'Time per generated token as the context grows (GPT-2-shaped, 6 layers, d 384, wasm)',
    xLabel: 'context length (tokens)',
    yLabel: 'ms per token',
    logY: true,
    markers: true,
  },
)
const out = arg('out', 'docs/images/latency.svg')
writeFileSync(out, svg)
if (process.argv.includes('--json')) console.log(JSON.stringify({ machine: machine(), rows }))
else {
  console.log(`\n## Per-token latency with and without the KV cache (${machine()})\n`)
  console.log(table(rows))
  console.log(`\npicture: ${out}`)
}
