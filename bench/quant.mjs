// Quantized GPT-2 decoding: float32 vs int8 vs q4 weights, random weights in the config's
// shapes (GPT-2 124M by default) on tfjs wasm, side by side in one run.
//
//   npm run build && node bench/quant.mjs                       # 124M at contexts 64 and 512
//   node bench/quant.mjs --config gpt2-large --formats int8 --contexts 64   # 774M in the 4 GiB heap
//   node bench/quant.mjs --config tiny --contexts 8 --rounds 1  # a seconds-long smoke test
//   node bench/quant.mjs --quality --model DIR                   # Mini-GPT validation loss, f32/int8/q4
//   node bench/quant.mjs --interleave --decode-steps 32          # all formats in one process, blocks of --block steps alternated
//   node bench/quant.mjs --interleave --decode-warmup 48 --decode-steps 96   # … past the JIT's warm-up (docs/benchmarks.md)
//   node bench/quant.mjs --kernel                                # the matrix-vector kernels alone, int8 and q4 alternated
//   node bench/quant.mjs --kernel --threads 1                    # … on one thread (no kernel pool)
//   node bench/quant.mjs --interleave --formats f32,int8,f32+bf16,int8+bf16   # "+bf16": a bfloat16 KV cache
//
// Each (format, round) runs in its own Node process, so that its peak RSS is its own; rounds
// interleave the formats (f32, int8, q4, f32, int8, q4 …) and the table gives each format's
// median over rounds. The protocol of bench/gpt2.mjs's decode: a random prompt of C tokens
// prefilled, one untimed step, then --decode-steps greedy steps; tokens/s = steps / their time.
// The float32 decoder owns its parameters (wte freed, wteᵀ kept), as `minigpt gpt2 generate`'s.
// The quantized weights are drawn and quantized one tensor at a time (quantizeLeaf), wte
// by blocks of rows, so the float model never exists in memory (as when a quantized file is read).
//
// --quality: a Mini-GPT checkpoint folder (`minigpt train` with the seed recipe on
// ../shared/data/fantasy_names.train.txt) evaluated on fantasy_names.val.txt with float32,
// int8 and q4 weights: the seed's validation metric (nats per predicted token, eval mode).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { initBackend, kernelThreads, key, foldIn, normal, uniform, tree, gpt2, minigpt, sample, quant, io, data, train } from '../dist/index.js'
import { argv, opt, argmax, median, table, machine, timeGreedyDecode } from './util.mjs'

