/**
 * Reading and writing files (Node only), as TaskEithers whose errors are one-line messages
 * naming the file: `/x/model.safetensors: no such file`, `config.json: num_heads: expected a
 * positive integer, got "4"`. The effects of the library live here; everything they feed is
 * pure (parsing, decoding, checking).
 */
import { randomUUID } from 'node:crypto'
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type * as t from 'io-ts'
import { formatValidationErrors } from '../core/errors.js'
import { parseSafetensors, type ParseOptions, type Safetensors, type SafetensorsError } from './safetensors.js'

/** A failed file operation: the path and one line saying what went wrong. */
export interface IoError {
  readonly _tag: 'IoError'
  readonly path: string
  /** `path: problem`, ready to show to a user. */
  readonly message: string
  /** The Node error code (`ENOENT`, ...) when the system reported one. */
  readonly code?: string
}

/** A safetensors problem found in a file: the parse error with the path, its message prefixed by it. */
export type SafetensorsFileError = SafetensorsError & { readonly path: string }

/** Makes an {@link IoError} whose message is `path: problem`. */
export const ioError = (path: string, problem: string, code?: string): IoError =>
  code === undefined ? { _tag: 'IoError', path, message: `${path}: ${problem}` } : { _tag: 'IoError', path, message: `${path}: ${problem}`, code }

const PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'resource busy',
}

/** Turns a thrown Node file-system error into an {@link IoError} for `path`. */
export const fromNodeError =
  (path: string) =>
  (e: unknown): IoError => {
    const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined
    if (code !== undefined && PROBLEMS[code] !== undefined) return ioError(path, PROBLEMS[code], code)
    const message = e instanceof Error ? e.message : String(e)
    return ioError(path, code === undefined ? message : `${code}: ${message}`, code)
  }

/**
 * The whole file as bytes, read in one call. The result is a plain Uint8Array over its own
 * memory (not a pooled Buffer), so views into it (safetensors tensors) stay valid.
 */
export const readBytes = (path: string): TE.TaskEither<IoError, Uint8Array> =>
  TE.tryCatch(async () => {
    const b = await readFile(path)
    // A small Buffer may be a slice of Node's shared pool: copy it out so it owns its memory.
    return b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? new Uint8Array(b.buffer, 0, b.byteLength) : new Uint8Array(b)
  }, fromNodeError(path))

/** A file's size in bytes. */
export const fileSize = (path: string): TE.TaskEither<IoError, number> => TE.tryCatch(async () => (await stat(path)).size, fromNodeError(path))

/**
 * The whole file read into `into` (from its start): a view of `into` over the file's bytes,
 * valid until `into` is written again. For reading a sequence of large files through one
 * buffer, so that no file's bytes outlive its turn waiting for the garbage collector (a file
 * longer than `into` is an error).
 */
export const readBytesInto = (path: string, into: Uint8Array): TE.TaskEither<IoError, Uint8Array> =>
  TE.tryCatch(async () => {
    const handle = await open(path, 'r')
    try {
      const size = (await handle.stat()).size
      if (size > into.byteLength) throw new Error(`is ${size} bytes, more than the ${into.byteLength} expected`)
      let at = 0
      while (at < size) {
        const { bytesRead } = await handle.read(into, at, size - at, at)
        if (bytesRead === 0) break
        at += bytesRead
      }
      return into.subarray(0, at)
    } finally {
      await handle.close()
    }
  }, fromNodeError(path))

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The whole file as UTF-8 text (a byte-order mark is dropped); invalid UTF-8 is an error. */
export const readText = (path: string): TE.TaskEither<IoError, string> =>
  pipe(
    readBytes(path),
    TE.chainEitherK((bytes) =>
      E.tryCatch(
        () => utf8.decode(bytes),
        () => ioError(path, 'not valid UTF-8 text'),
      ),
    ),
  )

/**
 * A JSON file decoded with an io-ts codec. An empty file, invalid JSON and every decode
 * failure are errors naming the file and the field: `config.json: num_heads: expected a
 * positive integer, got "4"`.
 */
export const readJson = <A, O = A>(path: string, codec: t.Type<A, O, unknown>): TE.TaskEither<IoError, A> =>
  pipe(
    readText(path),
    TE.chainEitherK((text) => {
      if (text.trim() === '') return E.left(ioError(path, 'file is empty'))
      return pipe(
        E.tryCatch(
          () => JSON.parse(text) as unknown,
          (e) => ioError(path, `not valid JSON (${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')})`),
        ),
        E.chain((json) =>
          pipe(
            codec.decode(json),
            E.mapLeft((errors) => ioError(path, formatValidationErrors(errors))),
          ),
        ),
      )
    }),
  )

/**
 * Replaces a file's content atomically: writes a temporary file in the same directory, flushes
 * it to disk, then renames it over `path`, so readers see the old content or the new, never a
 * part. The temporary file is removed if anything fails. The parent directory must exist.
 */
export const writeFileAtomic = (path: string, data: Uint8Array | string): TE.TaskEither<IoError, void> =>
  TE.tryCatch(
    async () => {
      const dir = dirname(path)
      const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`)
      let created = false
      try {
        const handle = await open(tmp, 'wx').catch((e: unknown) => {
          throw (e as { code?: unknown }).code === 'ENOENT' ? ioError(path, `no such directory ${dir}`, 'ENOENT') : e
        })
        created = true
        try {
          await handle.writeFile(data)
          await handle.sync()
        } finally {
          await handle.close()
        }
        await rename(tmp, path)
        created = false
      } finally {
        if (created) await unlink(tmp).catch(() => undefined)
      }
    },
    (e) => (isIoError(e) ? e : fromNodeError(path)(e)),
  )

const isIoError = (e: unknown): e is IoError => typeof e === 'object' && e !== null && (e as { _tag?: unknown })._tag === 'IoError'

/** Creates a directory and its parents if missing; an existing directory is fine, a file there is an error. */
export const ensureDir =
  (path: string): TE.TaskEither<IoError, void> =>
  async () => {
    try {
      await mkdir(path, { recursive: true })
      return E.right(undefined)
    } catch (e) {
      // mkdir reports a file in the way as EEXIST or ENOTDIR; say plainly which thing it is.
      const s = await stat(path).catch(() => undefined)
      return E.left(s !== undefined && !s.isDirectory() ? ioError(path, 'exists and is not a directory', 'ENOTDIR') : fromNodeError(path)(e))
    }
  }

/**
 * Reads and checks a safetensors file: one read, then {@link parseSafetensors} on the bytes
 * (tensors are views into them). Errors name the file: `/x/model.safetensors: tensor "w": ...`.
 */
export const readSafetensorsFile = (path: string, options?: ParseOptions): TE.TaskEither<IoError | SafetensorsFileError, Safetensors> =>
  pipe(
    readBytes(path),
    TE.chainEitherK((bytes): E.Either<IoError | SafetensorsFileError, Safetensors> => {
      if (bytes.byteLength === 0) return E.left(ioError(path, 'file is empty'))
      return pipe(
        parseSafetensors(bytes, options),
        E.mapLeft((e): SafetensorsFileError => ({ ...e, path, message: `${path}: ${e.message}` })),
      )
    }),
  )
