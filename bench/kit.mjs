// The testing kit's cost: the wall time of the default checks (checkCausalLm with no options)
// on small models, the bar being 2 s for a small model (issue #16), and of the default
// sampling checks of the library's sampler and processors with references.
//   node bench/kit.mjs
import { initBackend, key, minigpt, sample as S } from '../dist/index.js'
import { checkCausalLm, checkSampling, miniGptUnderTest, reference } from '../dist/testing/index.js'
import { machine, median, table } from './util.mjs'

await initBackend('cpu')
const REPS = 5

const time = async (f) => {
  await f() // warm-up: module loading, wasm start, JIT
  const out = []
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now()
    await f()
    out.push(performance.now() - t0)
  }
  return median(out)
}

const small = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 2, ff_dim: 16, max_len: 6, dropout: 0.1, pad_idx: 0 }
const seed = { vocab_size: 30, embed_dim: 64, num_heads: 4, num_layers: 3, ff_dim: 256, max_len: 25, dropout: 0.1, pad_idx: 0 }
const smallModel = miniGptUnderTest(small, minigpt.miniGpt(small).init(key(0)))
const seedModel = miniGptUnderTest(seed, minigpt.miniGpt(seed).init(key(0)))

// The docs' hand-written model in plain arrays (examples/testing-own-model.mjs), vocabulary 8.
const V = 8
const tableOf = (s) => Array.from({ length: V }, (_, i) => Array.from({ length: V }, (_, j) => Math.sin(s + i * 7 + j * 3)))
const params = { own: tableOf(1), context: tableOf(2) }
const toy = {
  name: 'my model',
  vocabSize: V,
  maxLength: 16,
  params,
  logits: (p, tokens) =>
    tokens.map((row) =>
      row.map((t, i) => {
        const mean = new Array(V).fill(0)
        for (let s = 0; s <= i; s++) p.context[row[s]].forEach((x, v) => (mean[v] += x / (i + 1)))
        return p.own[t].map((x, v) => x + mean[v])
      }),
    ),
}

const failedIn = (reports) =>
  reports
    .filter((r) => r.status === 'failed')
    .map((r) => r.message)
    .join('\n')
const rows = []
for (const [name, model] of [
  ['Mini-GPT small (vocab 11, embed 8, 2 layers, context 8)', smallModel],
  ["Mini-GPT, the seed's size (vocab 30, embed 64, 3 layers, context 27)", seedModel],
  ['the docs’ plain-array model (vocab 8, context 16)', toy],
]) {
  for (const [what, options] of [
    ['all defaults (cpu and wasm compared)', {}],
    ['without backend agreement', { skip: ['backendAgreement'] }],
  ]) {
    let reports
    const ms = await time(async () => {
      reports = await checkCausalLm(model, options)
    })
    const bad = failedIn(reports)
    if (bad !== '') throw new Error(`bench/kit: ${name} failed a check:\n${bad}`)
    rows.push({ subject: name, checks: what, passed: `${reports.filter((r) => r.status === 'passed').length}/${reports.length}`, 'wall time': `${(ms / 1000).toFixed(2)} s` })
  }
}
const sampling = {
  sampler: { name: 'sample', sampler: S.sample, distribution: 'softmax' },
  processors: [
    { name: 'temperature 0.7', processor: S.temperature(0.7), reference: reference.temperature(0.7), laws: ['preservesOrder'] },
    { name: 'top-k 3', processor: S.topK(3), reference: reference.topK(3), laws: ['neverRaises'] },
    { name: 'top-p 0.9', processor: S.topP(0.9), reference: reference.topP(0.9), laws: ['neverRaises'] },
    { name: 'min-p 0.2', processor: S.minP(0.2), reference: reference.minP(0.2), laws: ['neverRaises'] },
  ],
}
let sr
const sms = await time(async () => {
  sr = await checkSampling(sampling)
})
rows.push({
  subject: 'sample + 4 processors with references',
  checks: 'checkSampling defaults (chi-square: 20 rows × 4,000 draws)',
  passed: `${sr.filter((r) => r.status === 'passed').length}/${sr.length}`,
  'wall time': `${(sms / 1000).toFixed(2)} s`,
})

console.log(`\n## The testing kit's default checks (\`node bench/kit.mjs\`)\n\n${machine()}; median of ${REPS} runs after a warm-up.\n`)
console.log(table(rows))
