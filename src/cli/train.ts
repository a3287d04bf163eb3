/**
 * `minigpt train`: the seed's Part 1 recipe on a names file, with a progress bar, a
 * checkpoint after every epoch and automatic resumption of a killed run.
 *
 *   minigpt train --data FILE [--val FILE] [--epochs 50] --out DIR [--seed 0] [--backend wasm|cpu]
 *                 [--batch-size 64] [--lr 1e-3] [--bucket] [--fresh] [--json]
 */
import * as E from 'fp-ts/lib/Either.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { key } from '../core/key.js'
import * as T from '../core/tree.js'
import { buildVocab, type CharVocab } from '../data/vocab.js'
import { SEED_CONFIG, type MiniGptConfig } from '../models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../models/minigpt/model.js'
import { namesExamples } from '../models/minigpt/task.js'
import { saveMiniGpt } from '../io/minigpt-checkpoint.js'
import { ensureDir } from '../io/files.js'
import { loadState, saveState } from '../io/train-state.js'
import { seedOptimizer, trainNames, type SeedOptState } from '../models/minigpt/recipe.js'
import type { TrainState } from '../train/step.js'
import { nats, optString, readNamesFile, requireString, startBackend } from './common.js'
import { CliError, guard, intOption, numberOption, parseOptions, type CliIO, type Command } from './io.js'
import { progressBar } from './progress.js'
import { writePictures } from './pictures.js'

/** One epoch's figures, as kept in the training state and printed by --json. */
export interface EpochRecord {
  readonly epoch: number
  readonly trainLoss: number
  readonly valLoss?: number
  readonly seconds: number
  readonly tokensPerSecond: number
}

/** What a training run needs, whoever starts it (train or demo). */
export interface RunSpec {
  readonly names: readonly string[]
  readonly valNames?: readonly string[]
  readonly epochs: number
  readonly out: string
  readonly seed: number
  readonly batchSize: number
  readonly lr: number
  readonly fresh: boolean
  /** Batch names of similar length together (length bucketing) instead of the seed's uniform shuffle. */
  readonly bucket?: boolean
  readonly config?: Partial<MiniGptConfig>
  /** Extra metadata written into the state (e.g. the data file), checked on resume. */
  readonly origin: string
}

/** The result of a run: the final checkpoint's contents and the history. */
export interface RunResult {
  readonly config: MiniGptConfig
  readonly vocab: CharVocab
  readonly params: MiniGptParams
  readonly history: readonly EpochRecord[]
  readonly resumedFrom?: number
  readonly seconds: number
}

interface SavedState {
  readonly origin: string
  readonly vocab: readonly string[]
  readonly config: MiniGptConfig
  readonly epoch: number
  readonly epochs: number
  readonly seed: number
  /** Whether the run batches by length (absent in states written before --bucket: false). */
  readonly bucket?: boolean
  readonly history: readonly EpochRecord[]
  readonly params: MiniGptParams
  readonly opt: SeedOptState
}

const STATE_FILE = join('.training', 'state.safetensors')

