/**
 * Names generated on several cores at once: a pool of Node worker processes, each with its own
 * tfjs backend and a copy of the model, sharing out the names of a request.
 *
 * tfjs's wasm backend runs on one thread in Node, so one process uses one core; a pool of `n`
 * workers uses `n`. (Processes rather than worker threads: on this project's 2-core machine two
 * threads of one process ran slower each than two processes, see docs/benchmarks.md.)
 * Starting a worker loads Node, tfjs and the model, so a pool pays off for many names or
 * many requests. The split changes nothing in the result: name `j` of a request is drawn
 * with the keys of index `j` wherever it is computed (`NamesRequest.firstIndex`), so the pool
 * returns exactly what `generateNames` returns in one process with the same key. Beam search is
 * one search: it runs on one worker.
 *
 * @example
 * const pool = await startNamesWorkers(ckpt, { workers: 2 })()   // TaskEither
 * if (E.isRight(pool)) {
 *   const names = await pool.right.generate({ count: 1000, options: { temperature: 0.8 } }, key(0))
 *   await pool.right.close()
 * }
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import { availableParallelism } from 'node:os'
import { fork, type ChildProcess } from 'node:child_process'
import type { Key } from '../core/key.js'
import type { GeneratedName, NamesRequest } from '../sample/names.js'
import { miniGptToBytes, type MiniGptCheckpoint } from './minigpt-state-dict.js'
import type { NamesWorkerInput } from './names-worker.js'

/** Options of {@link startNamesWorkers}. */
export interface NamesWorkersOptions {
  /** How many worker processes (default: the machine's available parallelism). */
  readonly workers?: number
  /** The tfjs backend each worker starts (default 'wasm'). */
  readonly backend?: string
}

/** A running pool. Its worker processes keep the parent alive until `close` ends them. */
export interface NamesWorkers {
  /** The number of worker processes. */
  readonly size: number
  /** `generateNames` for this model, the names shared out among the workers; same result, same errors. */
  readonly generate: (request: NamesRequest, key: Key) => Promise<E.Either<string, GeneratedName[]>>
  /** Ends the worker processes; pending requests fail. */
  readonly close: () => Promise<void>
}

type Reply = { readonly id: number; readonly names?: GeneratedName[]; readonly error?: string }

/** Contiguous ranges of `count` items for `parts` workers, as even as possible: [start, size][]. */
export const shareOut = (count: number, parts: number): readonly (readonly [number, number])[] => {
  const ranges: [number, number][] = []
  let start = 0
  for (let p = 0; p < parts && start < count; p++) {
    const size = Math.ceil((count - start) / (parts - p))
    ranges.push([start, size])
    start += size
  }
  return ranges
}

interface Handle {
  readonly child: ChildProcess
  readonly pending: Map<number, (r: Reply) => void>
}

const spawn = (input: NamesWorkerInput): Promise<E.Either<string, Handle>> =>
  new Promise((resolve) => {
    // The parent's Node flags, less those that only make sense for an inline script (a parent
    // started with `node --input-type=module -e …` would otherwise pass that on and fail).
    // An inline parent (`node -e SCRIPT`) has the script in its execArgv: passed on, every child
    // would run the script again and fork children of its own (a fork bomb under vitest, which
    // runs such parents). Keep only flags, dropping -e/-p/--eval/--print with their argument.
    const execArgv: string[] = []
    for (let i = 0; i < process.execArgv.length; i++) {
      const a = process.execArgv[i]
      if (a === '-e' || a === '-p' || a === '--eval' || a === '--print') i++
      else if (!a.startsWith('--input-type') && !a.startsWith('--eval=') && !a.startsWith('--print=')) execArgv.push(a)
    }
    const child = fork(new URL('./names-worker.js', import.meta.url), [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const pending = new Map<number, (r: Reply) => void>()
    let ready = false
    const fail = (message: string): void => {
      if (!ready) {
        resolve(E.left(message))
        child.kill()
        return
      }
      for (const [id, settle] of pending) settle({ id, error: message })
      pending.clear()
    }
    child.on('message', (m: { type: string; message?: string } & Reply) => {
      if (m.type === 'ready') {
        ready = true
        resolve(E.right({ child, pending }))
      } else if (m.type === 'failed') fail(m.message ?? 'the worker failed to start')
      else {
        pending.get(m.id)?.(m)
        pending.delete(m.id)
      }
    })
    child.on('error', (e) => fail(`names worker: ${e.message}`))
    child.on('exit', (code, signal) => fail(`names worker: exited (${signal ?? `code ${code}`})`))
    child.send(input)
  })

/**
 * Starts `workers` worker processes, each loading the checkpoint (sent as bytes) on `backend`. Fails
 * (as a value) with the first worker's error, e.g. an unknown backend, after stopping the others.
 */
export const startNamesWorkers =
  (ckpt: MiniGptCheckpoint, options: NamesWorkersOptions = {}): TE.TaskEither<string, NamesWorkers> =>
  async () => {
    const n = options.workers ?? availableParallelism()
    if (!Number.isInteger(n) || n < 1) return E.left(`workers must be an integer ≥ 1, got ${n}`)
    const init: NamesWorkerInput = { type: 'init', files: miniGptToBytes(ckpt), backend: options.backend ?? 'wasm' }
    const started = await Promise.all(Array.from({ length: n }, () => spawn(init)))
    const handles = started.flatMap((s) => (E.isRight(s) ? [s.right] : []))
    const failed = started.find(E.isLeft)
    const close = async (): Promise<void> => {
      await Promise.all(
        handles.map((h) =>
          h.child.exitCode !== null || h.child.signalCode !== null
            ? undefined
            : new Promise<void>((done) => {
                h.child.once('exit', () => done())
                h.child.disconnect()
              }),
        ),
      )
    }
    if (failed !== undefined) {
      await close()
      return E.left(failed.left)
    }
    let nextId = 0
    const ask = (h: Handle, request: NamesRequest, k: Key): Promise<Reply> =>
      new Promise((resolve) => {
        const id = nextId++
        h.pending.set(id, resolve)
        const job: NamesWorkerInput = { type: 'job', id, request, key: [k[0], k[1]] }
        h.child.send(job)
      })
    const generate = async (request: NamesRequest, k: Key): Promise<E.Either<string, GeneratedName[]>> => {
      const beams = Number(request.options?.num_beams ?? 1)
      const first = request.firstIndex ?? 0
      const ranges = beams > 1 || !Number.isInteger(request.count) || request.count < 1 ? [[0, request.count] as const] : shareOut(request.count, handles.length)
      const replies = await Promise.all(ranges.map(([start, size], i) => ask(handles[i], beams > 1 ? request : { ...request, count: size, firstIndex: first + start }, k)))
      const error = replies.find((r) => r.error !== undefined)
      return error !== undefined ? E.left(error.error as string) : E.right(replies.flatMap((r) => r.names ?? []))
    }
    return E.right({ size: handles.length, generate, close })
  }
