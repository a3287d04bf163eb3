// GPT-2 benchmark: random weights in GPT-2 124M shapes on tfjs wasm, beside the PyTorch
// reference (bench/pytorch/gpt2_bench.py) run in the same session, as a Markdown table.
//
//   npm run build && node bench/gpt2.mjs                      # everything (minutes: do it on a quiet machine)
//   node bench/gpt2.mjs --config tiny --contexts 8,40 --bandwidth-mb 64   # a seconds-long smoke test
//   node bench/gpt2.mjs --only decode|finetune|torch|bandwidth|matmul|rounds [--json]
//   node bench/gpt2.mjs --only rounds   # decode against ONNX Runtime, cold and warm (~10 minutes)
//   --threads N: tfjs-wasm's XNNPACK threads (default one per core)
//
// What is measured (the same protocol as gpt2_bench.py):
//   decode     first one untimed prefill of other ids (the process's first: one-time costs such
//              as XNNPACK's packing of the weights; reported apart as the cold prefill), then for
//              each context C: --prefill-reps random prompts of C tokens (default 3), each
//              prefilled in one call and timed on its own (the figure: their median; the last
//              one's cache is decoded), one untimed step, then --decode-steps greedy steps through gpt2Decoder
//              (KV cache, wteᵀ once, last-position logits, argmax on the host); tokens/s = steps
//              / their time. Peak RSS (process.resourceUsage().maxRSS) right after.
//   finetune   one step = forward, causal-LM loss, backward, clip 1.0, AdamW (lr 5e-5, wd 0),
//              dropout on, loss read back; random ids [--ft-batch, --ft-block]; --ft-warmup
//              untimed steps, then --ft-steps timed ones (4: PyTorch's second step still runs
//              about twice its later ones). gpt2.finetuneStep with its blocks kept for the
//              backward pass, as PyTorch's (the comparison), and with --remat rematerialised
//              (finetuneStep's default: less memory, a third more compute); the full run does both.
//   bandwidth  the machine's memory bandwidth, two ways: copying a --bandwidth-mb MiB
//              Float32Array into another with TypedArray.set (a memcpy: bytes read + bytes
//              written per second), and a wasm matrix-vector product [1, n_embd] · [n_embd, vocab]
//              (XNNPACK; the weight bytes it reads per second) — the pattern of a decode step.
//              The bound on decoding is bandwidth ÷ the bytes a decode step must read: every
//              weight once (wteᵀ for the head; one row each of wte and wpe) plus the KV cache.
//              The decoder owns the parameters, as `minigpt gpt2 generate`'s does (wte freed, wteᵀ
//              kept); --keep-wte keeps them the caller's (both copies), for comparison.
//   torch      /usr/bin/python3 bench/pytorch/gpt2_bench.py with the same options, when that
//              interpreter has torch; its `blas` field is the BLAS the process really loaded
//              (bench/pytorch/blas_info.py). A run on the reference BLAS is labelled so.
//              PyTorch keeps its default here: 1 intra-op thread, while OpenBLAS runs its own pool
//              of one thread per core. Raising torch's threads to 2 made it 7-17x slower on this
//              machine (OpenMP and OpenBLAS threads contending for 2 cores), so 1 is its best.
//   onnx       ONNX Runtime (onnxruntime-node, CPU): the same GPT-2 exported from the PyTorch
//              reference with past key/values (bench/pytorch/gpt2_onnx.py, into a temporary
//              directory, deleted after), prefill and cached decode by the same protocol, with
//              --ort-threads intra-op threads (the whole run measures 1 and 2). Then
//              --decode-rounds rounds (default 3) of our decode and ORT's at 1 and 2 threads,
//              alternating, each a process of its own: the median of the rounds' ratios (ours ÷
//              ORT's better) is the comparison that the machine's changing bandwidth cannot sway.
//              Each round measures twice, on both sides, the same positions: cold (the process's
//              first generation) and warm (after an untimed warm-up generation of --warm-steps
//              steps, default 64, from other ids: as llama-bench times generation after a warm-up
//              run). The first hundred or so steps of a fresh Node process run slower while V8
//              optimises the hot JavaScript and tiers up wasm code (docs/benchmarks.md); ONNX
//              Runtime's native code has no such phase. --warmup-generation N makes the decode
//              and onnx parts warm up so (N untimed steps after each prompt would time later
//              positions, where ONNX Runtime's steps are slower). `--only rounds` runs the export
//              and the rounds alone.
//   matmul     the machine's compute limit at the shapes used: tf.matMul on wasm (our path)
//              and bench/pytorch/matmul_bench.py (PyTorch's BLAS), [C, E]·[E, 4E] for each
//              context C and for the fine-tuning batch. Each figure's GFLOP/s is set against them.
// decode, finetune, bandwidth, matmul and each ONNX Runtime thread count run in their own Node
// process (so the decode process's peak RSS is generation's alone), one after another.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount, key, foldIn, uniform, tree, train, gpt2, sample } from '../dist/index.js'
import { argv, opt, flag, argmax, median, table, machine, timeGreedyDecode, wasmMatmulGflops, torchMatmulGflops, torchLabel, torchEnv, TORCH_MALLOC } from './util.mjs'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))

