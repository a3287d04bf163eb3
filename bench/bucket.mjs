// Length bucketing (`minigpt train --bucket`) against the seed's uniform shuffle: the seed
// recipe on fantasy_names.train.txt, validation loss on .val.txt (nats per predicted token,
// eval mode) after each epoch, the two runs interleaved epoch by epoch in one process so that
// both see the same machine. Also the share of padded positions in each run's batches.
//
//   node bench/bucket.mjs [--epochs 10] [--seed 0] [--json]
//
// The data is read from $MINIGPT_DATA or ../shared/data.
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { initBackend, key, data, minigpt, train } from '../dist/index.js'
import { machine, median, table } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const root = resolve(new URL('..', import.meta.url).pathname)
const dataDir = process.env.MINIGPT_DATA ?? join(root, '..', 'shared', 'data')
const file = (n) => join(dataDir, n)
if (!existsSync(file('fantasy_names.train.txt'))) {
  console.error(`bench/bucket: no data at ${dataDir} (set MINIGPT_DATA)`)
  process.exit(1)
}
const epochs = Number(arg('epochs', '10'))
const seed = Number(arg('seed', '0'))
const readNames = (n) => data.parseNames(readFileSync(file(n), 'utf8'))
const trainNames = readNames('fantasy_names.train.txt')
const valNames = readNames('fantasy_names.val.txt')
// As `minigpt train --data … --val …`: the vocabulary of both files.
const vocab = data.buildVocab([...trainNames, ...valNames])
const config = minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad)
const trainEx = minigpt.namesExamples(vocab, trainNames, config)
const valEx = minigpt.namesExamples(vocab, valNames, config)

await initBackend('wasm')

const start = (bucket) => {
  const params = minigpt.miniGpt(config).init(key(seed))
  const optimizer = train.seedOptimizer()
  const run = { config, epochs, batchSize: 64, key: key(seed), optimizer, train: trainEx, val: valEx, bucket }
  return train.trainNames(run, { params, opt: optimizer.init(params) })
}
const nextEpoch = async (events) => {
  for (;;) {
    const n = await events.next()
    if (n.done) throw new Error('bench/bucket: the run ended early')
    if (n.value.type === 'epoch') return n.value
  }
}
const padShare = (bucket) => {
  const bs = minigpt.epochBatches(trainEx, 64, config.pad_idx, bucket)(0, key(seed))
  const cells = bs.reduce((a, b) => a + b.size * b.length, 0)
  const real = bs.reduce((a, b) => a + b.tokens, 0)
  return 1 - real / cells
}

const runs = { uniform: { events: start(false), epochs: [] }, bucket: { events: start(true), epochs: [] } }
for (let e = 0; e < epochs; e++) {
  for (const [name, r] of e % 2 === 0 ? Object.entries(runs) : Object.entries(runs).reverse()) {
    const ev = await nextEpoch(r.events)
    r.epochs.push({ seconds: ev.seconds, trainLoss: ev.trainLoss, valLoss: ev.valLoss })
    process.stderr.write(`  ${name.padEnd(7)} epoch ${e + 1}/${epochs}: ${ev.seconds.toFixed(2)} s, train ${ev.trainLoss.toFixed(4)}, val ${ev.valLoss.toFixed(4)}\n`)
  }
}
const summary = Object.fromEntries(
  Object.entries(runs).map(([name, r]) => [
    name,
    {
      epochSeconds: median(r.epochs.map((x) => x.seconds)),
      valLoss: r.epochs[r.epochs.length - 1].valLoss,
      bestValLoss: Math.min(...r.epochs.map((x) => x.valLoss)),
      padShare: padShare(name === 'bucket'),
      history: r.epochs,
    },
  ]),
)
if (process.argv.includes('--json')) console.log(JSON.stringify({ machine: machine(), epochs, seed, ...summary }))
else {
  console.log(`\n## Length bucketing — ${epochs} epochs, seed ${seed}, fantasy_names.train/.val — ${machine()}\n`)
  console.log(
    table(
      Object.entries(summary).map(([name, s]) => ({
        batching: name === 'bucket' ? '--bucket (length buckets)' : 'uniform shuffle (seed)',
        'median epoch wall time': `${s.epochSeconds.toFixed(2)} s`,
        'padded positions': `${(100 * s.padShare).toFixed(1)} %`,
        [`val loss after ${epochs}`]: s.valLoss.toFixed(4),
        'best val loss': s.bestValLoss.toFixed(4),
      })),
    ),
  )
  console.log(`\nbucket / uniform epoch time: ${(summary.bucket.epochSeconds / summary.uniform.epochSeconds).toFixed(2)}×`)
}
