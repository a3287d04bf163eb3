// Where a GPT-2 decoding step or a Mini-GPT forward pass spends its wall time on wasm, kernel by
// kernel, without tfjs's profiler: every kernel registered for the wasm backend is wrapped in a
// timer around its call (tf.profile reads back every kernel's output and roughly doubles a
// decoding step). What no kernel call covers — the engine's bookkeeping, the layers' own code —
// is the rest of the wall time, printed as "host". For choosing what to change; not part of
// `npm run bench`.
//
//   npm run build && node bench/kernel-times.mjs [--weights f32|int8|q4] [--context 64] [--steps 200]
//   node bench/kernel-times.mjs --weights int8 --context 512 --cache bfloat16   # a bfloat16 KV cache
//   node bench/kernel-times.mjs --weights int8 --no-replay     # every step through tfjs's engine (no replayed steps)
//   node bench/kernel-times.mjs --weights f32 --untimed 1 --rounds 4 --steps 40   # a fresh process's warm-up, round by round
//   node bench/kernel-times.mjs --minigpt [--passes 100]      # the eval forward pass of 64 × 26 tokens
//
// GPT-2 decoding runs steps on a fixed token stream (no sampling) after a prompt of --context random
// tokens, with a fresh prefill (untimed) every 60 steps so that the context stays near --context,
// after --untimed steps (default 10). With --rounds R, R rounds of --steps steps, each summarised
// on a line (the mean step, the time outside kernels and the largest kernels), the table for the last.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount, kernelPoolStats, key, uniform, gpt2, sample, quant, data, minigpt } from '../dist/index.js'
import { argv, flag, opt, median, table } from './util.mjs'

const weights = opt('weights', 'int8')
if (!['f32', 'int8', 'q4'].includes(weights)) throw new Error(`--weights must be f32, int8 or q4, not ${weights}`)
const cache = opt('cache', 'float32')
/** --no-replay: every decoding step through tfjs's engine (the decoders replay steps by default: docs/concepts.md). */
const replay = !flag('no-replay')
if (!['float32', 'bfloat16'].includes(cache)) throw new Error(`--cache must be float32 or bfloat16, not ${cache}`)

// tfjs-wasm registers its kernels when the backend starts: wrap them after.
await initBackend('wasm')

/** Kernel name (and, for products, the matrix's shape) → [ms, calls] while `timing` is on. */
const spent = new Map()
let timing = false
/** Kernel calls under way: a kernel that calls another (MinigptDense calls XNNPACK's _FusedMatMul) is timed once, as the outer one. */
let depth = 0
for (const k of tf.getKernelsForBackend('wasm')) {
  const run = k.kernelFunc
  tf.unregisterKernel(k.kernelName, 'wasm')
  tf.registerKernel({
    ...k,
    kernelFunc: (a) => {
      if (!timing || depth > 0) return run(a)
      const t0 = performance.now()
      depth++
      let out
      try {
        out = run(a)
      } finally {
        depth--
      }
      const ms = performance.now() - t0
      const shape = a.attrs?.rows !== undefined ? ` ${a.attrs.cols}→${a.attrs.rows}` : a.inputs.w !== undefined ? ` ${a.inputs.w.shape.join('→')}` : ''
      const e = spent.get(k.kernelName + shape) ?? [0, 0]
      spent.set(k.kernelName + shape, [e[0] + ms, e[1] + 1])
      return out
    },
  })
}
/** The mean wall time of `times` (ms), the mean time outside any kernel, and the kernels timed (largest first, [name, [ms, calls]]). */
const summary = (times) => {
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  const kernels = [...spent.entries()].sort((a, b) => b[1][0] - a[1][0])
  return { mean, host: mean - kernels.reduce((a, [, [ms]]) => a + ms, 0) / times.length, kernels }
}

/** The caller's waits for the kernel pool's workers in the last timed calls (ms; inside the kernels' times). */
let waited = 0

