// Property-testing your own causal language model with minigpt-fp/testing, without a test runner.
//
//   npm run build && node examples/testing-own-model.mjs [seed]
//
// The model here is hand-written in plain JavaScript arrays (no tfjs): the logits at a position
// are the token's own row of a table plus the mean of a second table's rows over the tokens so
// far. Its broken twin averages over the whole sequence, so it can see the future. The kit checks
// both and prints what held and, for the broken one, the smallest counterexample in words.
import { initBackend, key, normal, split } from 'minigpt-fp'
import { checkCausalLm } from 'minigpt-fp/testing'

const V = 8 // vocabulary size

// Parameters from keys: two [V][V] tables.
const [k1, k2] = split(key(0))
const table = (k) => {
  const w = normal(k, V * V)
  return Array.from({ length: V }, (_, i) => Array.from(w.subarray(i * V, (i + 1) * V)))
}
const params = { own: table(k1), context: table(k2) }

/** logits(params, tokens) → [batch][position][vocab]; `seeFuture` is the bug. */
const forward = (seeFuture) => (p, tokens) =>
  tokens.map((row) =>
    row.map((t, i) => {
      const upTo = seeFuture ? row.length - 1 : i
      const mean = new Array(V).fill(0)
      for (let s = 0; s <= upTo; s++) p.context[row[s]].forEach((x, v) => (mean[v] += x / (upTo + 1)))
      return p.own[t].map((x, v) => x + mean[v])
    }),
  )

const model = { name: 'my model', vocabSize: V, maxLength: 16, params, logits: forward(false) }
const broken = { ...model, name: 'my model that sees the future', logits: forward(true) }

const seed = process.argv[2] === undefined ? undefined : Number(process.argv[2]) // fast-check's seed (optional)

await initBackend('cpu')
for (const m of [model, broken]) {
  console.log(`\n${m.name}`)
  for (const r of await checkCausalLm(m, { skip: ['backendAgreement'], seed })) {
    const mark = r.status === 'passed' ? '✓' : r.status === 'failed' ? '✗' : '-'
    console.log(`  ${mark} ${r.message.replace(/\n/g, '\n    ')}`)
  }
}