/** Runs (or resumes) a names training run with progress on stderr; writes the checkpoint after every epoch. */
export const runTraining = async (spec: RunSpec, io: CliIO): Promise<RunResult> => {
  const all = [...spec.names, ...(spec.valNames ?? [])]
  const vocab = buildVocab(all)
  const config: MiniGptConfig = { ...SEED_CONFIG(vocab.tokens.length, vocab.pad), ...spec.config }
  const optimizer = seedOptimizer(spec.lr)
  const statePath = join(spec.out, STATE_FILE)
  let initial: TrainState<MiniGptParams, SeedOptState>
  let startEpoch = 0
  let history: EpochRecord[] = []
  if (!spec.fresh && existsSync(statePath)) {
    const r = await loadState(statePath)()
    if (E.isLeft(r)) throw new CliError(`${r.left.message} (use --fresh to start over)`)
    const s = r.right as SavedState
    if (s.origin !== spec.origin || JSON.stringify(s.vocab) !== JSON.stringify(vocab.tokens) || s.seed !== spec.seed) {
      throw new CliError(`${spec.out} holds a run on other data or with another seed (${s.origin}); use --fresh to overwrite it or another --out`)
    }
    if ((s.bucket === true) !== (spec.bucket === true)) {
      throw new CliError(`${spec.out} holds a run ${s.bucket === true ? 'with' : 'without'} --bucket; resume it the same way, or use --fresh or another --out`)
    }
    initial = { params: s.params, opt: s.opt }
    startEpoch = s.epoch + 1
    history = [...s.history]
    io.stderr.write(`resuming from ${statePath}: ${startEpoch} of ${spec.epochs} epochs done\n`)
  } else {
    const params = miniGpt(config).init(key(spec.seed))
    initial = { params, opt: optimizer.init(params) }
  }
  const ensured = await ensureDir(join(spec.out, '.training'))()
  if (E.isLeft(ensured)) throw new CliError(ensured.left.message)

  const train = namesExamples(vocab, spec.names, config)
  const val = spec.valNames === undefined ? undefined : namesExamples(vocab, spec.valNames, config)
  const steps = Math.ceil(train.length / spec.batchSize)
  io.stderr.write(
    `training Mini-GPT (${T.count(initial.params).toLocaleString('en-US')} parameters, vocabulary ${vocab.tokens.length}) on ${train.length} names${val ? `, validating on ${val.length}` : ''}: ${spec.epochs} epochs of ${steps} batches\n`,
  )
  const bar = progressBar(io.stderr, (spec.epochs - startEpoch) * steps, '')
  const start = performance.now()
  const events = trainNames(
    { config, train, ...(val ? { val } : {}), epochs: spec.epochs, batchSize: spec.batchSize, key: key(spec.seed), optimizer, startEpoch, bucket: spec.bucket === true },
    initial,
  )
  let done = 0
  let final: TrainState<MiniGptParams, SeedOptState> | undefined
  for (;;) {
    const n = await events.next()
    if (n.done === true) {
      final = n.value
      break
    }
    const ev = n.value
    if (ev.type === 'step') {
      done++
      bar.update(done, `epoch ${ev.epoch + 1}/${spec.epochs} · loss ${ev.loss.toFixed(3)} · ${Math.round(ev.tokensPerSecond).toLocaleString('en-US')} tok/s`)
    } else {
      const record: EpochRecord = {
        epoch: ev.epoch + 1,
        trainLoss: ev.trainLoss,
        ...(ev.valLoss !== undefined ? { valLoss: ev.valLoss } : {}),
        seconds: ev.seconds,
        tokensPerSecond: ev.tokensPerSecond,
      }
      history.push(record)
      const saved = await saveMiniGpt(spec.out, { config, vocab, params: ev.state.params }, { epoch: String(ev.epoch + 1) })()
      if (E.isLeft(saved)) throw new CliError(saved.left.message)
      const state: SavedState = {
        origin: spec.origin,
        vocab: vocab.tokens,
        config,
        epoch: ev.epoch,
        epochs: spec.epochs,
        seed: spec.seed,
        bucket: spec.bucket === true,
        history,
        params: ev.state.params,
        opt: ev.state.opt,
      }
      const st = await saveState(statePath, state)()
      if (E.isLeft(st)) throw new CliError(st.left.message)
      if (ev.epoch === spec.epochs - 1 || (ev.epoch + 1) % Math.max(1, Math.round(spec.epochs / 10)) === 0) {
        bar.done(
          `epoch ${ev.epoch + 1}/${spec.epochs}: train loss ${nats(ev.trainLoss)}${ev.valLoss !== undefined ? `, validation ${nats(ev.valLoss)}` : ''} (${ev.seconds.toFixed(1)} s, ${Math.round(ev.tokensPerSecond).toLocaleString('en-US')} tok/s)`,
        )
      }
    }
  }
  await writePictures(spec.out, { history, names: spec.names })
  return { config, vocab, params: final.params, history, ...(startEpoch > 0 ? { resumedFrom: startEpoch } : {}), seconds: (performance.now() - start) / 1000 }
}

/** The `train` command. */
export const trainCommand: Command = (argv, io) =>
  guard(io, async () => {
    const v = parseOptions(argv, {
      data: { type: 'string' },
      val: { type: 'string' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      bucket: { type: 'boolean' },
      fresh: { type: 'boolean' },
      json: { type: 'boolean' },
    })
    const data = requireString(v, 'data')
    const out = requireString(v, 'out')
    const epochs = intOption('epochs', optString(v, 'epochs'), 50)
    const seed = intOption('seed', optString(v, 'seed'), 0, 0)
    const batchSize = intOption('batch-size', optString(v, 'batch-size'), 64)
    const lr = numberOption('lr', optString(v, 'lr'), 1e-3, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0')
    const valPath = optString(v, 'val')
    await startBackend(optString(v, 'backend'))
    const names = await readNamesFile(data)
    const valNames = valPath === undefined ? undefined : await readNamesFile(valPath)
    const r = await runTraining(
      { names, ...(valNames ? { valNames } : {}), epochs, out, seed, batchSize, lr, bucket: v.bucket === true, fresh: v.fresh === true, origin: data },
      io,
    )
    const last = r.history[r.history.length - 1]
    io.stderr.write(`checkpoint written to ${out}/ (model.safetensors, config.json, vocab.json) with loss-curve.svg and name-lengths.svg\n`)
    if (v.json === true) {
      io.stdout(
        JSON.stringify({
          out,
          epochs,
          parameters: T.count(r.params),
          vocab_size: r.vocab.tokens.length,
          train_loss: last?.trainLoss ?? null,
          val_loss: last?.valLoss ?? null,
          history: r.history,
        }) + '\n',
      )
    }
    T.dispose(r.params)
    return 0
  })
