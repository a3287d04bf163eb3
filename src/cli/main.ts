/**
 * The `minigpt` command: a thin front end over the library.
 *
 *   minigpt demo                      train on the embedded corpus, generate, draw (the main job)
 *   minigpt train --data FILE --out DIR [--val FILE] [--epochs 50] …
 *   minigpt generate --model DIR [-n 10] [--prompt Gwen] [--temperature 0.8] …
 *   minigpt eval --model DIR --data FILE [--json]
 *   minigpt gpt2 generate|quantize|score|finetune …
 */
import type { CliIO, Command } from './io.js'
import { demoCommand } from './demo.js'
import { evalCommand } from './eval.js'
import { generateCommand } from './generate.js'
import { trainCommand } from './train.js'

/** The usage text. */
const USAGE = `minigpt — Mini-GPT and GPT-2 with minigpt-fp

Usage:
  minigpt demo [--out DIR] [--epochs 10] [--seed S] [--backend wasm|cpu]
  minigpt train --data FILE --out DIR [--val FILE] [--epochs 50] [--seed S] [--backend wasm|cpu] [--batch-size 64] [--lr 1e-3] [--bucket] [--fresh] [--json]
  minigpt generate --model DIR [-n 10] [--prompt TEXT] [--temperature T] [--seed S] [--json] [--greedy] [--top-k K] [--top-p P]
                   [--min-p P] [--typical-p P] [--repetition-penalty R] [--no-repeat-ngram N] [--num-beams B] [--stop S] [--stream] [--workers W]
  minigpt eval --model DIR --data FILE [--json]
  minigpt gpt2 generate --model DIR --prompt TEXT [--max-new-tokens N] [--greedy | sampling flags] [--seed S] [--weights f32|int8|q4] [--json]
  minigpt gpt2 quantize --model DIR --out DIR --bits 8|4 [--json]
  minigpt gpt2 score --model DIR --text TEXT [--json]
  minigpt gpt2 finetune --model DIR --data FILE --out DIR [--epochs 3] [--lr 5e-5] [--warmup 100] [--batch-size 8] [--block-size 32]

With --json, stdout carries only JSON; progress and messages go to stderr.
`

const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => demoCommand,
  train: async () => trainCommand,
  generate: async () => generateCommand,
  eval: async () => evalCommand,
  gpt2: async () => (await import('./gpt2.js')).gpt2Command,
}

/** Runs the CLI on arguments (without node and the script) and returns the exit code. */
export const main = async (argv: readonly string[], io: CliIO): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(USAGE)
    return name === undefined ? 1 : 0
  }
  const load = COMMANDS[name]
  if (load === undefined) {
    io.stderr.write(`minigpt: unknown command '${name}'\n\n${USAGE}`)
    return 2
  }
  return (await load())(rest, io)
}
