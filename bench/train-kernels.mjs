// The training kernels of src/backend/simd (train.wat) against the tfjs-wasm ops they replace,
// each in isolation at the shapes of a Mini-GPT seed-recipe training step (batch 64 × 26
// positions, d = 64, 4 heads, ff 256, 81 tokens) and of a GPT-2 124M fine-tuning step (8 × 32
// positions, 12 heads of 64), forward and backward together where there is a backward pass
// (the value and the gradients for a fixed cotangent w), interleaved (kernel, ops, kernel,
// ops …) so that both see the same machine: the median time of a call, and the largest relative
// difference of their results.
//
//   npm run build && node bench/train-kernels.mjs [--reps 30] [--threads 1] [--json]
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, normal, minigpt, train, tree, wasmThreadCount } from '../dist/index.js'
import { sequenceAttention } from '../dist/backend/simd/attention-train.js'
import { crossEntropyKernel } from '../dist/backend/simd/cross-entropy.js'
import { dropoutKernel } from '../dist/backend/simd/dropout-mask.js'
import { geluErfWithGradKernel } from '../dist/backend/simd/gelu-erf.js'
import { layerNormWithGradKernel } from '../dist/backend/simd/layer-norm-grad.js'
import { activeTrainKernels } from '../dist/backend/simd/module.js'
import { columnSumsKernel, scatterAddRowsKernel } from '../dist/backend/simd/row-sums.js'
import { causalMask } from '../dist/mask/index.js'
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../dist/nn/attention.js'
import { applyUpdates } from '../dist/optim/base.js'
import { fusedApply } from '../dist/optim/fused.js'
import { nllSum } from '../dist/train/loss.js'
import { machine, median, table } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const reps = Number(arg('reps', '30'))
await initBackend('wasm', arg('threads') === undefined ? {} : { threads: Number(arg('threads')) })
if (activeTrainKernels() === null) throw new Error('bench/train-kernels: the training kernels do not run on this wasm backend')

let seed = 0
const randn = (shape, scale = 1) =>
  tf.tensor(
    normal(
      key(seed++),
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  )

/** The value of f and its gradients with respect to xs for the cotangent w (dy): forward and backward, as a training step runs them. */
const withGrads = (f, xs, w) => () => {
  const { value, grads } = tf.valueAndGrads((...ys) => f(...ys))(xs, w)
  return [value, ...grads]
}

// The tfjs ops each kernel replaces, as src/ wrote them before.
const ops = {
  dropout: (x, rate, s) => tf.mul(x, tf.mul(tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', s), rate), 'float32'), 1 / (1 - rate))),
  attention: (heads, mask) => (q, k, v) => mergeHeads(scaledDotProductAttention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), mask).output),
  layerNorm: (x, w, b) => {
    const centred = tf.sub(x, tf.mean(x, -1, true))
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-5))), w), b)
  },
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
  crossEntropy: (targets) => (logits) => {
    const { sum, count } = nllSum(logits, targets, 0)
    return tf.div(sum, tf.maximum(count, 1))
  },
}

