// Seed notebook §7 and exercise 5: temperature, top-k, top-p and repetition penalty side by side,
// and a picture of the next-token distribution before and after each processor.
//   npm run build && node examples/06-sampling.mjs [checkpoint=minigpt-demo]   (run `npm run demo` first)
import { mkdirSync, writeFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, io, sample, minigpt, viz, EVAL } from 'minigpt-fp'

await initBackend('wasm')
const dir = process.argv[2] ?? 'minigpt-demo'
const loaded = await io.loadMiniGpt(dir)()
if (loaded._tag === 'Left') {
  console.error(loaded.left.message, '— run `npm run demo` first')
  process.exit(1)
}
const { config, vocab, params } = loaded.right
const decoder = sample.miniGptDecoder(config, params)
const names = async (options, seed = 1) => {
  const r = await sample.generateNames(decoder, vocab, { count: 6, options }, key(seed))
  if (r._tag === 'Left') throw new Error(r.left)
  return r.right.map((x) => x.text).join(', ')
}
const grid = [
  ['temperature', [0.3, 0.7, 1.0, 1.5, 2.0].map((t) => ({ temperature: t }))],
  ['top-k (T = 1)', [10, 50, 100].map((k) => ({ top_k: k }))],
  ['top-p (T = 1)', [0.9, 0.95, 1.0].map((p) => ({ top_p: p }))],
  ['repetition penalty', [1.0, 1.2, 1.5].map((r) => ({ repetition_penalty: r }))],
]
for (const [title, settings] of grid) {
  console.log(`\n${title}`)
  for (const o of settings) console.log(`  ${JSON.stringify(o).padEnd(28)} ${await names(o)}`)
}

// The next-token distribution after "<SOS>Ma", before and after each processor of one chain.
const prompt = [vocab.sos, vocab.index.get('M'), vocab.index.get('a')].filter((x) => x !== undefined)
const logits = tf.tidy(() => {
  const out = minigpt.miniGpt(config).apply(params, { ids: tf.tensor2d([prompt], [1, prompt.length], 'int32') }, EVAL).logits
  return tf.reshape(tf.slice(out, [0, prompt.length - 1, 0], [1, 1, config.vocab_size]), [-1])
})
const options = { repetition_penalty: 1.5, temperature: 0.7, top_k: 10, top_p: 0.9 }
const stages = sample.processorStages(logits.dataSync(), options, prompt)
if (stages._tag === 'Left') throw new Error(stages.left.problems.join('; '))
const label = (i) => (i === vocab.eos ? '<EOS>' : vocab.tokens[i])
mkdirSync('out', { recursive: true })
writeFileSync(
  'out/processors.svg',
  viz.distributionBars(
    stages.right.map((s) => ({ title: s.label, bars: Array.from(s.probabilities, (p, i) => ({ label: label(i), value: p })) })),
    { title: `Next character after "Ma": ${JSON.stringify(options)}` },
  ),
)
console.log('\nthe distribution before and after each processor: out/processors.svg')