// ---------------------------------------------------------------------------------------------
// Options

const CONFIGS = {
  gpt2: gpt2.GPT2_PRESETS.gpt2,
  // bench/pytorch/gpt2_bench.py's "tiny"
  tiny: { vocab_size: 337, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 4, n_inner: null, activation_function: 'gelu_new', bos_token_id: 336, eos_token_id: 336 },
}
const configName = opt('config', 'gpt2')
const config = CONFIGS[configName]
if (config === undefined) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${configName}`)
const contexts = opt('contexts', '64,512').split(',').filter(Boolean).map(Number)
const decodeSteps = Number(opt('decode-steps', '16'))
const prefillReps = Number(opt('prefill-reps', '3'))
const ftBatch = Number(opt('ft-batch', '8'))
const ftBlock = Number(opt('ft-block', '32'))
const ftWarmup = Number(opt('ft-warmup', '1'))
const ftSteps = Number(opt('ft-steps', '4'))
const bandwidthMb = Number(opt('bandwidth-mb', '1024'))
const seed = Number(opt('seed', '0'))
const only = opt('only', undefined)
const ortThreads = Number(opt('ort-threads', '1'))
const wasmOptions = opt('threads', undefined) === undefined ? {} : { threads: Number(opt('threads')) }
const onnxFile = opt('onnx-file', undefined)
const decodeRounds = Number(opt('decode-rounds', '3'))
const warmSteps = Number(opt('warm-steps', String(Math.min(64, config.n_positions - contexts[0])))) // (a tiny config has fewer positions)
if (!Number.isInteger(warmSteps) || warmSteps < 1) throw new Error(`--warm-steps must be an integer ≥ 1, got ${warmSteps}`)
const warmupGeneration = Number(opt('warmup-generation', '0'))
if (!Number.isInteger(warmupGeneration) || warmupGeneration < 0) throw new Error(`--warmup-generation must be an integer ≥ 0, got ${warmupGeneration}`)
const json = flag('json')
for (const c of contexts) {
  if (c + decodeSteps + 1 > config.n_positions) throw new Error(`context ${c} + ${decodeSteps + 1} steps > n_positions ${config.n_positions}`)
}
if (contexts[0] + Math.max(warmSteps, warmupGeneration) > config.n_positions)
  throw new Error(`a warm-up generation of ${Math.max(warmSteps, warmupGeneration)} steps after ${contexts[0]} tokens > n_positions ${config.n_positions}`)

const log = (...a) => console.error(...a)
const rssMb = () => process.resourceUsage().maxRSS / 1024 // KiB on Linux
/** The wasm heap's size: it grows to the peak and never shrinks (at most 4 GiB). */
const wasmHeapMb = () => tf.backend().wasm.HEAPU8.buffer.byteLength / 2 ** 20

/**
 * Random weights in the config's shapes from the library's own keyed initialisation
 * (`gpt2(c).init(key)`: Hugging Face's N(0, 0.02) init drawn with Threefry on the host, each
 * tensor uploaded once). Of the ways tried it leaves the smallest peak in the wasm heap, which
 * never shrinks: a seeded `tf.randomNormal` or weights computed by tf ops both left ~1.2–1.3 GB
 * of RSS before the first token, from their temporaries. Timings do not depend on the values.
 */
const randomParams = (c) => gpt2.gpt2(c).init(key(seed + 1))

/** n token ids uniform in [0, vocab), from a key. */
const randomIds = (k, n, vocab) => Array.from(uniform(k, n, 0, vocab), (x) => Math.min(vocab - 1, Math.floor(x)))

/**
 * The times of --prefill-reps − 1 prefills of other random prompts of C tokens (the timed
 * decode's own prefill is the last repetition): a single prefill's time is at the mercy of one
 * scheduling hiccup on a shared machine; the figure is the median of all of them.
 */
const extraPrefills = async (c, ci, run) => {
  const out = []
  for (let r = 1; r < prefillReps; r++) {
    const ids = randomIds(foldIn(foldIn(key(seed + 11), ci), r), c, config.vocab_size)
    const t0 = performance.now()
    await run(ids)
    out.push((performance.now() - t0) / 1000)
  }
  return out
}

/**
 * The first prefill of a process, of a prompt of the first context's length (other ids than the
 * timed ones), timed apart and not part of the figures: it includes one-time costs (tfjs-wasm's
 * XNNPACK packs each weight matrix on first use; ONNX Runtime and PyTorch warm their allocators),
 * which the three references do not share (ONNX Runtime packs while its session is made). The same
 * protocol in gpt2_bench.py and for ONNX Runtime.
 */
const coldPrefill = async (run) => {
  const t0 = performance.now()
  await run(randomIds(foldIn(key(seed + 7), 0), contexts[0], config.vocab_size))
  return (performance.now() - t0) / 1000
}

/**
 * --warmup-generation N: N greedy steps after a prompt of the first context's length (other ids),
 * untimed, before anything is timed — a warm-up run, as llama-bench makes before timing
 * generation. `prefill(ids)` returns the state after the prompt, `step(state)` the next one;
 * `release(state)` frees one.
 */
const warmupRun = async (prefill, step, release) => {
  if (warmupGeneration === 0) return
  let state = await prefill(randomIds(foldIn(key(seed + 11), 0), contexts[0], config.vocab_size))
  for (let i = 0; i < warmupGeneration; i++) {
    const next = await step(state)
    release(state)
    state = next
  }
  release(state)
  log(`warm-up generation: ${warmupGeneration} steps after ${contexts[0]} tokens (untimed)`)
}

// ---------------------------------------------------------------------------------------------
// Parts

async function benchDecode() {
  await initBackend('wasm', wasmOptions)
  const t0 = performance.now()
  const params = randomParams(config)
  const initSeconds = (performance.now() - t0) / 1000
  // As `minigpt gpt2 generate` does: the decoder owns the parameters (wte freed, wteᵀ kept).
  const decoder = sample.gpt2Decoder(config, params, { ownsParams: !flag('keep-wte') })
  log(`${configName}: ${tree.count(params).toLocaleString('en-US')} params on wasm, init ${initSeconds.toFixed(1)} s, RSS ${rssMb().toFixed(0)} MB`)
  const coldSeconds = await coldPrefill((ids) => decoder.prefill([ids]).then((o) => decoder.release(o.cache)))
  log(`first prefill of ${contexts[0]} tokens (cold, untimed for the figures): ${coldSeconds.toFixed(2)} s`)
  await warmupRun(
    (ids) => decoder.prefill([ids]),
    (out) => decoder.step(out.cache, [argmax(out.logits[0])]),
    (out) => decoder.release(out.cache),
  )
  const results = []
  for (const [ci, c] of contexts.entries()) {
    const prompt = randomIds(foldIn(key(seed), ci), c, config.vocab_size)
    const prefills = await extraPrefills(c, ci, async (ids) => decoder.release((await decoder.prefill([ids])).cache))
    const { prefillSeconds: last, stepSeconds: times, finalLength } = await timeGreedyDecode(decoder, prompt, decodeSteps)
    const prefill = median([...prefills, last])
    const total = times.reduce((a, b) => a + b, 0)
    const r = {
      context: c,
      prefill_seconds: prefill,
      prefill_tokens_per_s: c / prefill,
      decode_steps: decodeSteps,
      warmup_generation_steps: warmupGeneration,
      decode_seconds: total,
      decode_tokens_per_s: decodeSteps / total,
      decode_step_ms_median: 1000 * median(times),
      final_length: finalLength,
    }
    log(`decode @ ${c}: prefill ${prefill.toFixed(2)} s, ${r.decode_tokens_per_s.toFixed(2)} tok/s (${r.decode_step_ms_median.toFixed(0)} ms/step median)`)
    results.push(r)
  }
  const count = tree.count(params)
  decoder.dispose()
  return {
    wasm_threads: wasmThreadCount(),
    params: count,
    init_seconds: initSeconds,
    cold_prefill_seconds: coldSeconds,
    decode: results,
    peak_rss_mb_after_decode: rssMb(),
    wasm_heap_mb: wasmHeapMb(),
  }
}

async function benchFinetune() {
  await initBackend('wasm', wasmOptions)
  const params = randomParams(config)
  // The Trainer's step (clip 1, AdamW lr 5e-5 wd 0), one parameter at a time; blocks kept (as
  // PyTorch keeps them) unless --remat.
  const remat = flag('remat')
  const ft = gpt2.finetuneStep(config, { lr: 5e-5, totalSteps: 1_000_000, remat })
  const t = train.stepTrainer(ft.step, { params, opt: ft.init(params) })
  const times = []
  const losses = []
  for (let i = 0; i < ftWarmup + ftSteps; i++) {
    const ids = Array.from({ length: ftBatch }, (_, b) => randomIds(foldIn(key(seed + 1), i * ftBatch + b), ftBlock, config.vocab_size))
    const batch = gpt2.lmBatch(ids)
    const t0 = performance.now()
    const l = await t.step(batch, foldIn(key(seed + 2), i))
    const dt = (performance.now() - t0) / 1000
    log(`  fine-tune step ${i + 1}/${ftWarmup + ftSteps}${i < ftWarmup ? ' (warm-up)' : ''}: ${dt.toFixed(2)} s, loss ${l.toFixed(4)}, wasm heap ${wasmHeapMb().toFixed(0)} MiB`)
    if (i >= ftWarmup) {
      times.push(dt)
      losses.push(l)
    }
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  return {
    finetune: {
      remat,
      batch: ftBatch,
      block: ftBlock,
      warmup_steps: ftWarmup,
      steps: ftSteps,
      clip: 1,
      optimizer: 'AdamW(lr=5e-5, weight_decay=0)',
      step_seconds: times,
      step_seconds_mean: mean,
      tokens_per_s: (ftBatch * ftBlock) / mean,
      losses,
    },
    peak_rss_mb_after_finetune: rssMb(),
  }
}

async function benchBandwidth() {
  // memcpy of a large Float32Array: read + write bytes per second (best of 5).
  const n = Math.floor((bandwidthMb * 2 ** 20) / 4)
  const a = new Float32Array(n).fill(1)
  const b = new Float32Array(n)
  b.set(a) // touch the pages
  let best = Infinity
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    b.set(a)
    best = Math.min(best, (performance.now() - t0) / 1000)
  }
  const copyGBs = (2 * n * 4) / best / 1e9
  // A JS loop reading it (a lower figure where the loop is compute-bound).
  let bestSum = Infinity
  let s = 0
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    for (let j = 0; j < n; j++) s += a[j]
    bestSum = Math.min(bestSum, (performance.now() - t0) / 1000)
  }
  const sumGBs = (n * 4) / bestSum / 1e9
  // The decode step's own pattern on wasm: a [1, E] · [E, V] product reads the whole matrix.
  await initBackend('wasm', wasmOptions)
  const w = tf.randomNormal([config.n_embd, config.vocab_size], 0, 0.02, 'float32', 1)
  const x = tf.randomNormal([1, config.n_embd], 0, 1, 'float32', 2)
  const times = []
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now()
    const y = tf.matMul(x, w)
    await y.data()
    times.push((performance.now() - t0) / 1000)
    y.dispose()
  }
  const matvecGBs = (w.size * 4) / median(times.slice(2)) / 1e9
  tf.dispose([w, x])
  log(`bandwidth: memcpy ${copyGBs.toFixed(1)} GB/s (read+write), JS sum loop ${sumGBs.toFixed(1)} GB/s (read), wasm matvec ${matvecGBs.toFixed(1)} GB/s (weights read)`)
  return {
    bandwidth: {
      array_mb: bandwidthMb,
      memcpy_gb_s: copyGBs,
      js_sum_gb_s: sumGBs,
      js_sum_checksum: s,
      wasm_matvec_gb_s: matvecGBs,
      matvec_shape: [config.n_embd, config.vocab_size],
    },
  }
}

/** [M, K, N] shapes of the matmuls that dominate each figure: [C, E]·[E, 4E] (the MLP's c_fc). */
const matmulShapes = () => [...contexts.map((c) => [c, config.n_embd, 4 * config.n_embd]), [ftBatch * ftBlock, config.n_embd, 4 * config.n_embd]]

async function benchMatmul() {
  await initBackend('wasm', wasmOptions)
  const out = await wasmMatmulGflops(tf, matmulShapes())
  for (const m of out) log(`matmul ${m.shape.join('x')} on wasm: ${m.gflop_s.toFixed(1)} GFLOP/s`)
  return { wasm_threads: wasmThreadCount(), matmul: out }
}

/** Greedy decoding through an ONNX Runtime session of the exported graph (gpt2_onnx.py), same protocol as benchDecode. */
async function benchOnnx() {
  if (onnxFile === undefined) throw new Error('--only onnx needs --onnx-file (the whole run exports it)')
  const ort = await import('onnxruntime-node')
  const session = await ort.InferenceSession.create(onnxFile, { intraOpNumThreads: ortThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' })
  const head = config.n_embd / config.n_head
  const feeds = (ids, past) => {
    const f = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) }
    for (let i = 0; i < config.n_layer; i++) {
      for (const kv of ['key', 'value']) f[`past_${kv}_${i}`] = past?.[`present_${kv}_${i}`] ?? new ort.Tensor('float32', new Float32Array(0), [1, config.n_head, 0, head])
    }
    return f
  }
  const coldSeconds = await coldPrefill((ids) => session.run(feeds(ids)))
  await warmupRun(
    (ids) => session.run(feeds(ids)),
    (out) => session.run(feeds([argmax(out.logits.data)], out)),
    () => undefined,
  )
  const results = []
  for (const [ci, c] of contexts.entries()) {
    const prompt = randomIds(foldIn(key(seed), ci), c, config.vocab_size)
    const prefills = await extraPrefills(c, ci, (ids) => session.run(feeds(ids)))
    let t = performance.now()
    let out = await session.run(feeds(prompt))
    const prefill = median([...prefills, (performance.now() - t) / 1000])
    out = await session.run(feeds([argmax(out.logits.data)], out)) // one untimed step, as timeGreedyDecode takes
    const times = []
    for (let s = 0; s < decodeSteps; s++) {
      const token = argmax(out.logits.data)
      t = performance.now()
      out = await session.run(feeds([token], out))
      times.push((performance.now() - t) / 1000)
    }
    const total = times.reduce((a, b) => a + b, 0)
    const r = {
      context: c,
      prefill_seconds: prefill,
      prefill_tokens_per_s: c / prefill,
      decode_steps: decodeSteps,
      warmup_generation_steps: warmupGeneration,
      decode_seconds: total,
      decode_tokens_per_s: decodeSteps / total,
      decode_step_ms_median: 1000 * median(times),
      final_length: out.present_key_0.dims[2],
    }
    log(
      `onnxruntime ${ortThreads} thread(s) @ ${c}: prefill ${prefill.toFixed(2)} s, ${r.decode_tokens_per_s.toFixed(2)} tok/s (${r.decode_step_ms_median.toFixed(0)} ms/step median)`,
    )
    results.push(r)
  }
  await session.release()
  const { version } = (await import('onnxruntime-node/package.json', { with: { type: 'json' } })).default
  return { onnxruntime: version, threads: ortThreads, cold_prefill_seconds: coldSeconds, decode: results, peak_rss_mb_after_decode: rssMb() }
}

const torchAvailable = () => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' })
    return true
  } catch {
    log('torch: /usr/bin/python3 cannot import torch; PyTorch and ONNX Runtime skipped (apt-get install python3-torch libopenblas0-pthread)')
    return false
  }
}

/**
 * Exports the graph, runs ONNX Runtime with 1 and 2 threads (each in its own process), then
 * --decode-rounds rounds of our decode and ONNX Runtime's, alternating (ours, ORT at 1 thread,
 * ORT at 2: each a process of its own), and deletes the file. Decoding at 64 positions is
 * memory-bound for both, so their figures are close, and this machine's bandwidth moves by 15-40 %
 * over minutes: two figures measured minutes apart compare the machine's moods. Each round's
 * ratio (ours ÷ ORT's better thread count) is taken within the round; the report gives their median.
 */
const onnxRuns = () => {
  const dir = mkdtempSync(join(tmpdir(), 'minigpt-onnx-'))
  try {
    const file = join(dir, `${configName}.onnx`)
    execFileSync('/usr/bin/python3', [join(HERE, 'pytorch', 'gpt2_onnx.py'), '--config', configName, '--seed', String(seed), '--out', file], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const ort = (n, warm = warmupGeneration) => child('onnx', ['--ort-threads', String(n), '--onnx-file', file, '--warmup-generation', String(warm)])
    const runs = [1, 2].map((n) => ort(n))
    const tps = (run, C) => run.decode.find((d) => d.context === C)?.decode_tokens_per_s
    // each round: cold (the process's first generation) and warm (after a warm-up generation of
    // --warm-steps steps), ours then ORT's at 1 and 2 threads; the same positions are timed in both
    const rounds = Array.from({ length: decodeRounds }, () =>
      [0, warmSteps].flatMap((warm) => {
        const ours = child('decode', ['--warmup-generation', String(warm)])
        const theirs = [1, 2].map((n) => ort(n, warm))
        return contexts.map((C) => {
          const [mine, best] = [tps(ours, C), Math.max(...theirs.map((o) => tps(o, C) ?? 0))]
          return { context: C, warm, ours: mine, ort: best, ratio: mine / best, wasm_threads: ours.wasm_threads }
        })
      }),
    )
    return { runs, rounds }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** gpt2_bench.py with OpenBLAS's pool at `blasThreads` (OPENBLAS_NUM_THREADS); the whole run measures 1 and 2 and keeps each figure's best. */
function benchTorch(blasThreads = undefined) {
  const python = '/usr/bin/python3'
  if (!torchAvailable()) return null
  const args = [
    join(HERE, 'pytorch', 'gpt2_bench.py'),
    '--config',
    configName,
    '--contexts',
    contexts.join(','),
    '--decode-steps',
    String(decodeSteps),
    '--prefill-reps',
    String(prefillReps),
    '--ft-batch',
    String(ftBatch),
    '--ft-block',
    String(ftBlock),
    '--ft-warmup',
    String(ftWarmup),
    '--ft-steps',
    String(ftSteps),
    '--seed',
    String(seed),
    '--json',
  ]
  const out = execFileSync(python, args, { cwd: ROOT, env: torchEnv(blasThreads), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 })
  return JSON.parse(out)
}

// ---------------------------------------------------------------------------------------------
// The whole run: each part in its own process, then the table.

/** Runs `--only part` of this script in a fresh Node process and returns its JSON. */
const child = (part, extra = []) => {
  // an option in `extra` replaces the one given on the command line
  const replaced = new Set(extra.filter((a) => a.startsWith('--')))
  const dropped = (a, i) => a === '--json' || ['--only', ...replaced].some((o) => a === o || argv[i - 1] === o)
  const passed = argv.filter((a, i) => !dropped(a, i))
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...passed, ...extra, '--only', part, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  })
  return JSON.parse(out)
}

/** Bytes a decode step reads at context `c`: every weight once (the head as wteᵀ, one row of wte and wpe) plus the KV cache. */
const bytesPerToken = (c, context) => {
  const all = tree.count(gpt2.gpt2Shapes(c))
  const weights = all - c.n_positions * c.n_embd + c.n_embd // wpe: one row
  return 4 * (weights + c.n_embd + 2 * c.n_layer * context * c.n_embd) // wte: the head reads it all (as wteᵀ), plus one row for the lookup
}

const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }))
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—')

/** Matmul flops of a prefill of C tokens: the blocks (12·L·E² weights, attention scores and sums over C×C) and the head at the last position. */
const prefillFlops = (c, C) => 2 * C * 12 * c.n_layer * c.n_embd ** 2 + 4 * c.n_layer * C * C * c.n_embd + 2 * c.n_embd * c.vocab_size
/** Matmul flops of a fine-tuning step (forward + backward ≈ 3 × forward, the head at every position). */
const finetuneFlops = (c, B, T) => 3 * B * (2 * T * (12 * c.n_layer * c.n_embd ** 2 + c.n_embd * c.vocab_size) + 4 * c.n_layer * T * T * c.n_embd)

/**
 * One PyTorch result from runs at several BLAS thread counts: each decode figure and the
 * fine-tuning step from the run where it was best, tagged with that run's thread count
 * (`*_blas_threads`), the rest (versions, BLAS, peak RSS) from the first run.
 */
const bestTorch = (runs) => {
  const threads = (x) => x.blas?.blas_threads
  const decode = runs[0].decode?.map((d0) => {
    const at = runs.map((x) => [x.decode.find((d) => d.context === d0.context), threads(x)])
    const [p, pt] = at.reduce((a, b) => (b[0].prefill_tokens_per_s > a[0].prefill_tokens_per_s ? b : a))
    const [q, qt] = at.reduce((a, b) => (b[0].decode_tokens_per_s > a[0].decode_tokens_per_s ? b : a))
    return { ...q, prefill_tokens_per_s: p.prefill_tokens_per_s, prefill_seconds: p.prefill_seconds, prefill_blas_threads: pt, decode_blas_threads: qt }
  })
  const fts = runs.map((x) => [x.finetune, threads(x)]).filter(([f]) => f?.step_seconds_mean)
  const ft = fts.length === 0 ? undefined : fts.reduce((a, b) => (b[0].step_seconds_mean < a[0].step_seconds_mean ? b : a))
  return { ...runs[0], decode, finetune: ft && { ...ft[0], blas_threads: ft[1] }, blas_threads_tried: runs.map(threads) }
}

const report = (r) => {
  const rows = []
  const limits = []
  const ours = r.decode?.decode ?? []
  const theirs = r.torch?.decode ?? []
  const orts = r.onnx ?? []
  const bw = r.bandwidth?.bandwidth
  const torchCol = torchLabel(r.torch?.blas)
  const oursCol = `minigpt-fp (tfjs wasm, ${r.decode?.wasm_threads ?? r.matmul?.wasm_threads ?? r.decodeRounds?.[0]?.[0]?.wasm_threads ?? '?'} thread(s))`
  const ortCol = `ONNX Runtime ${orts[0]?.onnxruntime ?? ''} (best of ${orts.map((o) => o.threads).join(', ') || '—'} threads)`
  const gemm = (list, C) => list?.find((m) => m.shape[0] === C)?.gflop_s
  const pct = (x, of) => (x && of ? `${((100 * x) / of).toFixed(0)}%` : '—')
  /** The best ONNX Runtime figure at context C: [value, threads]. */
  const bestOrt = (C, field) =>
    orts
      .map((o) => [o.decode.find((d) => d.context === C)?.[field], o.threads])
      .filter(([v]) => v !== undefined)
      .sort((a, b) => b[0] - a[0])[0] ?? [undefined, undefined]
  for (const d of ours) {
    const C = d.context
    const t = theirs.find((x) => x.context === C)
    for (const [field, what, digits] of [
      ['prefill_tokens_per_s', 'prefill', 1],
      ['decode_tokens_per_s', 'cached decode', 2],
    ]) {
      const [o, oThreads] = bestOrt(C, field)
      rows.push({
        measure: `${what} tokens/s @ ${C}`,
        [oursCol]: fmt(d[field], digits),
        [torchCol]: t?.[field] === undefined ? '—' : `${fmt(t[field], digits)}${t[`${field.split('_')[0]}_blas_threads`] ? ` (${t[`${field.split('_')[0]}_blas_threads`]})` : ''}`,
        [ortCol]: o === undefined ? '—' : `${fmt(o, digits)} (${oThreads})`,
        'ours ÷ PyTorch': ratio(d[field], t?.[field]),
        'ours ÷ ORT': ratio(d[field], o),
      })
    }
    // Against the machine: prefill's GFLOP/s vs matmul at [C, E]·[E, 4E]; decode's bytes/s vs memcpy.
    const flops = prefillFlops(config, C)
    const wasmGemm = gemm(r.matmul?.matmul, C)
    const blasGemm = gemm(r.torchMatmul?.matmul, C)
    const [oPrefill] = bestOrt(C, 'prefill_tokens_per_s')
    const gf = (tps) => (tps ? (flops * tps) / C / 1e9 : undefined)
    limits.push({
      figure: `prefill @ ${C}: GFLOP/s (wasm matmul ${fmt(wasmGemm, 1)}, BLAS matmul ${fmt(blasGemm, 1)} GFLOP/s at ${C}×${config.n_embd}·${config.n_embd}×${4 * config.n_embd})`,
      ours: `${fmt(gf(d.prefill_tokens_per_s), 1)} = ${pct(gf(d.prefill_tokens_per_s), wasmGemm)} of wasm matmul, ${pct(gf(d.prefill_tokens_per_s), blasGemm)} of BLAS`,
      PyTorch: `${fmt(gf(t?.prefill_tokens_per_s), 1)} = ${pct(gf(t?.prefill_tokens_per_s), blasGemm)} of BLAS`,
      'ONNX Runtime': `${fmt(gf(oPrefill), 1)} = ${pct(gf(oPrefill), blasGemm)} of BLAS`,
    })
    if (bw !== undefined) {
      const bytes = bytesPerToken(config, C + decodeSteps / 2)
      const [oDecode] = bestOrt(C, 'decode_tokens_per_s')
      const gbs = (tps) => (tps ? (tps * bytes) / 1e9 : undefined)
      const limit = bw.memcpy_gb_s
      limits.push({
        figure: `cached decode @ ${C}: GB/s of weights + cache read (${(bytes / 1e6).toFixed(bytes < 1e7 ? 3 : 0)} MB/token; memcpy ${limit.toFixed(1)}, wasm matvec ${bw.wasm_matvec_gb_s.toFixed(1)} GB/s)`,
        ours: `${fmt(gbs(d.decode_tokens_per_s), 1)} = ${pct(gbs(d.decode_tokens_per_s), limit)} of memcpy`,
        PyTorch: `${fmt(gbs(t?.decode_tokens_per_s), 1)} = ${pct(gbs(t?.decode_tokens_per_s), limit)}`,
        'ONNX Runtime': `${fmt(gbs(oDecode), 1)} = ${pct(gbs(oDecode), limit)}`,
      })
    }
  }
  const warms = [...new Set((r.decodeRounds ?? []).flat().map((x) => x.warm ?? 0))]
  for (const C of contexts)
    for (const W of warms) {
      const at = (r.decodeRounds ?? []).map((round) => round.find((x) => x.context === C && (x.warm ?? 0) === W)).filter((x) => x !== undefined)
      if (at.length === 0) continue
      const when = W === 0 ? "cold: the process's first generation" : `warm: after a warm-up generation of ${W} steps`
      rows.push({
        measure: `cached decode tokens/s @ ${C}, ${when}, in ${at.length} alternating rounds (ours, then ORT at 1 and 2 threads, each a process of its own): medians; the median of the rounds' ratios (${at.map((x) => `${x.ratio.toFixed(2)}×`).join(', ')})`,
        [oursCol]: fmt(median(at.map((x) => x.ours))),
        [torchCol]: '—',
        [ortCol]: fmt(median(at.map((x) => x.ort))),
        'ours ÷ PyTorch': '—',
        'ours ÷ ORT': `${median(at.map((x) => x.ratio)).toFixed(2)}×`,
      })
    }
  if (r.decode?.cold_prefill_seconds !== undefined) {
    const oCold = orts.map((o) => o.cold_prefill_seconds).filter((x) => x !== undefined)
    rows.push({
      measure: `first prefill of the process, ${contexts[0]} tokens (cold: one-time costs; not in the figures), seconds`,
      [oursCol]: fmt(r.decode.cold_prefill_seconds),
      [torchCol]: fmt(r.torch?.cold_prefill_seconds),
      [ortCol]: oCold.length ? oCold.map((x) => fmt(x)).join(' / ') : '—',
      'ours ÷ PyTorch': '—',
      'ours ÷ ORT': '—',
    })
  }
  const f = r.finetune?.finetune
  const tf_ = r.torch?.finetune
  const fr = r.finetuneRemat?.finetune
  const kept = (x) => (x.remat ? 'blocks rematerialised' : 'blocks kept')
  if (f !== undefined) {
    for (const x of fr === undefined ? [f] : [f, fr]) {
      rows.push({
        measure: `fine-tune step seconds (${x.batch}×${x.block}, AdamW; ours: ${kept(x)})`,
        [oursCol]: fmt(x.step_seconds_mean),
        [torchCol]: `${fmt(tf_?.step_seconds_mean)}${tf_?.blas_threads ? ` (${tf_.blas_threads})` : ''}`,
        [ortCol]: '—',
        'ours ÷ PyTorch': `${ratio(tf_?.step_seconds_mean, x.step_seconds_mean)} the speed`,
        'ours ÷ ORT': '—',
      })
    }
    const flops = finetuneFlops(config, f.batch, f.block)
    const T = f.batch * f.block
    const gf = (sec) => (sec ? flops / sec / 1e9 : undefined)
    limits.push({
      figure: `fine-tune step: GFLOP/s (${(flops / 1e9).toFixed(0)} GFLOP; matmul at ${T}×${config.n_embd}·${config.n_embd}×${4 * config.n_embd}: wasm ${fmt(gemm(r.matmul?.matmul, T), 1)}, BLAS ${fmt(gemm(r.torchMatmul?.matmul, T), 1)})`,
      ours: `${fmt(gf(f.step_seconds_mean), 1)} = ${pct(gf(f.step_seconds_mean), gemm(r.matmul?.matmul, T))} of wasm matmul`,
      PyTorch: `${fmt(gf(tf_?.step_seconds_mean), 1)} = ${pct(gf(tf_?.step_seconds_mean), gemm(r.torchMatmul?.matmul, T))} of BLAS`,
      'ONNX Runtime': '—',
    })
  }
  if (r.decode !== undefined) {
    const o = orts.map((x) => x.peak_rss_mb_after_decode)
    rows.push({
      measure: 'peak RSS after decoding, MB',
      [oursCol]: fmt(r.decode.peak_rss_mb_after_decode, 0),
      [torchCol]: fmt(r.torch?.peak_rss_mb_after_decode, 0),
      [ortCol]: o.length ? o.map((x) => fmt(x, 0)).join(' / ') : '—',
      'ours ÷ PyTorch': `memory ${ratio(r.decode.peak_rss_mb_after_decode, r.torch?.peak_rss_mb_after_decode)}`,
      'ours ÷ ORT': o.length ? `memory ${ratio(r.decode.peak_rss_mb_after_decode, Math.min(...o))}` : '—',
    })
  }
  for (const run of [r.finetune, r.finetuneRemat]) {
    if (run?.finetune === undefined) continue
    rows.push({
      measure: `peak RSS after fine-tuning (ours: ${kept(run.finetune)}), MB`,
      [oursCol]: fmt(run.peak_rss_mb_after_finetune, 0),
      [torchCol]: fmt(r.torch?.peak_rss_mb_after_finetune, 0),
      [ortCol]: '—',
      'ours ÷ PyTorch': `memory ${ratio(run.peak_rss_mb_after_finetune, r.torch?.peak_rss_mb_after_finetune)}`,
      'ours ÷ ORT': '—',
    })
  }
  const b = r.torch?.blas
  const torchNote = r.torch
    ? `PyTorch ${r.torch.torch_version}, ${r.torch.threads} intra-op thread(s), BLAS: ${b?.blas ?? 'not reported'}${r.torch.blas_threads_tried ? ` at ${r.torch.blas_threads_tried.join(' and ')} threads (each figure its best; the count in brackets)` : ''}${b?.reference ? ' — REFERENCE BLAS, not a comparison' : ''}; glibc malloc keeping freed memory (GLIBC_TUNABLES=${TORCH_MALLOC})`
    : 'PyTorch not run'
  const tables = `${rows.length > 0 ? table(rows) : '(nothing measured)'}${limits.length > 0 ? `\n\nAgainst the machine's limits, measured in the same run:\n\n${table(limits)}` : ''}`
  return `\n## GPT-2 (${configName}: ${tree.count(gpt2.gpt2Shapes(config)).toLocaleString('en-US')} parameters, random weights, float32) — ${machine()}; ${torchNote}\n\n${tables}\n`
}

