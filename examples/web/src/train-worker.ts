/**
 * The playground's training worker: the seed recipe (`trainNames` with `seedOptimizer`) on the
 * library's corpus of first names, off the page's thread. It posts every event of `fit` to the
 * page (a step's loss, an epoch's losses with a few sampled names and the checkpoint so far),
 * and stops between steps when asked.
 */
import * as E from 'fp-ts/lib/Either.js'
import { activeBackend, useBackend, wasmThreadCount, type BackendOptions } from '../../../src/backend/index.js'
import { foldIn, key, split } from '../../../src/core/key.js'
import * as T from '../../../src/core/tree.js'
import { splitTrainVal } from '../../../src/data/names.js'
import { buildVocab, type CharVocab } from '../../../src/data/vocab.js'
import { serializeSafetensors } from '../../../src/io/safetensors.js'
import { stateDict } from '../../../src/models/minigpt/checkpoint.js'
import { SEED_CONFIG, type MiniGptConfig } from '../../../src/models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../../../src/models/minigpt/model.js'
import { namesExamples } from '../../../src/models/minigpt/task.js'
import { miniGptDecoder } from '../../../src/models/minigpt/decoder.js'
import { generateNames } from '../../../src/sample/names.js'
import { disposeState } from '../../../src/optim/base.js'
import { seedOptimizer, trainNames, type SeedOptState } from '../../../src/models/minigpt/recipe.js'
import type { TrainState } from '../../../src/train/step.js'
import { PRESETS, type CheckpointFiles, type FromWorker, type ToWorker } from './protocol.js'

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null
}
const scope = self as unknown as WorkerScope

const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer)

let controller: AbortController | undefined

/** Yields to the worker's event loop, so that a 'stop' message is seen between steps. */
const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

const checkpointFiles = (config: MiniGptConfig, vocab: CharVocab, params: MiniGptParams, epoch: number): CheckpointFiles => ({
  config: JSON.stringify(config, null, 2) + '\n',
  vocab: JSON.stringify(vocab.tokens) + '\n',
  model: serializeSafetensors(stateDict(config, params), { format: 'pt', epoch: String(epoch), origin: 'minigpt-fp playground' }),
})

const startBackend = async (name: string, options: BackendOptions): Promise<string> => {
  const first = await useBackend(name, options)()
  if (E.isRight(first)) return first.right
  const wasm = await useBackend('wasm', options)()
  if (E.isLeft(wasm)) throw new Error(`${first.left.message}; wasm: ${wasm.left.message}`)
  return `wasm (${name} in the worker: ${first.left.message})`
}

const loadNames = async (url: string): Promise<string[]> => {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  const json: unknown = await res.json()
  if (!Array.isArray(json) || !json.every((n) => typeof n === 'string')) throw new Error(`${url}: expected a list of names`)
  return json
}

const train = async (m: Extract<ToWorker, { type: 'start' }>): Promise<void> => {
  const ac = new AbortController()
  controller = ac
  const s = m.settings
  const backend = await startBackend(m.backend, { wasmPaths: m.wasmPaths, ...(m.threads === undefined ? {} : { threads: m.threads }) })
  const names = await loadNames(m.namesUrl)
  const [kSplit, kInit, kTrain, kGen] = split(key(s.seed), 4)
  const { train: trainNamesList, val: valNames } = splitTrainVal(kSplit, names, 0.1)
  const vocab = buildVocab(names)
  const config: MiniGptConfig = { ...SEED_CONFIG(vocab.tokens.length, vocab.pad), ...PRESETS[s.preset] }
  const optimizer = seedOptimizer(s.lr)
  const params = miniGpt(config).init(kInit)
  const initial: TrainState<MiniGptParams, SeedOptState> = { params, opt: optimizer.init(params) }
  const trainSet = namesExamples(vocab, trainNamesList, config)
  const valSet = namesExamples(vocab, valNames, config)
  const stepsPerEpoch = Math.ceil(trainSet.length / s.batchSize)
  post({
    type: 'ready',
    backend,
    threads: activeBackend() === 'wasm' ? wasmThreadCount() : 1,
    names: names.length,
    train: trainSet.length,
    val: valSet.length,
    params: T.count(params),
    stepsPerEpoch,
  })

  const events = trainNames({ config, train: trainSet, val: valSet, epochs: s.epochs, batchSize: s.batchSize, key: kTrain, optimizer, signal: ac.signal }, initial)
  let steps = 0
  let epochsDone = 0
  for (;;) {
    const n = await events.next()
    if (n.done === true) {
      const final = n.value
      const files = checkpointFiles(config, vocab, final.params, epochsDone)
      post({ type: 'done', steps, stopped: ac.signal.aborted, checkpoint: files }, [files.model.buffer as ArrayBuffer])
      T.dispose(final.params)
      disposeState(final.opt)
      return
    }
    const ev = n.value
    if (ev.type === 'step') {
      steps++
      post({ type: 'step', epoch: ev.epoch, step: ev.step, stepsPerEpoch: ev.stepsPerEpoch, loss: ev.loss, tokensPerSecond: ev.tokensPerSecond })
    } else {
      epochsDone = ev.epoch + 1
      const decoder = miniGptDecoder(config, ev.state.params)
      const sampled = await generateNames(decoder, vocab, { count: 6, options: { temperature: 0.8 } }, foldIn(kGen, ev.epoch))
      const files = checkpointFiles(config, vocab, ev.state.params, epochsDone)
      post(
        {
          type: 'epoch',
          epoch: ev.epoch,
          epochs: ev.epochs,
          trainLoss: ev.trainLoss,
          seconds: ev.seconds,
          ...(ev.valLoss !== undefined ? { valLoss: ev.valLoss } : {}),
          samples: E.isRight(sampled) ? sampled.right.map((x) => x.text) : [],
          checkpoint: files,
        },
        [files.model.buffer as ArrayBuffer],
      )
    }
    await macrotask()
  }
}

scope.onmessage = (e) => {
  const m = e.data
  if (m.type === 'stop') controller?.abort()
  else {
    train(m).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }))
  }
}
