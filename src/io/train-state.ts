/**
 * Saving and restoring any training state — parameters, optimizer state (tensors and plain
 * numbers in records and tuples), the epoch, the key, the history — as ONE safetensors file
 * written atomically, so a run killed at any moment resumes from a consistent state and loses
 * at most the epoch in progress.
 *
 * Tensors are stored under their paths in the state (`params.head.bias`, `opt.0.mu.head.bias`);
 * everything else goes into the file's `__metadata__` as JSON, with each tensor replaced by a
 * `{"$tensor": path}` placeholder.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import { readSafetensorsFile, writeFileAtomic, ioError, type IoError } from './files.js'
import { serializeSafetensors, type TensorInput } from './safetensors.js'
import { floatTensors, tensorToInput } from './tensors.js'

type Skeleton = null | boolean | number | string | { readonly $tensor: string } | readonly Skeleton[] | { readonly [k: string]: Skeleton }

/** Splits a value into its tensors (by path) and a JSON skeleton with placeholders. */
export const encodeState = (value: unknown): { readonly tensors: TensorInput[]; readonly skeleton: Skeleton } => {
  const tensors: TensorInput[] = []
  const walk = (v: unknown, path: string): Skeleton => {
    if (v instanceof tf.Tensor) {
      tensors.push(tensorToInput(path, v))
      return { $tensor: path }
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, path === '' ? String(i) : `${path}.${i}`))
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, path === '' ? k : `${path}.${k}`)]))
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) } as unknown as Skeleton
    if (v === undefined) return null
    return v as Skeleton
  }
  return { tensors, skeleton: walk(value, '') }
}

/** Rebuilds a value from its skeleton and tensors (the inverse of {@link encodeState}). */
export const decodeState = (skeleton: unknown, tensors: ReadonlyMap<string, tf.Tensor>): E.Either<string, unknown> => {
  const missing: string[] = []
  const walk = (s: unknown): unknown => {
    if (Array.isArray(s)) return Object.freeze(s.map(walk))
    if (s !== null && typeof s === 'object') {
      const o = s as Record<string, unknown>
      if (typeof o.$tensor === 'string') {
        const t = tensors.get(o.$tensor)
        if (t === undefined) missing.push(o.$tensor)
        return t
      }
      if (typeof o.$number === 'string') return Number(o.$number)
      return Object.freeze(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, walk(v)])))
    }
    return s
  }
  const value = walk(skeleton)
  return missing.length > 0 ? E.left(`missing tensors ${missing.slice(0, 5).join(', ')}`) : E.right(value)
}

/** Writes a training state (any value of records, arrays, numbers, strings and tensors) atomically. */
export const saveState = (path: string, value: unknown): TE.TaskEither<IoError, void> => {
  const { tensors, skeleton } = encodeState(value)
  return writeFileAtomic(path, serializeSafetensors(tensors, { format: 'minigpt-fp/train-state@1', state: JSON.stringify(skeleton) }))
}

/** Reads a state written by {@link saveState}. */
export const loadState = (path: string): TE.TaskEither<IoError, unknown> =>
  pipe(
    readSafetensorsFile(path),
    TE.mapLeft((e): IoError => ('_tag' in e && e._tag === 'IoError' ? e : ioError(path, e.message))),
    TE.chainEitherK((file) => {
      if (file.metadata.format !== 'minigpt-fp/train-state@1' || file.metadata.state === undefined) {
        return E.left(ioError(path, 'not a minigpt-fp training state (its metadata has no "state")'))
      }
      return pipe(
        floatTensors(file),
        E.chain((ts) =>
          pipe(
            E.tryCatch(
              () => JSON.parse(file.metadata.state) as unknown,
              () => 'its "state" metadata is not JSON',
            ),
            E.chain((sk) => decodeState(sk, ts)),
          ),
        ),
        E.mapLeft((m) => ioError(path, m)),
      )
    }),
  )
