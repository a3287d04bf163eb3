/**
 * `minigpt gpt2 …`: GPT-2 from a Hugging Face model folder — generate, score, fine-tune.
 * Thin over the library: loadGpt2Folder, gpt2Decoder + the generation engine, gpt2Nll, fit
 * with the seed's Trainer recipe, saveGpt2Folder.
 *
 *   gpt2 generate --model DIR --prompt TEXT [--max-new-tokens 20] [--greedy | --temperature T
 *                 --top-k K --top-p P --min-p P --typical-p P --repetition-penalty R
 *                 --no-repeat-ngram N --num-beams B] [--seed S] [--stream] [--backend wasm|cpu] [--json]
 *                 [--weights f32|int8|q4] [--cache float32|bfloat16]
 *   gpt2 quantize --model DIR --out DIR --bits 8|4 [--backend wasm|cpu] [--json]
 *   gpt2 score    --model DIR --text TEXT [--backend wasm|cpu] [--json]
 *   gpt2 finetune --model DIR --data FILE --out DIR [--epochs 3] [--lr 5e-5] [--warmup 100]
 *                 [--batch-size 8] [--block-size 32] [--seed S] [--backend wasm|cpu] [--json]
 *
 * Output contract (src/cli/io.ts): results on stdout (`--json`: one JSON document), the
 * progress bar on stderr, a failure as one line `minigpt: …` and exit code 1.
 */
import { useBackend } from '../backend/index.js'
import { key } from '../core/key.js'
import { scoped } from '../core/scope.js'
import * as tree from '../core/tree.js'
import { readText } from '../io/files.js'
import { loadGpt2Folder, saveGpt2Folder, saveQuantGpt2Folder, type Gpt2Folder } from '../io/hf-gpt2.js'
import { disposeQuantTree } from '../quant/matrix.js'
import type { QuantFormat } from '../quant/quantize.js'
import type { CacheFormat } from '../nn/kv-cache.js'
import { disposeState } from '../optim/base.js'
import { finetuneStep, gpt2Nll, lmBatch, lmBlocks, lmEpochBatches, lmSteps } from '../models/gpt2/task.js'
import { beamSearch } from '../sample/beam.js'
import { generate, stream } from '../sample/engine.js'
import { gpt2Decoder } from '../models/gpt2/decoder.js'
import { beamRequestFromOptions, optionsErrorMessage, requestFromOptions, type OptionsError } from '../sample/options.js'
import { fitWith } from '../train/loop.js'
import { optString, requireString } from './common.js'
import { SAMPLING_FLAGS, samplingOptions, withFlagNames } from './generate.js'
import { CliError, guard, intOption, numberOption, orFail, parseOptions, type CliIO, type Command } from './io.js'
import { progressBar } from './progress.js'

/** The usage text of `minigpt gpt2`. */
const GPT2_USAGE = `usage: minigpt gpt2 <command> [options]

GPT-2 from a Hugging Face model folder (config.json, model.safetensors, vocab.json, merges.txt).

commands:
  generate --model DIR --prompt TEXT   continue a prompt
      [--max-new-tokens N (20)] [--greedy] [--temperature T] [--top-k K] [--top-p P]
      [--min-p P] [--typical-p P] [--repetition-penalty R] [--no-repeat-ngram N]
      [--num-beams B] [--seed S (0)] [--stream] [--weights f32|int8|q4 (f32)]
      [--cache float32|bfloat16 (float32)] [--json]
      --json prints {"text": <continuation>, "ids": [<generated ids>]}
      --weights int8|q4 quantizes a float folder while loading, or reads a quantized one
      --cache bfloat16 keeps the attention's keys and values in 16 bits (wasm): half the
      bytes to read at each token, faster over long contexts; docs/concepts.md
  quantize --model DIR --out DIR --bits 8|4
      writes a folder with int8 (per output channel) or q4 (blocks of 32) weights, which
      \`generate --weights int8|q4\` reads; docs/quantization.md describes the file
  score --model DIR --text TEXT        mean next-token cross-entropy (nats) and perplexity
      [--json]   prints {"loss": …, "perplexity": …, "tokens": <predicted tokens>}
  finetune --model DIR --data FILE --out DIR
      [--epochs 3] [--lr 5e-5] [--warmup 100] [--batch-size 8] [--block-size 32] [--seed S (0)] [--json]
      the seed's Trainer recipe: the file as one token stream cut into blocks, AdamW
      (weight decay 0), linear warmup then decay, gradients clipped to 1; saves a HF folder

every command: [--backend wasm|cpu (wasm)]
`

