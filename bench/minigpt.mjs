// Mini-GPT benchmark (issues #3 and #4), ours and the seed's own PyTorch code side by side:
//   speed    wall time per epoch of the seed recipe on all 5,639 names (≥ 3 epochs each),
//            training and forward tokens/s, then 1,000 names generated at T = 1 (names/s)
//   quality  (--quality) 50 epochs on fantasy_names.train.txt, validation loss on .val.txt
//
//   node bench/minigpt.mjs [--epochs 3] [--quality] [--no-torch] [--threads N] [--forward-rounds 3] [--json]
//   (--threads: tfjs-wasm's XNNPACK threads, default one per core; --no-torch skips PyTorch)
//
// Forward tokens/s: both sides by PyTorch's protocol (minigpt_seed.py's forward_bench: warm up,
// then passes until 2 s and 5 passes have gone, tokens ÷ elapsed time). The machine's speed
// drifts by ±15 % over minutes, more than the two sides differ, so the comparison is also made
// in --forward-rounds rounds, each ours then PyTorch's (a process of its own: --epochs 0
// --forward-bench, at 1 and 2 BLAS threads, the better), and the median of the rounds' ratios
// is the figure the bar uses.
//
// The data is read from $MINIGPT_DATA or ../shared/data; PyTorch runs with /usr/bin/python3.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount, key, tree, data, minigpt, train, sample, io } from '../dist/index.js'
import { machine, median, table, wasmMatmulGflops, torchMatmulGflops, torchLabel, torchEnv, TORCH_MALLOC } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const flag = (name) => process.argv.includes(`--${name}`)
const root = resolve(new URL('..', import.meta.url).pathname)
const dataDir = process.env.MINIGPT_DATA ?? join(root, '..', 'shared', 'data')
const file = (n) => join(dataDir, n)
if (!existsSync(file('fantasy_names.txt'))) {
  console.error(`bench/minigpt: no data at ${dataDir} (set MINIGPT_DATA)`)
  process.exit(1)
}
const readNames = (n) => data.parseNames(readFileSync(file(n), 'utf8'))
const all = readNames('fantasy_names.txt')
const vocab = data.buildVocab(all)
const config = minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad)
const log = (s) => process.stderr.write(s + '\n')

// The machine's compute limit at the seed's shapes: a batch is 64 × 26 = 1,664 rows of width
// 64; the feed-forward's [1664, 64]·[64, 256] dominates, then Q/K/V/out [·, 64]·[64, 64] and the
// head [·, 64]·[64, 81]. Matmul flops per position of one forward: every weight matmul, plus
// the attention scores and sums over all 26 positions (as the seed computes them, mask or not).
const ROWS = 64 * (config.max_len + 1)
const MATMUL_SHAPES = [
  [ROWS, config.embed_dim, config.ff_dim],
  [ROWS, config.embed_dim, config.embed_dim],
  [ROWS, config.embed_dim, config.vocab_size],
]
const forwardFlopsPerPosition =
  config.num_layers * 2 * (4 * config.embed_dim ** 2 + 2 * config.embed_dim * config.ff_dim) +
  config.num_layers * 4 * (config.max_len + 1) * config.embed_dim +
  2 * config.embed_dim * config.vocab_size

// Ours: the seed recipe through the library's own trainNames.
const ourRun = async ({ names, val, epochs, seed = 42 }) => {
  const params = minigpt.miniGpt(config).init(key(seed))
  const optimizer = train.seedOptimizer()
  const run = {
    config,
    epochs,
    batchSize: 64,
    key: key(seed),
    optimizer,
    train: minigpt.namesExamples(vocab, names, config),
    ...(val ? { val: minigpt.namesExamples(vocab, val, config) } : {}),
  }
  const events = train.trainNames(run, { params, opt: optimizer.init(params) })
  const epochsOut = []
  let final
  for (;;) {
    const n = await events.next()
    if (n.done) {
      final = n.value
      break
    }
    if (n.value.type === 'epoch') {
      const e = n.value
      epochsOut.push({ epoch: e.epoch + 1, seconds: e.seconds, trainLoss: e.trainLoss, valLoss: e.valLoss })
      log(`  ours  epoch ${e.epoch + 1}/${epochs}: ${e.seconds.toFixed(2)} s, loss ${e.trainLoss.toFixed(4)}${e.valLoss !== undefined ? `, val ${e.valLoss.toFixed(4)}` : ''}`)
    }
  }
  return { epochs: epochsOut, params: final.params }
}

