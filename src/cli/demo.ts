/**
 * `minigpt demo`: the seed notebook's Part 1 in one command, on the embedded corpus of first
 * names (no file needed): trains Mini-GPT with a progress bar, prints names at several
 * temperatures and with prompts, writes the checkpoint and the pictures, and says where.
 *
 *   minigpt demo [--out minigpt-demo] [--epochs 10] [--seed 0] [--backend wasm|cpu]
 */
import * as E from 'fp-ts/lib/Either.js'
import { key, split } from '../core/key.js'
import * as T from '../core/tree.js'
import { defaultNames } from '../data/corpus.js'
import { splitTrainVal } from '../data/names.js'
import { miniGptDecoder } from '../models/minigpt/decoder.js'
import { generateNames } from '../sample/names.js'
import { optString, startBackend } from './common.js'
import { CliError, guard, intOption, parseOptions, type Command } from './io.js'
import { writeAttentionPictures } from './pictures.js'
import { runTraining } from './train.js'

/** The temperatures and prompts the demo shows, as the seed's sections 6 and 7 do. */
const DEMO_TEMPERATURES = [0.3, 0.7, 1.0, 1.5, 2.0] as const
const DEMO_PROMPTS = ['Gwen', 'Mael'] as const

/** The `demo` command. */
export const demoCommand: Command = (argv, io) =>
  guard(io, async () => {
    const v = parseOptions(argv, { out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' } })
    const out = optString(v, 'out') ?? 'minigpt-demo'
    const epochs = intOption('epochs', optString(v, 'epochs'), 10)
    const seed = intOption('seed', optString(v, 'seed'), 0, 0)
    const backend = await startBackend(optString(v, 'backend'))
    const [kSplit, kGen] = split(key(seed))
    const corpus = defaultNames()
    const { train, val } = splitTrainVal(kSplit, corpus, 0.1)
    io.stderr.write(`Mini-GPT demo on the ${backend} backend: ${corpus.length} first names from @faker-js/faker (${train.length} to train, ${val.length} to validate)\n`)
    const r = await runTraining({ names: train, valNames: val, epochs, out, seed, batchSize: 64, lr: 1e-3, fresh: true, origin: 'embedded corpus' }, io)
    const last = r.history[r.history.length - 1]
    const model = miniGptDecoder(r.config, r.params)
    const show = async (title: string, prompt: string, temperature: number, count: number, k: number) => {
      const names = await generateNames(model, r.vocab, { count, prompt, options: { temperature } }, key(k))
      if (E.isLeft(names)) throw new CliError(names.left)
      io.stdout(`${title.padEnd(24)} ${names.right.map((n) => n.text).join(', ')}\n`)
      return names.right
    }
    io.stdout(
      `\nTrained ${T.count(r.params).toLocaleString('en-US')} parameters in ${r.seconds.toFixed(0)} s: train loss ${last?.trainLoss.toFixed(3)}, validation loss ${last?.valLoss?.toFixed(3)} nats per character\n\n`,
    )
    let first = ''
    for (const [i, t] of DEMO_TEMPERATURES.entries()) {
      const names = await show(`temperature ${t.toFixed(1)}:`, '', t, 6, kGen[0] + i)
      if (t === 1.0) first = names[0]?.text ?? ''
    }
    for (const [i, p] of DEMO_PROMPTS.entries()) await show(`prompt "${p}" (T = 0.8):`, p, 0.8, 5, kGen[1] + i)
    await writeAttentionPictures(out, r.config, r.vocab, r.params, first || 'Gwen')
    io.stdout(`\nWritten to ${out}/:\n`)
    io.stdout('  model.safetensors, config.json, vocab.json   the checkpoint (PyTorch layout; `minigpt generate --model ' + out + '`)\n')
    io.stdout('  loss-curve.svg                               training and validation loss per epoch\n')
    io.stdout("  name-lengths.svg                             the corpus's name lengths\n")
    io.stdout('  causal-mask.svg                              attention without and with the causal mask\n')
    io.stdout(`  attention.svg                                every layer and head attending over "${first || 'Gwen'}"\n`)
    T.dispose(r.params)
    return 0
  })
