// Seed notebook §1–2: encoder vs decoder attention, and the causal mask (why -Infinity).
//   npm run build && node examples/01-causal-mask.mjs   → prints the matrices, writes out/causal-mask.svg
import { mkdirSync, writeFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, normal, mask, viz } from 'minigpt-fp'

await initBackend('cpu')
const n = 5
const show = (title, t) =>
  console.log(
    `\n${title}\n` +
      t
        .arraySync()
        .map((r) => r.map((v) => (v === -Infinity ? ' -inf' : v.toFixed(2).padStart(5))).join(' '))
        .join('\n'),
  )

// Attention scores of 5 positions (random, as in the notebook), softmax row by row.
const scores = tf.tensor2d(normal(key(0), n * n), [n, n])
show('Attention WITHOUT mask (encoder, BERT): every position sees every other', tf.softmax(scores))

// The causal mask: 0 on and below the diagonal, -Infinity above.
const causal = mask.causalMask(n)
show('Causal mask', causal)
const weights = tf.softmax(tf.add(scores, causal))
show('Attention WITH the causal mask (decoder, GPT): the future gets exactly 0', weights)

// Why -Infinity and not 0? exp(-inf) = 0, so masked positions get exactly zero weight after the
// softmax; adding 0 would change nothing. And why not the hint `triu(ones) * -inf`? Below the
// diagonal it computes 0 × -inf = NaN, which poisons every row:
const hint = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([n, n]), -1, 0)), -Infinity)
show('The notebook hint triu(ones) * -inf (NaN where it should be 0)', hint)

mkdirSync('out', { recursive: true })
const s = scores.arraySync()
const rows = (m) => m.arraySync()
writeFileSync(
  'out/causal-mask.svg',
  viz.heatmapPanels(
    [
      { matrix: rows(tf.softmax(scores)), title: 'without mask (encoder / BERT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
      { matrix: rows(weights), title: 'with causal mask (decoder / GPT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
    ],
    { showValues: true, min: 0, max: 1, title: 'Attention weights: the causal mask hides the future' },
  ),
)
console.log(`\n(${s.length}×${s.length} scores) picture written to out/causal-mask.svg`)
