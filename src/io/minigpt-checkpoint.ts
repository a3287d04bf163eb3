/**
 * Mini-GPT checkpoint folders, compatible with the seed notebook's PyTorch model:
 *
 *   model.safetensors   the state_dict: the seed's names, PyTorch layouts (nn.Linear weight
 *                       [out, in]), float32, with the `pos_encoding.pe` buffer [1, max_len+2, d]
 *   config.json         vocab_size, embed_dim, num_heads, num_layers, ff_dim, max_len, dropout, pad_idx
 *   vocab.json          the token list in index order
 *
 * A model saved from the notebook with `safetensors.torch.save_file(model.state_dict(), …)`
 * plus those two JSON files loads here, and a folder written here loads in PyTorch with
 * `model.load_state_dict(load_file(…))`. Loading is flatten/unflatten plus validation: the
 * tree's dotted paths are the state_dict's names; the only conversion is the transpose of
 * linear weights, done at the file boundary (src/models/minigpt/checkpoint.ts).
 */
import type * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { join } from 'node:path'
import type { CharVocab } from '../data/vocab.js'
import type { MiniGptConfig } from '../models/minigpt/config.js'
import { ensureDir, ioError, readJson, readSafetensorsFile, writeFileAtomic, type IoError } from './files.js'
import { CHECKPOINT_FILES, checkpointConfig, checkpointParams, checkpointVocab, miniGptToBytes, CheckpointVocabJson, type MiniGptCheckpoint } from './minigpt-state-dict.js'
import type { Safetensors } from './safetensors.js'

// The pure half (state_dict layout, checks, loading from bytes) lives in a browser-safe module;
// it is re-exported here so that this stays the one import for checkpoint folders in Node.
export {
  CHECKPOINT_FILES,
  checkpointConfig,
  checkpointParams,
  checkpointVocab,
  miniGptFromBytes,
  miniGptToBytes,
  CheckpointVocabJson,
  type CheckpointBytes,
  type MiniGptCheckpoint,
} from './minigpt-state-dict.js'

/** Writes a checkpoint folder (each file atomically); creates the folder if needed. */
export const saveMiniGpt = (dir: string, ckpt: MiniGptCheckpoint, metadata: Readonly<Record<string, string>> = {}): TE.TaskEither<IoError, void> => {
  const files = miniGptToBytes(ckpt, metadata)
  return pipe(
    ensureDir(dir),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.model), files.model)),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.config), files.config)),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.vocab), files.vocab)),
  )
}

/**
 * Reads a checkpoint folder and checks that its parts agree: config.json decodes, vocab.json is
 * a list of strings whose length is vocab_size, every tensor of the model is present with the
 * config's shape (nothing missing, nothing unexpected but the pe buffer). Errors name the file.
 */
export const loadMiniGpt = (dir: string): TE.TaskEither<IoError, MiniGptCheckpoint> => loadCheckpointFolder(dir, checkpointParams)

/**
 * Reads a Mini-GPT checkpoint folder whose model.safetensors `readParams` turns into parameters
 * (float32 as {@link loadMiniGpt} does, or another layout: src/io/quant-minigpt.ts): config.json
 * and vocab.json are decoded and checked against each other first. Errors name the file.
 */
export const loadCheckpointFolder = <P>(
  dir: string,
  readParams: (file: Safetensors, config: MiniGptConfig, path: string) => E.Either<IoError, P>,
): TE.TaskEither<IoError, { readonly config: MiniGptConfig; readonly vocab: CharVocab; readonly params: P }> => {
  const configPath = join(dir, CHECKPOINT_FILES.config)
  const vocabPath = join(dir, CHECKPOINT_FILES.vocab)
  const modelPath = join(dir, CHECKPOINT_FILES.model)
  return pipe(
    TE.Do,
    TE.bind('config', () =>
      pipe(
        readJson(configPath, t.unknown),
        TE.chainEitherK((u) => checkpointConfig(u, configPath)),
      ),
    ),
    TE.bind('vocab', ({ config }) =>
      pipe(
        readJson(vocabPath, CheckpointVocabJson),
        TE.chainEitherK((tokens) => checkpointVocab(tokens, config, vocabPath)),
      ),
    ),
    TE.bind('params', ({ config }) =>
      pipe(
        readSafetensorsFile(modelPath),
        TE.mapLeft((e): IoError => (e._tag === 'IoError' ? e : ioError(modelPath, e.message.replace(`${modelPath}: `, '')))),
        TE.chainEitherK((file) => readParams(file, config, modelPath)),
      ),
    ),
  )
}
