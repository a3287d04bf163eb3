// Where GPT-2 124M's prefill, cached decoding and fine-tuning step spend their time on wasm:
// tfjs's profiler around one prefill of --contexts tokens each, --decode-steps greedy steps after
// a prompt of each context, and one fine-tuning step (--ft-batch × --ft-block, the bench's
// `finetuneStep`), after an untimed warm-up of each, kernel times summed by kernel name. For
// choosing what to change; not part of `npm run bench`.
//
//   npm run build && node bench/profile-gpt2.mjs [--contexts 64,512] [--only prefill|decode|finetune] [--threads N] [--top 25] [--by-shape]
//   node bench/profile-gpt2.mjs --only decode --weights int8|q4   # decoding with quantized weights
//
// --by-shape sums by kernel name and input shapes (which transposes, which products).
//
// Kernel names that are composite ops (`forward`, `fusedMatMul__op`, ...) also count the
// kernels inside them, so shares overlap; the wall time is the profiled call's.
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount, key, foldIn, uniform, train, gpt2, sample, quant } from '../dist/index.js'
import { argv, opt, table } from './util.mjs'

const only = opt('only', undefined)
const contexts = opt('contexts', '64,512').split(',').filter(Boolean).map(Number)
const ftBatch = Number(opt('ft-batch', '8'))
const ftBlock = Number(opt('ft-block', '32'))
const top = Number(opt('top', '25'))
const decodeSteps = Number(opt('decode-steps', '16'))
const byShape = argv.includes('--by-shape')
const weights = opt('weights', 'f32')
if (!['f32', 'int8', 'q4'].includes(weights)) throw new Error(`--weights must be f32, int8 or q4, not ${weights}`)
await initBackend('wasm', opt('threads') === undefined ? {} : { threads: Number(opt('threads')) })
const config = gpt2.GPT2_PRESETS.gpt2
const randomIds = (k, n) => Array.from(uniform(k, n, 0, config.vocab_size), (x) => Math.min(config.vocab_size - 1, Math.floor(x)))

/** The profile of `f` (run once untimed first), as a Markdown table summed by kernel name. */
const profile = async (title, f) => {
  await f(0)
  const t0 = performance.now()
  const info = await tf.profile(() => f(1))
  const wall = performance.now() - t0
  const byName = new Map()
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0
    const name = byShape ? `${k.name} ${(k.inputShapes ?? []).map((sh) => `[${sh}]`).join(' ')}` : k.name
    const e = byName.get(name) ?? { calls: 0, ms: 0 }
    byName.set(name, { calls: e.calls + 1, ms: e.ms + ms })
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0)
  const rows = [...byName.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, top)
    .map(([name, e]) => ({
      kernel: name,
      calls: e.calls,
      'ms total': e.ms.toFixed(1),
      'share of kernel time': `${((100 * e.ms) / total).toFixed(1)}%`,
      'µs per call': ((1000 * e.ms) / e.calls).toFixed(0),
    }))
  console.log(
    `\n### ${title} (wasm, ${wasmThreadCount()} thread(s)): ${info.kernels.length.toLocaleString('en-US')} kernel calls, kernels ${total.toFixed(0)} ms of ${wall.toFixed(0)} ms wall (profiled)\n`,
  )
  console.log(table(rows))
}

const params = gpt2.gpt2(config).init(key(1))
if (only === undefined || only === 'prefill') {
  const decoder = sample.gpt2Decoder(config, params)
  for (const c of contexts) {
    await profile(`GPT-2 124M prefill of ${c} tokens`, async (i) => {
      const out = await decoder.prefill([randomIds(foldIn(key(c), i), c)])
      decoder.release(out.cache)
    })
  }
  decoder.dispose()
}
if (only === undefined || only === 'decode') {
  const decoder =
    weights === 'f32' ? sample.gpt2Decoder(config, params) : sample.gpt2Decoder(config, quant.quantize(gpt2.gpt2Shapes(config), params, weights), { ownsParams: true })
  for (const c of contexts) {
    const first = await decoder.prefill([randomIds(foldIn(key(c), 9), c)])
    let cache = first.cache
    let token = 0
    await profile(`GPT-2 124M (${weights}): ${decodeSteps} cached decoding steps after ${c} tokens`, async () => {
      for (let s = 0; s < decodeSteps; s++) {
        const out = await decoder.step(cache, [token])
        decoder.release(cache)
        cache = out.cache
        token = (token + 7919) % config.vocab_size
      }
    })
    decoder.release(cache)
  }
  decoder.dispose()
}
if (only === undefined || only === 'finetune') {
  const ft = gpt2.finetuneStep(config, { lr: 5e-5, totalSteps: 1_000_000 })
  const t = train.stepTrainer(ft.step, { params, opt: ft.init(params) })
  await profile(`GPT-2 124M fine-tuning step ${ftBatch} × ${ftBlock}`, async (i) => {
    const ids = Array.from({ length: ftBatch }, (_, b) => randomIds(foldIn(key(2), i * ftBatch + b), ftBlock))
    await t.step(gpt2.lmBatch(ids), foldIn(key(3), i))
  })
}
