/**
 * The CLI's effects at the edge: where output goes, and how a command reports failure.
 *
 * Contract: with `--json`, stdout carries only the JSON document; progress bars, logs and
 * errors go to stderr. A failure is one line `minigpt: <what went wrong>` on stderr and a
 * non-zero exit code — never a stack trace.
 */
import * as E from 'fp-ts/lib/Either.js'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { BarSink } from './progress.js'

/** Output channels of a command (process.stdout / process.stderr, or buffers in tests). */
export interface CliIO {
  readonly stdout: (s: string) => void
  readonly stderr: BarSink
}

/** A command: arguments after its name → exit code. */
export type Command = (argv: readonly string[], io: CliIO) => Promise<number>

/** A failure to report: one line for the user. */
export class CliError extends Error {
  override readonly name = 'CliError'
}

/** Writes `minigpt: message` to stderr and returns exit code 1. */
export const fail = (io: CliIO, message: string): number => {
  io.stderr.write(`minigpt: ${message}\n`)
  return 1
}

/** Throws a {@link CliError} for a Left, returns the Right: for the linear flow of a command body. */
export const orFail = <L, A>(e: E.Either<L, A>, message: (l: L) => string): A => {
  if (E.isLeft(e)) throw new CliError(message(e.left))
  return e.right
}

/** Runs a command body, turning a {@link CliError} (or any error) into one line on stderr. */
export const guard = async (io: CliIO, body: () => Promise<number>): Promise<number> => {
  try {
    return await body()
  } catch (e) {
    if (e instanceof CliError) return fail(io, e.message)
    const err = e as Error
    return fail(io, `${err.name === 'Error' ? '' : err.name + ': '}${err.message}`)
  }
}

/** Parses options strictly (unknown options and missing values are errors naming the option). */
export const parseOptions = (argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | (string | boolean)[] | undefined> => {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^.*?: /, '').split('\n')[0])
  }
}

/** Parses a numeric option, failing with a message naming it. */
export const numberOption = (name: string, raw: string | undefined, fallback: number, check: (n: number) => boolean = Number.isFinite, what = 'a number'): number => {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !check(n)) throw new CliError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`)
  return n
}

/** Parses an integer option ≥ min. */
export const intOption = (name: string, raw: string | undefined, fallback: number, min = 1): number =>
  numberOption(name, raw, fallback, (n) => Number.isInteger(n) && n >= min, `an integer ≥ ${min}`)