const CONFIGS = {
  ...gpt2.GPT2_PRESETS,
  tiny: { vocab_size: 337, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 4, n_inner: null, activation_function: 'gelu_new' },
}
const configName = opt('config', 'gpt2')
const config = CONFIGS[configName]
if (config === undefined) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}`)
const contexts = opt('contexts', '64,512').split(',').map(Number)
const decodeSteps = Number(opt('decode-steps', '16'))
const block = Number(opt('block', '8'))
const warmup = Number(opt('decode-warmup', '1'))
if (!Number.isInteger(warmup) || warmup < 1) throw new Error(`--decode-warmup must be an integer ≥ 1, got ${warmup}`)
const formats = opt('formats', 'f32,int8,int8+bf16,q4').split(',')
const rounds = Number(opt('rounds', '2'))
const seed = Number(opt('seed', '0'))
// --threads N: wasm's threads (XNNPACK's and the library kernels' pool); default one per core
const wasmOptions = opt('threads', undefined) === undefined ? {} : { threads: Number(opt('threads', '1')) }
const log = (...a) => console.error(...a)
const rssMb = () => process.resourceUsage().maxRSS / 1024

const randomIds = (k, n, vocab) => Array.from(uniform(k, n, 0, vocab), (x) => Math.min(vocab - 1, Math.floor(x)))

/**
 * N(0, 0.02) for matrices, ones/zeros for LayerNorm weights/biases and biases: GPT-2's init,
 * drawn per tensor in chunks of 2^20 values (so that only the float tensor itself is held).
 */
const randomSource = (name, shape) => {
  const size = shape.reduce((a, b) => a * b, 1)
  if (shape.length === 1) return new Float32Array(size).fill(/ln_\d|ln_f/.test(name) && name.endsWith('.weight') ? 1 : 0)
  let h = 0
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  const out = new Float32Array(size)
  const chunk = 1 << 20
  for (let i = 0; i < size; i += chunk) out.set(normal(foldIn(foldIn(key(seed + 1), h), i / chunk), Math.min(chunk, size - i), 0.02), i)
  return out
}

/**
 * A decoder owning random weights in `format` — f32, int8 or q4, with "+bf16" for a bfloat16
 * key/value cache (the decoder's `cache` option) — and the bytes its matrices take.
 */
const makeDecoder = (name) => {
  const [format, cacheTag] = name.split('+')
  if (cacheTag !== undefined && cacheTag !== 'bf16') throw new Error(`--formats: "${name}": the only cache suffix is +bf16`)
  const options = { ownsParams: true, cache: cacheTag === 'bf16' ? 'bfloat16' : 'float32' }
  if (format === 'f32') {
    const params = gpt2.gpt2(config).init(key(seed + 1))
    return { weightBytes: 4 * tree.count(params), decoder: sample.gpt2Decoder(config, params, options) }
  }
  const q = quant.assembleQuantized(gpt2.gpt2Shapes(config), (name, ref) =>
    name === 'wte.weight' ? chunkedTable(name, format) : quant.quantizeLeaf(ref, name, format, randomSource(name, ref.shape)),
  )
  const weightBytes = [...quant.leavesByPath(q).values()].filter(quant.isQuantized).reduce((n, m) => n + quant.quantizedBytes(m), 0)
  return { weightBytes, decoder: sample.gpt2Decoder(config, q, options) }
}

/**
 * --interleave: every format's decoder in one process, blocks of --block steps alternated (8 of
 * f32, 8 of int8, 8 of q4, 8 of f32, …) on the same context, so that a load change on a shared
 * machine hits all of them alike; the ratio of median step times is the figure. (Peak RSS
 * comes from the per-format runs.) Each block starts after a pause and one untimed step: the
 * threads of the format before it must be asleep first. XNNPACK's threads (float32 products)
 * and the kernel pool's workers (quantized products) spin for a while after their last job,
 * and a step taken while the other format's threads still spin loses a core to them — alternating
 * single steps made float32 steps 1.5× slower (17.9 ms alone, 26.7 ms alternated with int8, one
 * process each way, 2026-12-07) and overstated int8's ratio (2.53× alternated, 1.99× alone).
 * Before the blocks, each format takes --decode-warmup untimed steps after its prefill: the first
 * few dozen steps of a process run slower while V8 compiles the hot JavaScript, more so for the
 * format that runs first (docs/benchmarks.md).
 */
/** Waits long enough for idle threads that spin (XNNPACK's, the kernel pool's) to go to sleep. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

async function interleaved() {
  await initBackend('wasm', wasmOptions)
  const ds = formats.map((f) => ({ format: f, ...makeDecoder(f) }))
  const rows = []
  for (const [ci, c] of contexts.entries()) {
    const prompt = randomIds(foldIn(key(seed), ci), c, config.vocab_size)
    const state = []
    for (const d of ds) state.push({ out: await d.decoder.prefill([prompt]), times: [] })
    const step = async (i, timed) => {
      const st = state[i]
      const token = argmax(st.out.logits[0])
      const t = performance.now()
      const next = await ds[i].decoder.step(st.out.cache, [token])
      if (timed) st.times.push(performance.now() - t)
      ds[i].decoder.release(st.out.cache)
      st.out = next
    }
    // --decode-warmup untimed steps of each format, one format after another (1: the first step's one-time costs)
    for (const i of ds.keys()) {
      await settle()
      for (let w = 0; w < warmup; w++) await step(i, false)
    }
    for (let done = 0; done < decodeSteps; done += block) {
      for (const i of ds.keys()) {
        await settle()
        await step(i, false)
        for (let s = done; s < Math.min(decodeSteps, done + block); s++) await step(i, true)
      }
    }
    const ms = Object.fromEntries(ds.map((d, i) => [d.format, median(state[i].times)]))
    ds.forEach((d, i) => d.decoder.release(state[i].out.cache))
    for (const d of ds) {
      rows.push({
        format: d.format,
        context: c,
        'median step ms': ms[d.format].toFixed(1),
        'tok/s (1000 / median)': (1000 / ms[d.format]).toFixed(1),
        'vs f32': ms.f32 === undefined ? '–' : `${(ms.f32 / ms[d.format]).toFixed(2)}×`,
        'vs int8': ms.int8 === undefined ? '–' : `${(ms.int8 / ms[d.format]).toFixed(2)}×`,
      })
    }
    log(`interleaved @ ${c}: ${ds.map((d) => `${d.format} ${ms[d.format].toFixed(1)} ms`).join(', ')}`)
  }
  ds.forEach((d) => d.decoder.dispose())
  console.log(
    `\n## Quantized GPT-2 decoding, interleaved in one process (${configName}, random weights, wasm, ${kernelThreads()} kernel thread(s); ${decodeSteps} steps per format after ${warmup} untimed, alternated in blocks of ${block})\n\n${machine()}\n\n${table(rows)}\n`,
  )
}

