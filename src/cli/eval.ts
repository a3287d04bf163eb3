/**
 * `minigpt eval`: the validation metric of a checkpoint on a names file — mean cross-entropy
 * in nats per predicted token (PAD excluded, EOS included, eval mode).
 *
 *   minigpt eval --model DIR --data FILE [--json] [--backend wasm|cpu]
 *
 * `--json` prints `{"loss": <number>, "tokens": <integer>}`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { encodeChars } from '../data/vocab.js'
import { namesExamples } from '../models/minigpt/task.js'
import { evaluateNames } from '../models/minigpt/recipe.js'
import { loadCheckpoint, optString, readNamesFile, requireString, startBackend } from './common.js'
import { CliError, guard, parseOptions, type Command } from './io.js'

/** The `eval` command. */
export const evalCommand: Command = (argv, io) =>
  guard(io, async () => {
    const v = parseOptions(argv, { model: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' } })
    const dir = requireString(v, 'model')
    const data = requireString(v, 'data')
    await startBackend(optString(v, 'backend'))
    const ckpt = await loadCheckpoint(dir)
    const names = await readNamesFile(data)
    for (const n of names) {
      const r = encodeChars(ckpt.vocab, n)
      if (E.isLeft(r)) throw new CliError(`${data}: ${r.left.message}; the model's vocabulary cannot score it`)
    }
    const r = await evaluateNames(ckpt.config, ckpt.params, namesExamples(ckpt.vocab, names, ckpt.config))
    if (v.json === true) io.stdout(JSON.stringify({ loss: r.loss, tokens: r.tokens }) + '\n')
    else io.stdout(`validation loss ${r.loss.toFixed(4)} nats per token over ${r.tokens} predicted tokens (perplexity ${Math.exp(r.loss).toFixed(2)})\n`)
    return 0
  })
