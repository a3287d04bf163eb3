// Core benchmark (issue #2): matmul GFLOP/s and the training-step tokens/s of a small MLP,
// on cpu and on wasm, measured side by side in one run. Prints a Markdown table.
//   node bench/core.mjs [--json]
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, split, linear, gelu, sequential, optim, train, tree } from '../dist/index.js'
import { median, table, timeIt, machine } from './util.mjs'

const matmulGflops = async (n, reps) => {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1)
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2)
  const times = await timeIt(reps, async () => {
    const c = tf.matMul(a, b)
    await c.data()
    c.dispose()
  })
  a.dispose()
  b.dispose()
  return (2 * n ** 3) / median(times) / 1e9
}

// An MLP language-model-ish step: tokens × 256 features → 1024 → 256, MSE to a target, AdamW.
const mlpTokensPerSecond = async (tokens, reps) => {
  const net = sequential(linear(256, 1024), gelu('erf'), linear(1024, 256))
  const [kp, kx] = split(key(0))
  const params = net.init(kp)
  const opt = optim.chain(optim.clipByGlobalNorm(1), optim.adamw({ lr: 1e-3 }))
  const x = tf.randomNormal([tokens, 256], 0, 1, 'float32', 3)
  const y = tf.randomNormal([tokens, 256], 0, 1, 'float32', 4)
  const loss = (p) => tf.mean(tf.square(tf.sub(net.apply(p, x, { training: false }), y)))
  const t = train.trainer(loss, opt, { params, opt: opt.init(params) })
  await t.step(undefined, kx) // warm-up
  const times = await timeIt(reps, () => t.step(undefined, kx))
  tree.dispose(t.state.params)
  x.dispose()
  y.dispose()
  return tokens / median(times)
}

const rows = []
for (const backend of ['cpu', 'wasm']) {
  await initBackend(backend)
  const heavy = backend === 'wasm'
  rows.push({
    backend,
    'matmul 256 GFLOP/s': (await matmulGflops(256, heavy ? 20 : 3)).toFixed(2),
    'matmul 1024 GFLOP/s': (await matmulGflops(1024, heavy ? 5 : 1)).toFixed(2),
    'MLP step tokens/s (512 tok)': Math.round(await mlpTokensPerSecond(512, heavy ? 10 : 2)).toLocaleString('en-US'),
  })
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ machine: machine(), rows }))
else {
  console.log(`\n## Core: matmul and a small MLP training step (${machine()})\n`)
  console.log(table(rows))
}