/**
 * wte quantized 4,096 rows at a time (quantization is per row or per block of a row, so this
 * is exact): the float table (154 MB for 124M) never exists, as when a quantized file is read.
 */
const chunkedTable = (_name, format) => {
  const [rows, cols] = [config.vocab_size, config.n_embd]
  const parts = []
  for (let r = 0; r < rows; r += 4096) {
    const n = Math.min(4096, rows - r)
    parts.push(quant.quantizeRows(format, Float32Array.from(normal(foldIn(key(seed + 2), r), n * cols, 0.02)), n, cols))
  }
  const concat = (arrays, Ctor) => {
    const out = new Ctor(arrays.reduce((a, x) => a + x.length, 0))
    let at = 0
    for (const x of arrays) {
      out.set(x, at)
      at += x.length
    }
    return out
  }
  return quant.uploadQuantized({
    format,
    rows,
    cols,
    bytes: concat(
      parts.map((p) => p.bytes),
      Uint8Array,
    ),
    scales: concat(
      parts.map((p) => p.scales),
      Float32Array,
    ),
  })
}

async function child(format) {
  await initBackend('wasm', wasmOptions)
  const t0 = performance.now()
  const { weightBytes, decoder } = makeDecoder(format)
  const init = (performance.now() - t0) / 1000
  const rows = []
  for (const [ci, c] of contexts.entries()) {
    const prompt = randomIds(foldIn(key(seed), ci), c, config.vocab_size)
    const { prefillSeconds: prefill, stepSeconds: times } = await timeGreedyDecode(decoder, prompt, decodeSteps, warmup)
    rows.push({ context: c, prefill_tokens_per_s: c / prefill, decode_tokens_per_s: decodeSteps / times.reduce((a, b) => a + b, 0), step_ms_median: 1000 * median(times) })
    log(`${format} @ ${c}: prefill ${prefill.toFixed(2)} s, ${rows.at(-1).decode_tokens_per_s.toFixed(1)} tok/s`)
  }
  decoder.dispose()
  process.stdout.write(
    JSON.stringify({
      format,
      init_seconds: init,
      weight_mb: weightBytes / 2 ** 20,
      rows,
      peak_rss_mb: rssMb(),
      wasm_heap_mb: tf.backend().wasm.HEAPU8.buffer.byteLength / 2 ** 20,
    }),
  )
}

async function quality() {
  await initBackend('wasm', wasmOptions)
  const dir = opt('model', undefined)
  if (dir === undefined) throw new Error('--quality needs --model DIR (a Mini-GPT checkpoint folder)')
  const r = await io.loadMiniGpt(dir)()
  if (E.isLeft(r)) throw new Error(r.left.message)
  const { config, params, vocab } = r.right
  const valFile = opt('val', new URL('../../shared/data/fantasy_names.val.txt', import.meta.url).pathname)
  const examples = data.parseNames(readFileSync(valFile, 'utf8')).map((n) => data.encodeExample(vocab, n, config.max_len))
  const f32 = await train.evaluateNames(config, params, examples)
  const rows = [{ weights: 'f32', 'validation loss': f32.loss.toFixed(4), 'vs f32': '–', tokens: f32.tokens }]
  for (const format of ['int8', 'q4']) {
    const q = quant.quantize(minigpt.miniGptShapes(config), params, format)
    const e = await train.evaluateNames(config, q, examples)
    quant.disposeQuantTree(q)
    rows.push({ weights: format, 'validation loss': e.loss.toFixed(4), 'vs f32': `${(100 * (e.loss / f32.loss - 1)).toFixed(2)} %`, tokens: e.tokens })
  }
  console.log(`\n## Quantized Mini-GPT quality (${dir}, ${tree.count(params).toLocaleString('en-US')} parameters; ${valFile.split('/').at(-1)})\n\n${table(rows)}\n`)
}

