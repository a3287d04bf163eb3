// GPU benchmark: webgpu (Node, the optional `webgpu` package) beside our wasm, and PyTorch CUDA
// where /usr/bin/python3 has torch with a CUDA device (bench/pytorch/gpu_bench.py), as a Markdown
// table. Made for a machine with a GPU; on a machine without one it runs on a software adapter
// (Mesa's lavapipe: scripts/lavapipe.sh) and says so — those figures measure a CPU, not a GPU.
//
//   npm run build && node bench/gpu.mjs                          # Mini-GPT training, GPT-2 124M decode, the attention kernel
//   node bench/gpu.mjs --config tiny --train-steps 3 --decode-steps 4   # a smoke test
//   node bench/gpu.mjs --only train|decode|attention [--backends webgpu,wasm] [--rounds 2] [--no-torch] [--json]
//
// webgpu's adapter options come from MINIGPT_WEBGPU_FLAGS (Dawn's flags, comma-separated) and
// MINIGPT_WEBGPU_FEATURE_LEVEL (core | compatibility), as for `npm run test:gpu`.
//
// What is measured (each backend in its own Node process; with --rounds > 1 the backends take
// turns, A B A B, and the table shows the median of the rounds):
//   train      Mini-GPT in the seed's shapes (3 layers, d 64, 81 tokens), the seed's step (AdamW
//              with clipping, dropout on) on random batches of 64 × 26; --train-warmup untimed
//              steps, then --train-steps timed ones, each ending with the loss read back;
//              tokens/s = 64 · 26 / median step time.
//   decode     GPT-2 (--config, default the 124M shapes, random weights) through gpt2Decoder:
//              a prompt of --context tokens prefilled, one untimed step, then --decode-steps greedy
//              steps; tokens/s = steps / their time (logits read back every step, as sampling needs).
//   attention  webgpu only: the WGSL attention kernel against the tfjs ops it replaces, one query
//              over --context cached positions, GPT-2 124M's 12 heads of 64, per call.
import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, webgpuAdapter, key, foldIn, uniform, normal, tree, train, gpt2, minigpt, sample } from '../dist/index.js'
import { attendOneQueryWebGpu } from '../dist/backend/webgpu/attend-one-query.js'
import { argv, opt, flag, machine, median, table, timeGreedyDecode } from './util.mjs'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const log = (s) => process.stderr.write(s + '\n')

const CONFIGS = {
  gpt2: gpt2.GPT2_PRESETS.gpt2,
  tiny: { ...gpt2.GPT2_PRESETS.gpt2, vocab_size: 337, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 4 },
}
const configName = opt('config', 'gpt2')
const config = CONFIGS[configName]
if (config === undefined) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${configName}`)
const context = Number(opt('context', String(Math.min(64, config.n_positions / 2))))
const decodeSteps = Number(opt('decode-steps', '16'))
const trainSteps = Number(opt('train-steps', '10'))
const trainWarmup = Number(opt('train-warmup', '2'))
const webgpuOptions = {
  dawnFlags: (process.env.MINIGPT_WEBGPU_FLAGS ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean),
  featureLevel: process.env.MINIGPT_WEBGPU_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : 'core',
}

const start = async (backend) => {
  await initBackend(backend, backend === 'webgpu' ? { webgpu: webgpuOptions } : {})
  return backend === 'webgpu' ? await webgpuAdapter() : undefined
}

// ---- One measurement in this process (the child) ----

const MINI = minigpt.SEED_CONFIG(81)
const B = 64
const T = 26

async function measureTrain() {
  const params = minigpt.miniGpt(MINI).init(key(0))
  const optimizer = train.seedOptimizer()
  const trainer = train.trainer(minigpt.namesLoss(MINI), optimizer, { params, opt: optimizer.init(params) })
  const times = []
  for (let i = 0; i < trainWarmup + trainSteps; i++) {
    const u = uniform(foldIn(key(1), i), 2 * B * T)
    const input = Int32Array.from(u.subarray(0, B * T), (x) => 3 + Math.floor(x * 78))
    const target = Int32Array.from(u.subarray(B * T), (x) => 3 + Math.floor(x * 78))
    const t0 = performance.now()
    await trainer.step({ size: B, length: T, input, target, tokens: B * T }, foldIn(key(2), i))
    if (i >= trainWarmup) times.push((performance.now() - t0) / 1000)
  }
  return { train_tokens_per_s: (B * T) / median(times), train_step_ms_median: 1000 * median(times) }
}

async function measureDecode() {
  const params = gpt2.gpt2(config).init(key(3))
  const decoder = sample.gpt2Decoder(config, params, { ownsParams: true })
  const prompt = Array.from(uniform(key(4), context), (x) => Math.floor(x * config.vocab_size))
  const { prefillSeconds: prefill, stepSeconds: times } = await timeGreedyDecode(decoder, prompt, decodeSteps)
  decoder.dispose()
  const total = times.reduce((a, b) => a + b, 0)
  return {
    params: tree.count(gpt2.gpt2Shapes(config)),
    prefill_tokens_per_s: context / prefill,
    decode_tokens_per_s: decodeSteps / total,
    decode_step_ms_median: 1000 * median(times),
  }
}

async function measureAttention() {
  const h = config.n_head
  const d = config.n_embd / config.n_head
  const q = tf.tensor(normal(key(5), h * d), [1, h, 1, d])
  const k = tf.tensor(normal(key(6), h * context * d), [1, h, context, d])
  const v = tf.tensor(normal(key(7), h * context * d), [1, h, context, d])
  const ops = () => tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), -1), v))
  const kernel = () => attendOneQueryWebGpu(q, k, v, context)
  const time = async (f) => {
    const ts = []
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now()
      const r = f()
      await r.data()
      r.dispose()
      if (i >= 5) ts.push(performance.now() - t0)
    }
    return median(ts)
  }
  // Interleaved, so that both see the same machine.
  const a = []
  const b = []
  for (let r = 0; r < 3; r++) {
    a.push(await time(ops))
    b.push(await time(kernel))
  }
  tf.dispose([q, k, v])
  return { attention_ops_ms: median(a), attention_kernel_ms: median(b) }
}

const MEASURES = { train: measureTrain, decode: measureDecode, attention: measureAttention }

if (opt('child', undefined) !== undefined) {
  const [backend, measure] = opt('child').split(':')
  const adapter = await start(backend)
  const r = await MEASURES[measure]()
  process.stdout.write(JSON.stringify({ backend, measure, adapter, ...r }) + '\n')
  process.exit(0)
}

// ---- The parent: children per backend and measure, PyTorch, the table ----

const backends = opt('backends', 'webgpu,wasm').split(',')
const only = opt('only', 'train,decode,attention').split(',')
const rounds = Number(opt('rounds', '1'))
const passOn = argv.filter((a, i) => !['--only', '--backends', '--rounds', '--json'].includes(a) && !['--only', '--backends', '--rounds'].includes(argv[i - 1]))

const results = []
for (const measure of only) {
  for (let r = 0; r < rounds; r++) {
    for (const backend of backends) {
      if (measure === 'attention' && backend !== 'webgpu') continue
      log(`gpu bench: ${measure} on ${backend} (round ${r + 1}/${rounds})`)
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...passOn, '--child', `${backend}:${measure}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 24,
      })
      if (child.status !== 0) {
        log(`gpu bench: ${measure} on ${backend} failed (exit ${child.status})`)
        process.exitCode = 1
        continue
      }
      results.push(JSON.parse(child.stdout.trim().split('\n').pop()))
    }
  }
}