const forwardTokensPerSecond = async (params) => {
  const model = minigpt.miniGpt(config)
  const ids = tf.tensor2d(
    Array.from({ length: 64 * 26 }, (_, i) => 3 + ((i * 7) % 78)),
    [64, 26],
    'int32',
  )
  const pass = async () => {
    const l = tf.tidy(() => model.apply(params, { ids }, { training: false }).logits)
    await l.data()
    l.dispose()
  }
  for (let i = 0; i < 3; i++) await pass() // warm-up (JIT); PyTorch's protocol warms up once
  let reps = 0
  const t0 = performance.now()
  for (;;) {
    await pass()
    reps++
    if (reps >= 5 && performance.now() - t0 >= 2000) break
  }
  const seconds = (performance.now() - t0) / 1000
  ids.dispose()
  return (64 * 26 * reps) / seconds
}

// 1,000 names at T = 1, as a serving process would: the first call (cold: JIT, XNNPACK's
// operators for new shapes) timed on its own, then WARM_UP more calls, then the median of
// TIMED calls with other keys. PyTorch's figure is its loop over 1,000 names (7 s: warm).
const WARM_UP = 10
const TIMED = 15
const generation = async (params, trainSet) => {
  const decoder = sample.miniGptDecoder(config, params)
  const call = async (seed) => {
    const t0 = performance.now()
    const r = await sample.generateNames(decoder, vocab, { count: 1000, options: { temperature: 1 } }, key(seed))
    if (r._tag === 'Left') throw new Error(r.left)
    return { seconds: (performance.now() - t0) / 1000, names: r.right.map((n) => n.text) }
  }
  const first = await call(7)
  for (let i = 0; i < WARM_UP; i++) await call(100 + i)
  const timed = []
  for (let i = 0; i < TIMED; i++) timed.push((await call(200 + i)).seconds)
  const seconds = median(timed)
  const names = first.names
  const seen = new Set(trainSet)
  log(`  ours  1,000 names: first call ${first.seconds.toFixed(3)} s, then median ${seconds.toFixed(3)} s of ${TIMED} (after ${WARM_UP} more)`)
  // The same through a pool of worker processes, one per core (io.startNamesWorkers): same
  // keys, same names; warmed up the same way. Reported apart: PyTorch's loop uses one thread.
  const started = performance.now()
  const pool = await io.startNamesWorkers({ config, vocab, params })()
  if (pool._tag === 'Left') throw new Error(pool.left)
  const startSeconds = (performance.now() - started) / 1000
  const poolCall = async (seed) => {
    const t0 = performance.now()
    const r = await pool.right.generate({ count: 1000, options: { temperature: 1 } }, key(seed))
    if (r._tag === 'Left') throw new Error(r.left)
    return { seconds: (performance.now() - t0) / 1000, names: r.right.map((n) => n.text) }
  }
  const poolFirst = await poolCall(7)
  if (JSON.stringify(poolFirst.names) !== JSON.stringify(first.names)) throw new Error('the pool gave other names than one process')
  for (let i = 0; i < WARM_UP; i++) await poolCall(100 + i)
  const poolTimed = []
  for (let i = 0; i < TIMED; i++) poolTimed.push((await poolCall(200 + i)).seconds)
  await pool.right.close()
  log(`  ours  pool of ${pool.right.size}: started in ${startSeconds.toFixed(2)} s, first call ${poolFirst.seconds.toFixed(3)} s, then median ${median(poolTimed).toFixed(3)} s`)
  return {
    namesPerSecond: 1000 / seconds,
    firstCallNamesPerSecond: 1000 / first.seconds,
    pool: { workers: pool.right.size, startSeconds, firstCallNamesPerSecond: 1000 / poolFirst.seconds, namesPerSecond: 1000 / median(poolTimed) },
    timedSeconds: timed,
    novel: names.filter((n) => !seen.has(n)).length / names.length,
    distinct: new Set(names).size / names.length,
    meanLength: names.reduce((a, n) => a + [...n].length, 0) / names.length,
  }
}

