/**
 * Pieces shared by the CLI's commands: starting the backend, reading name files, loading
 * checkpoints — each failure turned into one line for the user.
 */
import * as E from 'fp-ts/lib/Either.js'
import { useBackend } from '../backend/index.js'
import { parseNames } from '../data/names.js'
import { readText } from '../io/files.js'
import { loadMiniGpt, type MiniGptCheckpoint } from '../io/minigpt-checkpoint.js'
import { CliError } from './io.js'

/** Starts the named backend (default wasm) or fails with the reason. */
export const startBackend = async (name: string | undefined): Promise<string> => {
  const r = await useBackend(name ?? 'wasm')()
  if (E.isLeft(r)) throw new CliError(`--backend: ${r.left.message}`)
  return r.right
}

/** Reads a names file (one per line; blank and '#' lines skipped) or fails naming the file. */
export const readNamesFile = async (path: string): Promise<string[]> => {
  const r = await readText(path)()
  if (E.isLeft(r)) throw new CliError(r.left.message)
  const names = parseNames(r.right)
  if (names.length === 0) throw new CliError(`${path}: no names in the file (one name per line; blank lines and lines starting with '#' are skipped)`)
  return names
}

/** Loads a checkpoint folder or fails naming the file and the problem. */
export const loadCheckpoint = async (dir: string): Promise<MiniGptCheckpoint> => {
  const r = await loadMiniGpt(dir)()
  if (E.isLeft(r)) throw new CliError(r.left.message)
  return r.right
}

/** Reads a string option, failing when a required one is missing (the message prefixed by `where`, e.g. 'gpt2'). */
export const requireString = (values: Record<string, unknown>, name: string, where?: string): string => {
  const v = values[name]
  if (typeof v !== 'string' || v === '') throw new CliError(`${where === undefined ? '' : `${where}: `}--${name} is required`)
  return v
}

/** A string option or undefined. */
export const optString = (values: Record<string, unknown>, name: string): string | undefined => {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** Formats a number of nats with 4 decimals. */
export const nats = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(4))