/** Times `n` calls of `f` (after an untimed `before(i)` each), kernels included; returns the wall times in ms. */
const timed = async (n, f, before = async () => undefined) => {
  const times = []
  waited = 0
  for (let i = 0; i < n; i++) {
    await before(i)
    timing = true
    const w0 = kernelPoolStats()?.waitedMs ?? 0
    const t0 = performance.now()
    await f(i)
    times.push(performance.now() - t0)
    waited += (kernelPoolStats()?.waitedMs ?? 0) - w0
    timing = false
  }
  return times
}

let title
let times
if (argv.includes('--minigpt')) {
  const dataDir = process.env.MINIGPT_DATA ?? join(resolve(new URL('..', import.meta.url).pathname), '..', 'shared', 'data')
  const vocab = data.buildVocab(data.parseNames(readFileSync(join(dataDir, 'fantasy_names.txt'), 'utf8')))
  const config = minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad)
  const params = minigpt.miniGpt(config).init(key(42))
  const ids = tf.tensor2d(
    Array.from({ length: 64 * 26 }, (_, i) => 3 + ((i * 7) % 78)),
    [64, 26],
    'int32',
  )
  const pass = async () => {
    const logits = tf.tidy(() => minigpt.miniGpt(config).apply(params, { ids }, { training: false }).logits)
    await logits.data()
    logits.dispose()
  }
  for (let i = 0; i < 20; i++) await pass()
  const passes = Number(opt('passes', '100'))
  times = await timed(passes, pass)
  title = `Mini-GPT eval forward pass of 64 × 26 tokens, ${passes} passes`
} else {
  const config = gpt2.GPT2_PRESETS.gpt2
  const params = gpt2.gpt2(config).init(key(1))
  const decoder =
    weights === 'f32'
      ? sample.gpt2Decoder(config, params, { cache, replay })
      : sample.gpt2Decoder(config, quant.quantize(gpt2.gpt2Shapes(config), params, weights), { ownsParams: true, cache, replay })
  const context = Number(opt('context', '64'))
  const prompt = Array.from(uniform(key(3), context, 0, config.vocab_size), Math.floor)
  let out = await decoder.prefill([prompt])
  let token = 5
  const step = async () => {
    const next = await decoder.step(out.cache, [token])
    decoder.release(out.cache)
    out = next
    token = (token + 7919) % config.vocab_size
  }
  const refill = async (s) => {
    if (s % 60 !== 59) return
    decoder.release(out.cache)
    out = await decoder.prefill([prompt])
  }
  await timed(Number(opt('untimed', '10')), step, refill)
  const steps = Number(opt('steps', '200'))
  const rounds = Number(opt('rounds', '1'))
  for (let r = 0; r < rounds; r++) {
    spent.clear()
    times = await timed(steps, step, refill)
    if (rounds === 1) continue
    const { mean, host, kernels } = summary(times)
    console.log(
      `round ${r + 1}: ${mean.toFixed(2)} ms a step, outside kernels ${host.toFixed(2)} | ${kernels
        .slice(0, 4)
        .map(([k, [ms]]) => `${k} ${(ms / times.length).toFixed(2)}`)
        .join(', ')}`,
    )
  }
  title = `GPT-2 124M (${weights}, ${cache} cache${replay ? '' : ', no replay'}) cached decoding after ${context} tokens, ${steps} steps${rounds > 1 ? ` (round ${rounds})` : ''}`
}

const n = times.length
const { mean, host, kernels } = summary(times)
const rows = kernels.map(([name, [ms, calls]]) => ({
  kernel: name,
  'calls each': +(calls / n).toFixed(2),
  'ms each': (ms / n).toFixed(3),
  share: `${((100 * ms) / n / mean).toFixed(1)}%`,
}))
rows.push({ kernel: 'host (no kernel running)', 'calls each': '', 'ms each': host.toFixed(3), share: `${((100 * host) / mean).toFixed(1)}%` })
console.log(`\n## ${title} (wasm, ${wasmThreadCount()} thread(s)): mean ${mean.toFixed(2)} ms, median ${median(times).toFixed(2)} ms\n`)
console.log(table(rows))
if (kernelPoolStats() !== undefined)
  console.log(`\nThe caller's waits for chunks the kernel pool's workers claimed (inside the kernels above): ${(waited / n).toFixed(3)} ms a step.`)