const COMMON = {
  model: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const str = optString
const required = (o: Record<string, unknown>, name: string): string => requireString(o, name, 'gpt2')

const startBackend = async (o: Record<string, unknown>): Promise<void> => {
  const backend = str(o, 'backend') ?? 'wasm'
  if (backend !== 'wasm' && backend !== 'cpu') throw new CliError(`--backend must be wasm or cpu, got ${JSON.stringify(backend)}`)
  orFail(await useBackend(backend)(), (e) => e.message)
}

/** Starts the backend and loads the model folder; failures are one-line CliErrors. */
const setup = async (o: Record<string, unknown>): Promise<Gpt2Folder> => {
  await startBackend(o)
  return orFail(await loadGpt2Folder(required(o, 'model'))(), (e) => e.message)
}

/** A flag's value among named choices (undefined when not given), or one error listing them. */
const choice = <T>(flag: string, value: string | undefined, names: Readonly<Record<string, T>>): T | undefined => {
  if (value === undefined) return undefined
  const f = names[value]
  if (f === undefined)
    throw new CliError(
      `--${flag} must be ${Object.keys(names)
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1')}, got ${JSON.stringify(value)}`,
    )
  return f
}

/**
 * Starts the backend, loads the folder with the weights `--weights` asks for and makes the
 * decoder (which owns the parameters) with the caches `--cache` asks for.
 */
const setupDecoder = async (o: Record<string, unknown>) => {
  const weights = choice<QuantFormat | 'f32'>('weights', str(o, 'weights'), { f32: 'f32', int8: 'int8', q4: 'q4' }) ?? 'f32'
  const cache = choice<CacheFormat>('cache', str(o, 'cache'), { float32: 'float32', bfloat16: 'bfloat16' }) ?? 'float32'
  if (weights === 'f32') {
    const m = await setup(o)
    // The parameters serve only this decoder: it frees wte and keeps wteᵀ (one embedding copy fewer).
    return { m, decoder: gpt2Decoder(m.config, m.params, { ownsParams: true, cache }) }
  }
  await startBackend(o)
  const m = orFail(await loadGpt2Folder(required(o, 'model'), { weights })(), (e) => e.message)
  return { m, decoder: gpt2Decoder(m.config, m.params, { ownsParams: true, cache }) }
}

/** The ids of a prompt, checked against the model's context. An empty prompt starts from BOS, as HF's pipeline does. */
const promptIds = (m: Pick<Gpt2Folder, 'config' | 'tokenizer'>, text: string): number[] => {
  const ids = m.tokenizer.encode(text)
  const n = m.config.n_positions
  if (ids.length > n) throw new CliError(`the prompt has ${ids.length} tokens, more than the model's n_positions (${n})`)
  if (ids.length === n) throw new CliError(`the prompt has ${ids.length} tokens, the model's whole n_positions (${n}): no room to generate`)
  if (ids.length > 0) return ids
  const bos = m.config.bos_token_id ?? m.tokenizer.eosTokenId
  if (bos === undefined) throw new CliError('the prompt is empty and the model has no bos_token_id to start from')
  return [bos]
}

/** An options error with the CLI's flag names (`--top-p must be in (0, 1], got 1.5`). */
const optionsMessage = (e: OptionsError): string => withFlagNames(optionsErrorMessage(e))

const generateCommand = async (argv: readonly string[], io: CliIO): Promise<number> => {
  const o = parseOptions(argv, {
    ...COMMON,
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    greedy: { type: 'boolean' },
    seed: { type: 'string' },
    stream: { type: 'boolean' },
    weights: { type: 'string' },
    cache: { type: 'string' },
    ...SAMPLING_FLAGS,
  })
  if (o.help === true) return usage(io)
  if (o.stream === true && o.json === true) throw new CliError('--stream prints the text as it comes; it cannot be combined with --json')
  const options: Record<string, unknown> = { max_new_tokens: intOption('max-new-tokens', str(o, 'max-new-tokens'), 20), ...samplingOptions(o) }
  const seed = intOption('seed', str(o, 'seed'), 0, 0)
  const beams = (options.num_beams as number | undefined) ?? 1
  if (beams > 1 && o.stream === true) throw new CliError('--stream cannot be combined with --num-beams > 1')
  const prompt = str(o, 'prompt') ?? ''
  const { m, decoder } = await setupDecoder(o)
  try {
    const ids = promptIds(m, prompt)
    const eos = m.config.eos_token_id ?? m.tokenizer.eosTokenId
    const withEos = eos === undefined ? options : { ...options, eos_token_id: eos }
    const decode = (ts: readonly number[]) => m.tokenizer.decode(ts)
    let tokens: readonly number[]
    if (beams > 1) {
      const request = orFail(beamRequestFromOptions(ids, withEos), optionsMessage)
      tokens = (await beamSearch(decoder, request))[0].tokens
    } else {
      const request = orFail(requestFromOptions(ids, { ...withEos, do_sample: o.greedy !== true }, { decode }), optionsMessage)
      if (o.stream === true) {
        io.stdout(prompt)
        const it = stream(decoder, request, key(seed))
        for (let r = await it.next(); ; r = await it.next()) {
          if (r.done === true) {
            tokens = r.value.tokens
            break
          }
          if (r.value.text !== undefined && r.value.text !== '') io.stdout(r.value.text)
        }
        io.stdout('\n')
        return 0
      }
      tokens = (await generate(decoder, request, key(seed))).tokens
    }
    const body = eos !== undefined && tokens[tokens.length - 1] === eos ? tokens.slice(0, -1) : tokens
    const text = decode(body)
    io.stdout(o.json === true ? `${JSON.stringify({ text, ids: tokens })}\n` : `${prompt}${text}\n`)
    return 0
  } finally {
    decoder.dispose()
  }
}

const scoreCommand = async (argv: readonly string[], io: CliIO): Promise<number> => {
  const o = parseOptions(argv, { ...COMMON, text: { type: 'string' } })
  if (o.help === true) return usage(io)
  const text = str(o, 'text')
  if (text === undefined) throw new CliError('gpt2: --text is required')
  const m = await setup(o)
  try {
    const ids = m.tokenizer.encode(text)
    const n = m.config.n_positions
    if (ids.length < 2) throw new CliError(`the text has ${ids.length} token${ids.length === 1 ? '' : 's'}: scoring needs at least 2 (one to predict from, one to predict)`)
    if (ids.length > n) throw new CliError(`the text has ${ids.length} tokens, more than the model's n_positions (${n})`)
    const [sum, count] = scoped(() => {
      const r = gpt2Nll(m.config, m.params)(lmBatch([ids]))
      return [r.sum.dataSync()[0], r.count.dataSync()[0]]
    })
    const loss = sum / count
    const perplexity = Math.exp(loss)
    io.stdout(
      o.json === true
        ? `${JSON.stringify({ loss, perplexity, tokens: count })}\n`
        : `loss ${loss.toFixed(4)} nats/token, perplexity ${perplexity.toFixed(2)} (${count} predicted tokens)\n`,
    )
    return 0
  } finally {
    tree.dispose(m.params)
  }
}

const finetuneCommand = async (argv: readonly string[], io: CliIO): Promise<number> => {
  const o = parseOptions(argv, {
    ...COMMON,
    data: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    'batch-size': { type: 'string' },
    'block-size': { type: 'string' },
    seed: { type: 'string' },
  })
  if (o.help === true) return usage(io)
  const dataPath = required(o, 'data')
  const out = required(o, 'out')
  const epochs = intOption('epochs', str(o, 'epochs'), 3)
  const lr = numberOption('lr', str(o, 'lr'), 5e-5, (x) => Number.isFinite(x) && x > 0, 'a number > 0')
  const warmup = intOption('warmup', str(o, 'warmup'), 100, 0)
  const batchSize = intOption('batch-size', str(o, 'batch-size'), 8)
  const blockSize = intOption('block-size', str(o, 'block-size'), 32, 2)
  const seed = intOption('seed', str(o, 'seed'), 0, 0)
  const text = orFail(await readText(dataPath)(), (e) => e.message)
  const m = await setup(o)
  let params = m.params
  try {
    if (blockSize > m.config.n_positions) throw new CliError(`--block-size ${blockSize} is more than the model's n_positions (${m.config.n_positions})`)
    const ids = m.tokenizer.encode(text)
    const blocks = lmBlocks(ids, blockSize)
    if (blocks.length === 0) throw new CliError(`${dataPath}: ${ids.length} tokens, fewer than --block-size ${blockSize}: no training block`)
    const totalSteps = lmSteps(blocks.length, batchSize, epochs)
    // The Trainer's step (clip 1, AdamW, warmup then linear decay), computed so that 124M fits
    // the wasm heap. The seed sets pad_token = eos_token, so the collator ignores eos labels: kept as is.
    const step = finetuneStep(m.config, { lr, warmup, totalSteps, padTokenId: m.tokenizer.eosTokenId })
    const bar = progressBar(io.stderr, totalSteps, 'fine-tune')
    const epochLosses: number[] = []
    const run = fitWith(
      step.step,
      { params, opt: step.init(params) },
      {
        epochs,
        batchesFor: lmEpochBatches(blocks, batchSize),
        tokensOf: (b) => b.size * b.length,
        key: key(seed),
      },
    )
    let r = await run.next()
    for (; r.done !== true; r = await run.next()) {
      const ev = r.value
      if (ev.type === 'step') {
        bar.update(
          ev.epoch * ev.stepsPerEpoch + ev.step + 1,
          `epoch ${ev.epoch + 1}/${epochs} · loss ${ev.loss.toFixed(3)} · ${Math.round(ev.tokensPerSecond).toLocaleString('en-US')} tok/s`,
        )
      } else {
        epochLosses.push(ev.trainLoss)
      }
    }
    params = r.value.params
    disposeState(r.value.opt)
    bar.done(`fine-tuned ${blocks.length} blocks of ${blockSize} tokens, ${totalSteps} steps: train loss by epoch ${epochLosses.map((l) => l.toFixed(4)).join(', ')}`)
    orFail(await saveGpt2Folder(out, m.config, params, m.tokenizer)(), (e) => e.message)
    io.stdout(o.json === true ? `${JSON.stringify({ out, blocks: blocks.length, steps: totalSteps, trainLoss: epochLosses })}\n` : `saved ${out}\n`)
    return 0
  } finally {
    tree.dispose(params)
  }
}

const quantizeCommand = async (argv: readonly string[], io: CliIO): Promise<number> => {
  const o = parseOptions(argv, { ...COMMON, out: { type: 'string' }, bits: { type: 'string' } })
  if (o.help === true) return usage(io)
  const out = required(o, 'out')
  const format = choice<QuantFormat>('bits', requireString(o, 'bits', 'gpt2 quantize'), { '8': 'int8', '4': 'q4' }) as QuantFormat
  const model = required(o, 'model')
  await startBackend(o)
  // Quantized while loading, one tensor at a time: no float32 copy of the model is made.
  const m = orFail(await loadGpt2Folder(model, { weights: format })(), (e) => e.message)
  try {
    orFail(await saveQuantGpt2Folder(out, m.config, m.params, m.tokenizer)(), (e) => e.message)
    io.stdout(o.json === true ? `${JSON.stringify({ out, format })}\n` : `saved ${out} (${format})\n`)
    return 0
  } finally {
    disposeQuantTree(m.params)
  }
}

const usage = (io: CliIO): number => {
  io.stdout(GPT2_USAGE)
  return 0
}

/** `minigpt gpt2 <generate|quantize|score|finetune> …`: see {@link GPT2_USAGE}. */
export const gpt2Command: Command = (argv, io) =>
  guard(io, async () => {
    const [sub, ...rest] = argv
    switch (sub) {
      case 'generate':
        return generateCommand(rest, io)
      case 'quantize':
        return quantizeCommand(rest, io)
      case 'score':
        return scoreCommand(rest, io)
      case 'finetune':
        return finetuneCommand(rest, io)
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        return usage(io)
      default:
        throw new CliError(`gpt2: unknown command ${JSON.stringify(sub)} (expected generate, quantize, score or finetune)`)
    }
  })