/**
 * --kernel: one activation row times GPT-2 124M's matrices (768→2304, 768→768, 768→3072,
 * 3072→768 and the tied head 768→50257), int8 and q4 calls alternated, --rounds × 20 calls
 * each; GB/s counts the weight and scale bytes a call reads.
 */
const kernels = async () => {
  await initBackend('wasm', wasmOptions)
  const shapes = [
    [2304, 768],
    [768, 768],
    [3072, 768],
    [768, 3072],
    [50257, 768],
  ]
  const rows = []
  for (const [outs, cols] of shapes) {
    const w = Float32Array.from(normal(key(seed), outs * cols, 0.02))
    const x = tf.tensor2d(Float32Array.from(normal(key(seed + 1), cols)), [1, cols])
    const m = Object.fromEntries(['int8', 'q4'].map((f) => [f, quant.uploadQuantized(quant.quantizeRows(f, w, outs, cols))]))
    const times = { int8: [], q4: [] }
    const call = (f) => {
      const t0 = performance.now()
      const y = quant.quantizedMatmul(x, m[f])
      y.dataSync()
      const dt = performance.now() - t0
      y.dispose()
      return dt
    }
    for (const f of ['int8', 'q4']) for (let i = 0; i < 3; i++) call(f)
    for (let r = 0; r < rounds * 20; r++) for (const f of ['int8', 'q4']) times[f].push(call(f))
    const bytes = (f) => (f === 'int8' ? outs * (Math.ceil(cols / 32) * 32 + 4) : outs * Math.ceil(cols / 32) * 20)
    const ms = (f) => median(times[f])
    rows.push({
      matrix: `${cols}→${outs}`,
      'int8 ms': ms('int8').toFixed(3),
      'q4 ms': ms('q4').toFixed(3),
      'int8 GB/s': (bytes('int8') / ms('int8') / 1e6).toFixed(2),
      'q4 GB/s': (bytes('q4') / ms('q4') / 1e6).toFixed(2),
      'q4 speed ÷ int8': `${(ms('int8') / ms('q4')).toFixed(2)}×`,
    })
    x.dispose()
    for (const q of Object.values(m)) quant.disposeQuantized(q)
  }
  console.log(
    `\n## Quantized matrix-vector kernels (one row, wasm, ${kernelThreads()} kernel thread(s); median of ${rounds * 20} alternated calls)\n\n${machine()}\n\n${table(rows)}\n`,
  )
}

if (argv.includes('--kernel')) {
  await kernels()
} else if (argv.includes('--quality')) {
  await quality()
} else if (argv.includes('--interleave')) {
  await interleaved()
} else if (argv.includes('--child')) {
  await child(opt('child', 'f32'))
} else {
  const runs = []
  for (let r = 0; r < rounds; r++) {
    for (const f of formats) {
      const args = [fileURLToPath(import.meta.url), ...argv, '--child', f]
      runs.push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })))
    }
  }
  const by = (f) => runs.filter((x) => x.format === f)
  const rate = (f, c) => median(by(f).map((x) => x.rows.find((y) => y.context === c).decode_tokens_per_s))
  const out = []
  for (const f of formats) {
    for (const c of contexts) {
      const fr = by(f)
      out.push({
        format: f,
        context: c,
        'decode tok/s': rate(f, c).toFixed(1),
        'vs f32': formats.includes('f32') ? `${(rate(f, c) / rate('f32', c)).toFixed(2)}×` : '–',
        'vs int8': formats.includes('int8') ? `${(rate(f, c) / rate('int8', c)).toFixed(2)}×` : '–',
        'prefill tok/s': median(fr.map((x) => x.rows.find((y) => y.context === c).prefill_tokens_per_s)).toFixed(0),
        'weights MB': fr[0].weight_mb.toFixed(0),
        'peak RSS MB': Math.max(...fr.map((x) => x.peak_rss_mb)).toFixed(0),
        'wasm heap MB': Math.max(...fr.map((x) => x.wasm_heap_mb)).toFixed(0),
      })
    }
  }
  console.log(
    `\n## Quantized GPT-2 decoding (${configName}, random weights, wasm; median of ${rounds} interleaved rounds, ${decodeSteps} steps each)\n\n${machine()}\n\n${table(out)}\n`,
  )
  // The ratios again with every format in one process, steps alternated (robust to load drift).
  if (formats.length > 1 && !argv.includes('--no-interleave')) {
    process.stdout.write(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--interleave'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 }),
    )
  }
}