let torch
if (!flag('no-torch')) {
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        `${HERE}/pytorch/gpu_bench.py`,
        '--config',
        configName,
        '--context',
        String(context),
        '--decode-steps',
        String(decodeSteps),
        '--train-steps',
        String(trainSteps),
        '--train-warmup',
        String(trainWarmup),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
    torch = JSON.parse(out)
  } catch (e) {
    log(`gpu bench: no PyTorch figures (${e.message.split('\n')[0]})`)
  }
}

const adapter = results.find((r) => r.adapter !== undefined)?.adapter
const pick = (backend, field) => {
  const xs = results.filter((r) => r.backend === backend && r[field] !== undefined).map((r) => r[field])
  return xs.length === 0 ? undefined : median(xs)
}
const fmt = (x, digits = 0) => (x === undefined || x === null ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
const ratio = (a, b) => (a === undefined || b === undefined || b === null ? '–' : `${(a / b).toFixed(2)}×`)
const torchCuda = torch?.device === 'cuda' ? torch : undefined
const rows = []
const row = (figure, field, torchField, digits) => {
  const gpu = pick('webgpu', field)
  const wasm = pick('wasm', field)
  rows.push({
    figure,
    webgpu: fmt(gpu, digits),
    wasm: fmt(wasm, digits),
    'webgpu ÷ wasm': ratio(gpu, wasm),
    'PyTorch CUDA': fmt(torchCuda?.[torchField], digits),
    'webgpu ÷ PyTorch': ratio(gpu, torchCuda?.[torchField]),
  })
}
if (only.includes('train')) row('Mini-GPT training tokens/s (64 × 26, seed step)', 'train_tokens_per_s', 'train_tokens_per_s', 0)
if (only.includes('decode')) row(`GPT-2 ${configName} decode tokens/s @ ${context}`, 'decode_tokens_per_s', 'decode_tokens_per_s', 1)
if (only.includes('decode')) row(`GPT-2 ${configName} prefill tokens/s (${context})`, 'prefill_tokens_per_s', 'prefill_tokens_per_s', 1)
const attention = only.includes('attention') ? { ops: pick('webgpu', 'attention_ops_ms'), kernel: pick('webgpu', 'attention_kernel_ms') } : undefined

if (flag('json')) {
  console.log(JSON.stringify({ machine: machine(), adapter, results, torch }, null, 1))
} else {
  const kind =
    adapter === undefined
      ? 'no webgpu adapter'
      : `${adapter.software ? 'SOFTWARE adapter (a CPU, not a GPU)' : 'GPU adapter'}: ${adapter.description || adapter.device} (${adapter.vendor}, ${adapter.architecture}, ${adapter.featureLevel})`
  console.log(
    `\n## GPU benchmark — ${new Date().toISOString().slice(0, 10)} — ${machine()}\n\nwebgpu: ${kind}. PyTorch: ${torch === undefined ? 'not run' : torch.device === 'cuda' ? `CUDA on ${torch.gpu}` : `no CUDA device (${torch.device}); its figures are left out`}. Rounds: ${rounds}.\n`,
  )
  if (rows.length > 0) console.log(table(rows))
  if (attention !== undefined && attention.ops !== undefined) {
    console.log(
      `\nAttention of one query over ${context} positions (${config.n_head} heads of ${config.n_embd / config.n_head}) on webgpu: tfjs ops ${attention.ops.toFixed(2)} ms, the WGSL kernel ${attention.kernel.toFixed(2)} ms (${(attention.ops / attention.kernel).toFixed(1)}×), per call with the read-back.`,
    )
  }
}
