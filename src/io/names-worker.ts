/**
 * The worker process behind {@link startNamesWorkers} (./names-workers.ts): it starts a tfjs
 * backend, builds a Mini-GPT decoder from a checkpoint's bytes, and answers generation
 * requests with `generateNames`. Not meant to be imported: Node forks it as a child process.
 *
 * Protocol (IPC messages, structured-clone serialisation):
 *   ← parent  { type: 'init', files: CheckpointBytes, backend }
 *   → parent  { type: 'ready' } | { type: 'failed', message }
 *   ← parent  { type: 'job', id, request: NamesRequest, key: [number, number] }
 *   → parent  { type: 'done', id, names } | { type: 'done', id, error }
 * The process exits when its IPC channel closes.
 */
import * as E from 'fp-ts/lib/Either.js'
import { useBackend } from '../backend/index.js'
import type { Key } from '../core/key.js'
import type { DecoderModel } from '../sample/model.js'
import { miniGptDecoder } from '../models/minigpt/decoder.js'
import { generateNames, type NamesRequest } from '../sample/names.js'
import type { CharVocab } from '../data/vocab.js'
import { miniGptFromBytes, type CheckpointBytes } from './minigpt-state-dict.js'

/** A message from the parent. */
export type NamesWorkerInput =
  | { readonly type: 'init'; readonly files: CheckpointBytes; readonly backend: string }
  | { readonly type: 'job'; readonly id: number; readonly request: NamesRequest; readonly key: readonly [number, number] }

const send = (m: unknown): void => {
  process.send?.(m)
}

let model: { readonly decoder: DecoderModel<unknown>; readonly vocab: CharVocab } | undefined

const init = async (files: CheckpointBytes, backend: string): Promise<void> => {
  const started = await useBackend(backend, { threads: 1 })() // one process per core: its own pool would oversubscribe
  if (E.isLeft(started)) return send({ type: 'failed', message: started.left.message })
  const ckpt = miniGptFromBytes(files)
  if (E.isLeft(ckpt)) return send({ type: 'failed', message: ckpt.left.message })
  model = { decoder: miniGptDecoder(ckpt.right.config, ckpt.right.params) as DecoderModel<unknown>, vocab: ckpt.right.vocab }
  send({ type: 'ready' })
}

const job = async (id: number, request: NamesRequest, k: Key): Promise<void> => {
  if (model === undefined) return send({ type: 'done', id, error: 'names worker: not initialised' })
  try {
    const r = await generateNames(model.decoder, model.vocab, request, k)
    send(E.isLeft(r) ? { type: 'done', id, error: r.left } : { type: 'done', id, names: r.right })
  } catch (e) {
    send({ type: 'done', id, error: e instanceof Error ? e.message : String(e) })
  }
}

if (process.send !== undefined) {
  process.on('message', (m: NamesWorkerInput) => {
    if (m.type === 'init') void init(m.files, m.backend)
    else void job(m.id, m.request, m.key as Key)
  })
  process.on('disconnect', () => process.exit(0))
}
