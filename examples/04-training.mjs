// Seed notebook §5: training with the seed's recipe, a progress line per epoch and a loss curve.
//   npm run build && node examples/04-training.mjs [epochs=5] [names.txt]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { initBackend, key, split, tree, data, minigpt, train, io, viz } from 'minigpt-fp'

await initBackend('wasm')
const epochs = Number(process.argv[2] ?? 5)
const file = process.argv[3]
const names = file ? data.parseNames(readFileSync(file, 'utf8')) : data.defaultNames()
const [kSplit, kInit, kTrain] = split(key(42), 3)
const { train: trainNames, val } = data.splitTrainVal(kSplit, names, 0.1)
const vocab = data.buildVocab(names)
const config = minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad)
const params = minigpt.miniGpt(config).init(kInit)
const optimizer = train.seedOptimizer() // clip 1.0 then AdamW(1e-3, weight decay 0.01)

const history = []
const events = train.trainNames(
  {
    config,
    epochs,
    batchSize: 64,
    key: kTrain,
    optimizer,
    train: minigpt.namesExamples(vocab, trainNames, config),
    val: minigpt.namesExamples(vocab, val, config),
  },
  { params, opt: optimizer.init(params) },
)
let final
for (;;) {
  const n = await events.next()
  if (n.done) {
    final = n.value
    break
  }
  const e = n.value
  if (e.type === 'epoch') {
    history.push(e)
    console.log(
      `epoch ${e.epoch + 1}/${epochs}: train ${e.trainLoss.toFixed(3)}, validation ${e.valLoss.toFixed(3)} (${e.seconds.toFixed(1)} s, ${Math.round(e.tokensPerSecond)} tok/s)`,
    )
  }
}
mkdirSync('out', { recursive: true })
writeFileSync(
  'out/loss-curve.svg',
  viz.lineChart(
    [
      { name: 'train', points: history.map((e) => [e.epoch + 1, e.trainLoss]) },
      { name: 'validation', points: history.map((e) => [e.epoch + 1, e.valLoss]) },
    ],
    { title: 'Training', xLabel: 'epoch', yLabel: 'cross-entropy (nats)' },
  ),
)
const saved = await io.saveMiniGpt('out/model', { config, vocab, params: final.params })()
console.log(saved._tag === 'Right' ? 'checkpoint written to out/model/, loss curve to out/loss-curve.svg' : saved.left.message)
tree.dispose(final.params)