/** `--only rounds`: the ONNX export and the alternating rounds alone, as the whole run's report keys them. */
const benchRounds = () => {
  const ort = torchAvailable() ? onnxRuns() : { runs: [], rounds: [] }
  return { onnx: ort.runs, decodeRounds: ort.rounds }
}

const PARTS = { decode: benchDecode, finetune: benchFinetune, bandwidth: benchBandwidth, matmul: benchMatmul, torch: benchTorch, onnx: benchOnnx, rounds: benchRounds }

if (only !== undefined) {
  if (PARTS[only] === undefined) throw new Error(`--only must be one of ${Object.keys(PARTS).join(', ')}, got ${only}`)
  const r = await PARTS[only]()
  console.log(json ? JSON.stringify(r) : report(only === 'rounds' ? r : { [only]: r }))
} else {
  const r = {}
  for (const part of ['bandwidth', 'matmul', 'decode', 'finetune']) r[part] = child(part)
  r.finetuneRemat = child('finetune', ['--remat'])
  const first = benchTorch(1)
  if (first !== null) {
    r.torchRuns = [first, benchTorch(2)]
    r.torch = bestTorch(r.torchRuns)
    r.torchMatmul = torchMatmulGflops(matmulShapes())
    const ort = onnxRuns()
    r.onnx = ort.runs
    r.decodeRounds = ort.rounds
  }
  console.log(json ? JSON.stringify({ machine: machine(), config: configName, ...r }) : report(r))
}