const torchAvailable = () => {
  if (flag('no-torch')) return false
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** minigpt_seed.py; `blasThreads` sets OpenBLAS's pool (OPENBLAS_NUM_THREADS), else its default (one per core). */
const torchRun = (args, blasThreads = undefined) => {
  log(`  torch ${args.join(' ')}${blasThreads === undefined ? '' : ` (OPENBLAS_NUM_THREADS=${blasThreads})`}`)
  const env = { ...torchEnv(blasThreads), MINIGPT_DATA: dataDir }
  const out = execFileSync('/usr/bin/python3', [join(root, 'bench/pytorch/minigpt_seed.py'), ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
    maxBuffer: 1 << 26,
  })
  return JSON.parse(out.trim().split('\n').pop())
}

const fmt = (x, d = 0) => (x === undefined || x === null ? '–' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }))

const threadsArg = arg('threads', undefined)
await initBackend('wasm', threadsArg === undefined ? {} : { threads: Number(threadsArg) })
const results = { machine: machine(), date: new Date().toISOString().slice(0, 10), wasmThreads: wasmThreadCount() }

if (!flag('quality')) {
  const epochs = Number(arg('epochs', '3'))
  log(`speed: ${epochs} epochs of the seed recipe on all ${all.length} names, ours (wasm) then PyTorch`)
  const ours = await ourRun({ names: all, epochs })
  const ourEpoch = median(ours.epochs.map((e) => e.seconds))
  const batches = Math.ceil(all.length / 64)
  const seedPositions = batches * 64 * 26 // what the seed computes per epoch (every batch padded to 26)
  const ourForward = await forwardTokensPerSecond(ours.params)
  const ourGen = await generation(ours.params, all)
  const wasmMatmul = await wasmMatmulGflops(tf, MATMUL_SHAPES)
  results.speed = {
    epochs,
    ours: {
      epochSeconds: ourEpoch,
      perEpoch: ours.epochs,
      trainTokensPerSecond: seedPositions / ourEpoch,
      forwardTokensPerSecond: ourForward,
      generation: ourGen,
      matmul: wasmMatmul,
    },
  }
  if (torchAvailable()) {
    // OpenBLAS at 1 and at 2 threads: the comparison takes PyTorch's better epoch (and that run's other figures).
    const runs = [1, 2].map((n) => torchRun(['--epochs', String(epochs), '--generate', '1000', '--forward-bench'], n))
    const t = runs.reduce((a, b) => (median(b.epoch_seconds) < median(a.epoch_seconds) ? b : a))
    const torchEpoch = median(t.epoch_seconds)
    const blasMatmul = torchMatmulGflops(MATMUL_SHAPES)
    results.speed.torch = {
      epochSeconds: torchEpoch,
      perEpoch: t.epoch_seconds,
      trainTokensPerSecond: seedPositions / torchEpoch,
      stepOnlyTokensPerSecond: t.train_tokens_per_s,
      forwardTokensPerSecond: t.forward_tokens_per_s,
      generation: t.generate,
      threads: t.threads,
      torch: t.torch_version,
      blas: t.blas,
      matmul: blasMatmul.matmul,
      byBlasThreads: runs.map((x) => ({ blasThreads: x.blas?.blas_threads, epochSeconds: median(x.epoch_seconds), forwardTokensPerSecond: x.forward_tokens_per_s })),
    }
    // The forward pass in alternating rounds: ours, then PyTorch's better of 1 and 2 BLAS threads.
    const rounds = []
    for (let r = 0; r < Number(arg('forward-rounds', '3')); r++) {
      const o = await forwardTokensPerSecond(ours.params)
      const p = Math.max(...[1, 2].map((n) => torchRun(['--epochs', '0', '--forward-bench'], n).forward_tokens_per_s))
      log(`  forward round ${r + 1}: ours ${fmt(o)}, PyTorch ${fmt(p)} tokens/s = ${fmt(o / p, 2)}×`)
      rounds.push({ ours: o, torch: p, ratio: o / p })
    }
    results.speed.forwardRounds = rounds
  }
  tree.dispose(ours.params)
  const s = results.speed
  const tcol = s.torch ? torchLabel(s.torch.blas) : 'PyTorch'
  const rows = [
    {
      figure: `wall time per epoch (median of ${epochs}, all ${all.length} names, 89 batches)`,
      ours: `${fmt(s.ours.epochSeconds, 2)} s`,
      [tcol]: s.torch ? `${fmt(s.torch.epochSeconds, 2)} s` : '–',
      ratio: s.torch ? `${fmt(s.torch.epochSeconds / s.ours.epochSeconds, 2)}× faster` : '–',
    },
    {
      figure: 'training tokens/s (89 batches × 64 × 26 positions ÷ epoch wall time, as the seed pads)',
      ours: fmt(s.ours.trainTokensPerSecond),
      [tcol]: s.torch ? fmt(s.torch.trainTokensPerSecond) : '–',
      ratio: s.torch ? `${fmt(s.ours.trainTokensPerSecond / s.torch.trainTokensPerSecond, 2)}×` : '–',
    },
    {
      figure: 'forward tokens/s (eval, 64 × 26; 2 s of passes after a warm-up, as PyTorch measures)',
      ours: fmt(s.ours.forwardTokensPerSecond),
      [tcol]: s.torch ? fmt(s.torch.forwardTokensPerSecond) : '–',
      ratio: s.torch ? `${fmt(s.ours.forwardTokensPerSecond / s.torch.forwardTokensPerSecond, 2)}×` : '–',
    },
    ...(s.forwardRounds?.length
      ? [
          {
            figure: `the same in ${s.forwardRounds.length} alternating rounds (ours, then PyTorch's own process): median of each, median of the rounds' ratios (${s.forwardRounds.map((r) => `${fmt(r.ratio, 2)}×`).join(', ')})`,
            ours: fmt(median(s.forwardRounds.map((r) => r.ours))),
            [tcol]: fmt(median(s.forwardRounds.map((r) => r.torch))),
            ratio: `${fmt(median(s.forwardRounds.map((r) => r.ratio)), 2)}×`,
          },
        ]
      : []),
    {
      figure: `1,000 names at T = 1 after ${epochs} epochs: names/s (ours: median of ${TIMED} warm calls; first call ${fmt(s.ours.generation.firstCallNamesPerSecond)})`,
      ours: fmt(s.ours.generation.namesPerSecond),
      [tcol]: s.torch ? fmt(s.torch.generation?.names_per_s) : '–',
      ratio: s.torch ? `${fmt(s.ours.generation.namesPerSecond / s.torch.generation.names_per_s, 1)}×` : '–',
    },
    {
      figure: `the same through io.startNamesWorkers (${s.ours.generation.pool.workers} worker processes, same names; warm median; first call ${fmt(s.ours.generation.pool.firstCallNamesPerSecond)})`,
      ours: fmt(s.ours.generation.pool.namesPerSecond),
      [tcol]: s.torch ? fmt(s.torch.generation?.names_per_s) : '–',
      ratio: s.torch ? `${fmt(s.ours.generation.pool.namesPerSecond / s.torch.generation.names_per_s, 1)}× (PyTorch: one thread)` : '–',
    },
    {
      figure: 'those names: not in the data / distinct / mean length',
      ours: `${fmt(100 * s.ours.generation.novel, 1)} % / ${fmt(100 * s.ours.generation.distinct, 1)} % / ${fmt(s.ours.generation.meanLength, 1)}`,
      [tcol]: s.torch ? `${fmt(100 * s.torch.generation.not_in_train, 1)} % / ${fmt(100 * s.torch.generation.distinct, 1)} % / ${fmt(s.torch.generation.mean_length, 1)}` : '–',
      ratio: '',
    },
  ]
  // Against the machine: achieved matmul GFLOP/s (flops per position × positions/s; training ≈ 3 × forward) ÷ the matmul rate at the feed-forward's shape.
  const ff = (list) => list?.[0]?.gflop_s
  const gf = (perPosition, tps) => (tps ? (perPosition * tps) / 1e9 : undefined)
  const pct = (x, of) => (x && of ? `${fmt((100 * x) / of)}%` : '–')
  const limits = [
    ['forward', forwardFlopsPerPosition, s.ours.forwardTokensPerSecond, s.torch?.forwardTokensPerSecond],
    ['training (epoch wall time)', 3 * forwardFlopsPerPosition, s.ours.trainTokensPerSecond, s.torch?.trainTokensPerSecond],
  ].map(([what, per, o, t]) => ({
    figure: `${what}: matmul GFLOP/s (${fmt(per / 1e3)} kFLOP per position); the limit: matmul at ${MATMUL_SHAPES[0].join('×')} = wasm ${fmt(ff(s.ours.matmul), 1)}, BLAS ${fmt(ff(s.torch?.matmul), 1)} GFLOP/s`,
    ours: `${fmt(gf(per, o), 1)} = ${pct(gf(per, o), ff(s.ours.matmul))} of wasm matmul, ${pct(gf(per, o), ff(s.torch?.matmul))} of BLAS`,
    [tcol]: s.torch ? `${fmt(gf(per, t), 1)} = ${pct(gf(per, t), ff(s.torch.matmul))} of BLAS` : '–',
  }))
  if (!flag('json')) {
    const b = s.torch?.blas
    const torchNote = s.torch
      ? `${torchLabel(b)}: PyTorch ${s.torch.torch}, ${s.torch.threads} intra-op thread(s), BLAS ${b?.blas ?? 'not reported'}${b?.blas_threads ? ` with ${b.blas_threads} threads (its better epoch of ${s.torch.byBlasThreads.map((x) => `${fmt(x.epochSeconds, 2)} s at ${x.blasThreads}`).join(', ')} BLAS threads)` : ''}; glibc malloc keeping freed memory (GLIBC_TUNABLES=${TORCH_MALLOC})`
      : 'PyTorch not run'
    console.log(
      `\n## Mini-GPT: the seed recipe, ours (tfjs wasm, ${results.wasmThreads} thread(s)) vs the seed's PyTorch code — ${results.date}, ${results.machine}; ${torchNote}\n`,
    )
    console.log(table(rows))
    console.log(
      `\nAgainst the machine's limits, measured in the same run (matmul at ${MATMUL_SHAPES.map((m) => m.join('×')).join(', ')}: wasm ${s.ours.matmul.map((m) => fmt(m.gflop_s, 1)).join(' / ')}, BLAS ${s.torch?.matmul?.map((m) => fmt(m.gflop_s, 1)).join(' / ') ?? '–'} GFLOP/s):\n`,
    )
    console.log(table(limits))
  }
} else {
  const epochs = Number(arg('epochs', '50'))
  log(`quality: ${epochs} epochs on fantasy_names.train.txt, validation on fantasy_names.val.txt`)
  const ours = await ourRun({ names: readNames('fantasy_names.train.txt'), val: readNames('fantasy_names.val.txt'), epochs })
  const last = ours.epochs[ours.epochs.length - 1]
  const best = Math.min(...ours.epochs.map((e) => e.valLoss))
  const evalTrain = await train.evaluateNames(config, ours.params, minigpt.namesExamples(vocab, readNames('fantasy_names.train.txt'), config))
  tree.dispose(ours.params)
  results.quality = {
    epochs,
    history: ours.epochs,
    valLoss: last.valLoss,
    bestValLoss: best,
    evalModeTrainLoss: evalTrain.loss,
    reference: { valLoss: 2.254, bestValLoss: 2.25, evalModeTrainLoss: 1.863 },
  }
  if (!flag('json')) {
    console.log(`\n## Mini-GPT quality: ${epochs} epochs on the fixed split — ${results.date}, ${results.machine}\n`)
    console.log(
      table([
        { figure: `validation loss after ${epochs} epochs (nats per predicted token, 4,121 tokens)`, ours: fmt(last.valLoss, 3), 'PyTorch reference': '2.254' },
        {
          figure: 'best validation loss along the way',
          ours: `${fmt(best, 3)} (epoch ${ours.epochs.find((e) => e.valLoss === best).epoch})`,
          'PyTorch reference': '2.250 (epoch 40)',
        },
        { figure: 'eval-mode loss on the training split', ours: fmt(evalTrain.loss, 3), 'PyTorch reference': '1.863' },
        {
          figure: 'training loss (mean of batch means) after epochs 10/20/30/40/50',
          ours: [10, 20, 30, 40, 50].map((k) => fmt(ours.epochs[k - 1]?.trainLoss, 3)).join(' / '),
          'PyTorch reference': '2.286 / 2.176 / 2.107 / 2.051 / 1.999 (all 5,639 names)',
        },
      ]),
    )
  }
}
if (flag('json')) console.log(JSON.stringify(results))
