/**
 * `minigpt generate`: names from a checkpoint, with every sampling option.
 *
 *   minigpt generate --model DIR [-n 10] [--prompt Gwen] [--temperature 0.8] [--seed S] [--json]
 *                    [--greedy] [--top-k K] [--top-p P] [--min-p P] [--typical-p P]
 *                    [--repetition-penalty R] [--no-repeat-ngram N] [--num-beams B] [--stop S]
 *                    [--stream] [--skip-unknown] [--backend wasm|cpu] [--workers W]
 *
 * `--json` prints `[{"text": …, "logprob": …}, …]` and nothing else on stdout. `--workers W`
 * (W > 1) shares the names out among W worker processes (`io.startNamesWorkers`): the same
 * names as one process, on W cores; worth it for thousands of names (starting a worker loads
 * Node, tfjs and the model).
 */
import * as E from 'fp-ts/lib/Either.js'
import type { ParseArgsConfig } from 'node:util'
import { key } from '../core/key.js'
import { decodeIds, encodeChars } from '../data/vocab.js'
import { miniGptDecoder } from '../models/minigpt/decoder.js'
import { stream } from '../sample/engine.js'
import { generateNames, type GeneratedName, type NamesRequest } from '../sample/names.js'
import type { MiniGptCheckpoint } from '../io/minigpt-checkpoint.js'
import { startNamesWorkers } from '../io/names-workers.js'
import { optionsErrorMessage, requestFromOptions } from '../sample/options.js'
import { loadCheckpoint, optString, requireString, startBackend } from './common.js'
import { CliError, guard, intOption, numberOption, parseOptions, type Command } from './io.js'

/** The numeric sampling flags shared by `generate` and `gpt2 generate`: flag, option field, integer? */
const SAMPLING_FIELDS = [
  ['temperature', 'temperature', false],
  ['top-k', 'top_k', true],
  ['top-p', 'top_p', false],
  ['min-p', 'min_p', false],
  ['typical-p', 'typical_p', false],
  ['repetition-penalty', 'repetition_penalty', false],
  ['no-repeat-ngram', 'no_repeat_ngram_size', true],
  ['num-beams', 'num_beams', true],
] as const

/** Every sampling flag as parseArgs options (the numeric ones, --greedy and --stop). */
export const SAMPLING_FLAGS: NonNullable<ParseArgsConfig['options']> = {
  ...Object.fromEntries(SAMPLING_FIELDS.map(([flag]) => [flag, { type: 'string' as const }])),
  greedy: { type: 'boolean' },
  stop: { type: 'string', multiple: true },
}

/** The generation options (docs/sampling.md names) from the sampling flags; invalid values fail naming the flag. */
export const samplingOptions = (v: Record<string, unknown>): Record<string, unknown> => {
  const options: Record<string, unknown> = {}
  for (const [flag, field, int] of SAMPLING_FIELDS) {
    const raw = optString(v, flag)
    if (raw !== undefined) options[field] = int ? intOption(flag, raw, 0, 1) : numberOption(flag, raw, NaN)
  }
  const stop = v.stop as string[] | undefined
  return {
    ...options,
    ...(v.greedy === true ? { do_sample: false } : {}),
    ...(stop !== undefined && stop.length > 0 ? { stop } : {}),
  }
}

/** An option problem reworded with the CLI's flag names (`--top-p must be in (0, 1], got 1.5`). */
export const withFlagNames = (message: string): string =>
  SAMPLING_FIELDS.reduce((m, [flag, field]) => m.replaceAll(field, `--${flag}`), message.replaceAll('max_new_tokens', '--max-new-tokens'))

/** generateNames in a pool of worker processes, closed afterwards. */
const inWorkers = async (ckpt: MiniGptCheckpoint, workers: number, backend: string, request: NamesRequest, seed: number): Promise<E.Either<string, GeneratedName[]>> => {
  const pool = await startNamesWorkers(ckpt, { workers, backend })()
  if (E.isLeft(pool)) throw new CliError(`--workers: ${pool.left}`)
  try {
    return await pool.right.generate(request, key(seed))
  } finally {
    await pool.right.close()
  }
}

/** The `generate` command. */
export const generateCommand: Command = (argv, io) =>
  guard(io, async () => {
    const v = parseOptions(argv, {
      model: { type: 'string' },
      n: { type: 'string', short: 'n' },
      prompt: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      stream: { type: 'boolean' },
      'skip-unknown': { type: 'boolean' },
      backend: { type: 'string' },
      workers: { type: 'string' },
      ...SAMPLING_FLAGS,
    })
    const dir = requireString(v, 'model')
    const count = intOption('n', optString(v, 'n'), 10)
    const seed = intOption('seed', optString(v, 'seed'), 0, 0)
    const options = samplingOptions(v)
    const workers = intOption('workers', optString(v, 'workers'), 1)
    if (workers > 1 && v.stream === true) throw new CliError('--stream does not combine with --workers')
    const backend = await startBackend(optString(v, 'backend'))
    const ckpt = await loadCheckpoint(dir)
    const model = miniGptDecoder(ckpt.config, ckpt.params)
    const prompt = optString(v, 'prompt') ?? ''
    const unknown = v['skip-unknown'] === true ? 'skip' : 'error'
    if (v.stream === true && v.json !== true) {
      // One name at a time, each character printed as it is drawn.
      const ids = encodeChars(ckpt.vocab, prompt, unknown)
      if (E.isLeft(ids)) throw new CliError(`--prompt: ${ids.left.message}`)
      const stopTexts = options.stop
      const decode = (t: readonly number[]) => decodeIds(ckpt.vocab, t)
      const req = requestFromOptions(
        [ckpt.vocab.sos, ...ids.right],
        {
          max_new_tokens: model.contextLength - 1 - ids.right.length,
          eos_token_id: ckpt.vocab.eos,
          suppress_tokens: [ckpt.vocab.pad, ckpt.vocab.sos],
          ...options,
          ...(stopTexts ? { stop: stopTexts } : {}),
        },
        { decode },
      )
      if (E.isLeft(req)) throw new CliError(optionsErrorMessage(req.left))
      if (((options.num_beams as number | undefined) ?? 1) > 1) throw new CliError('--stream does not combine with --num-beams')
      for (let i = 0; i < count; i++) {
        io.stdout(decode(ids.right))
        for await (const chunk of stream(model, req.right, key(seed), { index: i })) io.stdout(chunk.text ?? '')
        io.stdout('\n')
      }
      return 0
    }
    const request: NamesRequest = { count, prompt, unknown, options }
    const r = workers > 1 ? await inWorkers(ckpt, workers, backend, request, seed) : await generateNames(model, ckpt.vocab, request, key(seed))
    if (E.isLeft(r)) throw new CliError(r.left)
    if (v.json === true) io.stdout(JSON.stringify(r.right.map((n) => ({ text: n.text, logprob: n.logprob }))) + '\n')
    else for (const n of r.right) io.stdout(`${n.text}\n`)
    return 0
  })
