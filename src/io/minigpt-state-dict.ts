/**
 * The pure half of Mini-GPT checkpoint folders (see ./minigpt-checkpoint.ts): the checks that a
 * folder's three parts agree, over bytes already in memory, with messages naming the file (the
 * state_dict layout itself lives with the model: src/models/minigpt/checkpoint.ts). No Node
 * module is imported here, so a browser page (files picked by the user, fetched, or posted by
 * a worker) loads and builds checkpoints with exactly the rules `loadMiniGpt` uses.
 *
 * @example
 * // in a page: the three files as bytes, however they arrived
 * const ckpt = miniGptFromBytes({ config: configBytes, vocab: vocabBytes, model: modelBytes })
 * if (E.isLeft(ckpt)) show(ckpt.left.message)   // "vocab.json: has 60 tokens but config.json says vocab_size=67"
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { configErrorMessage, formatValidationErrors } from '../core/errors.js'
import { vocabFromTokens, type CharVocab } from '../data/vocab.js'
import { PE_BUFFER, paramsFromStateDict, stateDict } from '../models/minigpt/checkpoint.js'
import { decodeMiniGptConfig, type MiniGptConfig } from '../models/minigpt/config.js'
import type { MiniGptParams } from '../models/minigpt/model.js'
import type { IoError } from './files.js'
import { parseSafetensors, serializeSafetensors, type Safetensors } from './safetensors.js'
import { floatTensors } from './tensors.js'

/** A Mini-GPT ready to use: its config, vocabulary and parameters. */
export interface MiniGptCheckpoint {
  readonly config: MiniGptConfig
  readonly vocab: CharVocab
  readonly params: MiniGptParams
}

/** The file names of a checkpoint folder. */
export const CHECKPOINT_FILES = { model: 'model.safetensors', config: 'config.json', vocab: 'vocab.json' } as const

// The same value as files.ts's ioError, built here so that this module stays free of Node.
const problemAt = (path: string, problem: string): IoError => ({ _tag: 'IoError', path, message: `${path}: ${problem}` })

/** The codec of vocab.json: the token list in index order. */
export const CheckpointVocabJson = t.array(t.string, 'a list of strings')

/** config.json's parsed JSON as a config, or an error naming `path` and every bad field. */
export const checkpointConfig = (u: unknown, path: string = CHECKPOINT_FILES.config): E.Either<IoError, MiniGptConfig> =>
  pipe(
    decodeMiniGptConfig(u),
    E.mapLeft((e) => problemAt(path, configErrorMessage(e))),
  )

/** vocab.json's token list as a vocabulary that fits `config` (special tokens present, `vocab_size` tokens). */
export const checkpointVocab = (tokens: readonly string[], config: MiniGptConfig, path: string = CHECKPOINT_FILES.vocab): E.Either<IoError, CharVocab> =>
  pipe(
    vocabFromTokens(tokens),
    E.mapLeft((e) => problemAt(path, e.message)),
    E.filterOrElse(
      (v) => v.tokens.length === config.vocab_size,
      (v) => problemAt(path, `has ${v.tokens.length} tokens but config.json says vocab_size=${config.vocab_size}`),
    ),
  )

/** A parsed model.safetensors as the model's parameters (float dtypes only, the pe buffer ignored, shapes checked). */
export const checkpointParams = (file: Safetensors, config: MiniGptConfig, path: string = CHECKPOINT_FILES.model): E.Either<IoError, MiniGptParams> =>
  pipe(
    floatTensors(file, (n) => n !== PE_BUFFER),
    E.chain((flat) => paramsFromStateDict(config, flat)),
    E.mapLeft((m) => problemAt(path, m)),
  )

/** The three files of a checkpoint folder as they arrived (bytes, or text already decoded). */
export interface CheckpointBytes {
  readonly config: Uint8Array | string
  readonly vocab: Uint8Array | string
  readonly model: Uint8Array
}

/**
 * A checkpoint's three files as bytes (what {@link saveMiniGpt} writes): model.safetensors with
 * `metadata` in its header, config.json, vocab.json. For sending a model to a worker or a page.
 */
export const miniGptToBytes = (ckpt: MiniGptCheckpoint, metadata: Readonly<Record<string, string>> = {}): CheckpointBytes => ({
  model: serializeSafetensors(stateDict(ckpt.config, ckpt.params), { format: 'pt', ...metadata }),
  config: JSON.stringify(ckpt.config, null, 2) + '\n',
  vocab: JSON.stringify(ckpt.vocab.tokens) + '\n',
})

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A JSON file's content decoded with a codec; errors name the file (as `readJson` does for files on disk). */
const jsonAt = <A>(path: string, content: Uint8Array | string, codec: t.Decoder<unknown, A>): E.Either<IoError, A> =>
  pipe(
    typeof content === 'string'
      ? E.right(content)
      : E.tryCatch(
          () => utf8.decode(content),
          () => problemAt(path, 'not valid UTF-8 text'),
        ),
    E.filterOrElse(
      (text) => text.trim() !== '',
      () => problemAt(path, 'file is empty'),
    ),
    E.chain((text) =>
      E.tryCatch(
        () => JSON.parse(text) as unknown,
        (e) => problemAt(path, `not valid JSON (${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')})`),
      ),
    ),
    E.chain((json) =>
      pipe(
        codec.decode(json),
        E.mapLeft((errors) => problemAt(path, formatValidationErrors(errors))),
      ),
    ),
  )

/**
 * A checkpoint from its three files' contents, checked as {@link loadMiniGpt} checks a folder
 * (config decodes, vocabulary fits it, every tensor present with the config's shape). For
 * pages and workers: no file system involved. `names` are used in the messages.
 */
export const miniGptFromBytes = (
  files: CheckpointBytes,
  names: { readonly config: string; readonly vocab: string; readonly model: string } = CHECKPOINT_FILES,
): E.Either<IoError, MiniGptCheckpoint> =>
  pipe(
    E.Do,
    E.bind('config', () =>
      pipe(
        jsonAt(names.config, files.config, t.unknown),
        E.chain((u) => checkpointConfig(u, names.config)),
      ),
    ),
    E.bind('vocab', ({ config }) =>
      pipe(
        jsonAt(names.vocab, files.vocab, CheckpointVocabJson),
        E.chain((tokens) => checkpointVocab(tokens, config, names.vocab)),
      ),
    ),
    E.bind('params', ({ config }) =>
      pipe(
        files.model.byteLength === 0 ? E.left(problemAt(names.model, 'file is empty')) : E.right(files.model),
        E.chain((bytes) =>
          pipe(
            parseSafetensors(bytes),
            E.mapLeft((e) => problemAt(names.model, e.message)),
          ),
        ),
        E.chain((file) => checkpointParams(file, config, names.model)),
      ),
    ),
  )