const cases = []
// Dropout (rate 0.1): the output, by kernel and by ops (the mask is drawn either way).
for (const [shape, dims] of [
  ['Mini-GPT: 64 × 26 × 256 (the feed-forward)', [64, 26, 256]],
  ['Mini-GPT: 64 × 26 × 64 (a residual)', [64, 26, 64]],
]) {
  const x = randn(dims)
  cases.push({ kernel: 'dropout (draw, compare, apply)', shape, fused: () => [dropoutKernel(x, 0.1, 1234)], ops: () => [ops.dropout(x, 0.1, 1234)] })
}
// Attention over whole sequences, causal, forward and backward.
for (const [shape, b, t, heads, d] of [
  ['Mini-GPT: 64 × 26, 4 heads of 16', 64, 26, 4, 16],
  ['GPT-2: 8 × 32, 12 heads of 64', 8, 32, 12, 64],
]) {
  const [q, k, v] = [0, 1, 2].map(() => randn([b, t, heads * d]))
  const mask = causalMask(t, t)
  const w = randn([b, t, heads * d])
  cases.push({
    kernel: 'attention, forward + backward',
    shape,
    fused: withGrads((qi, ki, vi) => sequenceAttention(qi, ki, vi, heads, mask), [q, k, v], w),
    ops: withGrads(ops.attention(heads, mask), [q, k, v], w),
  })
}
// LayerNorm, forward and backward.
for (const [shape, rows, d] of [
  ['Mini-GPT: 1,664 × 64', 1664, 64],
  ['GPT-2: 256 × 768', 256, 768],
]) {
  const x = randn([rows, d], 2)
  const wt = randn([d])
  const bt = randn([d])
  const w = randn([rows, d])
  cases.push({
    kernel: 'LayerNorm, forward + backward',
    shape,
    fused: withGrads((a, b, c) => layerNormWithGradKernel(a, b, c, 1e-5), [x, wt, bt], w),
    ops: withGrads(ops.layerNorm, [x, wt, bt], w),
  })
}
// GELU (erf), forward and backward.
{
  const x = randn([1664, 256], 2)
  const w = randn([1664, 256])
  cases.push({ kernel: 'GELU (erf), forward + backward', shape: 'Mini-GPT: 1,664 × 256', fused: withGrads(geluErfWithGradKernel, [x], w), ops: withGrads(ops.gelu, [x], w) })
}
// Cross-entropy (PAD targets ignored), forward and backward.
{
  const logits = randn([1664, 81], 2)
  const targets = tf.tensor1d(
    Array.from({ length: 1664 }, (_, i) => (i % 26 > 20 ? 0 : 1 + ((i * 7) % 80))),
    'int32',
  )
  const w = tf.scalar(1)
  cases.push({
    kernel: 'cross-entropy, forward + backward',
    shape: 'Mini-GPT: 1,664 × 81, PAD ignored',
    fused: withGrads((l) => crossEntropyKernel(l, targets, 0), [logits], w),
    ops: withGrads(ops.crossEntropy(targets), [logits], w),
  })
}
// The bias's and the embedding's gradients.
{
  const dy = randn([1664, 256])
  cases.push({ kernel: "a bias's gradient (Σ over rows)", shape: 'Mini-GPT: 1,664 × 256', fused: () => [columnSumsKernel(dy)], ops: () => [tf.sum(dy, 0)] })
  const g = randn([1664, 64])
  const ids = tf.tensor1d(
    Array.from({ length: 1664 }, (_, i) => (i * 13) % 81),
    'int32',
  )
  cases.push({
    kernel: "the embedding's gradient",
    shape: 'Mini-GPT: 1,664 rows into 81 × 64, PAD left out',
    fused: () => [scatterAddRowsKernel(g, ids, 81, 0)],
    ops: () => [tf.tidy(() => tf.matMul(tf.transpose(tf.oneHot(tf.where(tf.equal(ids, 0), tf.fill(ids.shape, -1, 'int32'), ids), 81)), g))],
  })
}
// The seed optimizer (clip 1, AdamW) over Mini-GPT's whole parameter tree.
{
  const config = minigpt.SEED_CONFIG(81, 0)
  const params = minigpt.miniGpt(config).init(key(1))
  const grads = tree.map(params, (p) => randn(p.shape, 0.01))
  const opt = train.seedOptimizer()
  const state = opt.init(params)
  const leaves = (r) => [...tree.flatten(r[0]).values(), ...tree.flatten(r[1][1][0].mu).values(), ...tree.flatten(r[1][1][0].nu).values()]
  cases.push({
    kernel: 'clip + AdamW over the tree',
    shape: `Mini-GPT: ${tree.flatten(params).size} parameters, ${tree.count(params).toLocaleString('en-US')} floats`,
    fused: () => leaves(fusedApply(opt, grads, state, params)),
    ops: () =>
      leaves(
        tf.tidy(() => {
          const [u, s] = opt.update(grads, state, params)
          return [applyUpdates(params, u), s]
        }),
      ),
  })
}

// A case's results, its intermediates disposed (the kernels' and the ops' alike): only the outputs survive.
const run = (f) => tf.tidy(() => f().map((r) => (r instanceof tf.Tensor ? r : r.output)))

const once = (f) => {
  const t0 = performance.now()
  const ys = run(f) // wasm runs kernels synchronously: the results are there when the call returns
  const ms = performance.now() - t0
  tf.dispose(ys)
  return ms
}

const results = []
for (const c of cases) {
  const a = run(c.fused)
  const b = run(c.ops)
  // the largest difference, relative to each output's largest magnitude
  let diff = 0
  a.forEach((t, i) => {
    const av = t.dataSync()
    const bv = b[i].dataSync()
    let scale = 0
    for (let j = 0; j < bv.length; j++) scale = Math.max(scale, Math.abs(bv[j]))
    for (let j = 0; j < av.length; j++) diff = Math.max(diff, Math.abs(av[j] - bv[j]) / (scale || 1))
  })
  tf.dispose([...a, ...b])
  const fused = []
  const viaOps = []
  for (let r = 0; r < reps; r++) {
    fused.push(once(c.fused))
    viaOps.push(once(c.ops))
  }
  const f = median(fused)
  const o = median(viaOps)
  results.push({
    kernel: c.kernel,
    shape: c.shape,
    'kernels (ms)': f.toFixed(3),
    'tfjs ops (ms)': o.toFixed(3),
    'speed-up': `${(o / f).toFixed(1)}×`,
    'max relative difference': diff.toExponential(1),
  })
  process.stderr.write(`${c.kernel}, ${c.shape}: ${f.toFixed(3)} vs ${o.toFixed(3)} ms\n`)
}

if (process.argv.includes('--json')) console.log(JSON.stringify({ machine: machine(), threads: wasmThreadCount(), reps, results }))
else {
  console.log(`\n## Training kernels vs tfjs-wasm ops (${machine()}, ${wasmThreadCount()} wasm thread(s); median of ${reps} calls each, interleaved)\n`)
  console.log(table(results))
}
