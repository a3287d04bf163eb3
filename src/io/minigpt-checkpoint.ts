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
 * linear weights, done here at the file boundary.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { join } from 'node:path'
import { key } from '../core/key.js'
import { configErrorMessage } from '../core/errors.js'
import { scoped } from '../core/scope.js'
import * as T from '../core/tree.js'
import { vocabFromTokens, type CharVocab } from '../data/vocab.js'
import { contextLength, decodeMiniGptConfig, type MiniGptConfig } from '../models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../models/minigpt/model.js'
import { sinusoidalTable } from '../nn/positional.js'
import { ensureDir, ioError, readJson, readSafetensorsFile, writeFileAtomic, type IoError } from './files.js'
import { serializeSafetensors, type TensorInput } from './safetensors.js'
import { floatTensors } from './tensors.js'

/** A Mini-GPT ready to use: its config, vocabulary and parameters. */
export interface MiniGptCheckpoint {
  readonly config: MiniGptConfig
  readonly vocab: CharVocab
  readonly params: MiniGptParams
}

/** The file names of a checkpoint folder. */
export const CHECKPOINT_FILES = { model: 'model.safetensors', config: 'config.json', vocab: 'vocab.json' } as const

/** The name of the positional-encoding buffer in the seed's state_dict (written, ignored on load). */
export const PE_BUFFER = 'pos_encoding.pe'

/** True for the tensors PyTorch stores as nn.Linear weights ([out, in]): every 2-D weight but the embedding. */
export const isLinearWeight = (name: string, rank: number): boolean => rank === 2 && name.endsWith('.weight') && name !== 'embedding.weight'

/** The state_dict of a Mini-GPT as safetensors entries (PyTorch names and layouts, pe buffer included). */
export const stateDict = (config: MiniGptConfig, params: MiniGptParams): TensorInput[] => {
  const entries: TensorInput[] = []
  for (const [name, tensor] of T.flatten(params)) {
    const data = tf.tidy(() => (isLinearWeight(name, tensor.rank) ? tf.transpose(tensor) : tensor.clone()))
    entries.push({ name, dtype: 'F32', shape: data.shape, data: data.dataSync() as Float32Array })
    data.dispose()
  }
  // PyTorch orders the buffer after the embedding; order does not matter to either loader.
  entries.splice(1, 0, { name: PE_BUFFER, dtype: 'F32', shape: [1, contextLength(config), config.embed_dim], data: sinusoidalTable(contextLength(config), config.embed_dim) })
  return entries
}

/** Writes a checkpoint folder (each file atomically); creates the folder if needed. */
export const saveMiniGpt = (dir: string, ckpt: MiniGptCheckpoint, metadata: Readonly<Record<string, string>> = {}): TE.TaskEither<IoError, void> =>
  pipe(
    ensureDir(dir),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.model), serializeSafetensors(stateDict(ckpt.config, ckpt.params), { format: 'pt', ...metadata }))),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.config), JSON.stringify(ckpt.config, null, 2) + '\n')),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.vocab), JSON.stringify(ckpt.vocab.tokens) + '\n')),
  )

const VocabJson = t.array(t.string, 'a list of strings')

/**
 * Reads a checkpoint folder and checks that its parts agree: config.json decodes, vocab.json is
 * a list of strings whose length is vocab_size, every tensor of the model is present with the
 * config's shape (nothing missing, nothing unexpected but the pe buffer). Errors name the file.
 */
export const loadMiniGpt = (dir: string): TE.TaskEither<IoError, MiniGptCheckpoint> => {
  const configPath = join(dir, CHECKPOINT_FILES.config)
  const vocabPath = join(dir, CHECKPOINT_FILES.vocab)
  const modelPath = join(dir, CHECKPOINT_FILES.model)
  return pipe(
    TE.Do,
    TE.bind('config', () =>
      pipe(readJson(configPath, t.unknown), TE.chainEitherK((u) => pipe(decodeMiniGptConfig(u), E.mapLeft((e) => ioError(configPath, configErrorMessage(e)))))),
    ),
    TE.bind('vocab', ({ config }) =>
      pipe(
        readJson(vocabPath, VocabJson),
        TE.chainEitherK((tokens) =>
          pipe(
            vocabFromTokens(tokens),
            E.mapLeft((e) => ioError(vocabPath, e.message)),
            E.filterOrElse((v) => v.tokens.length === config.vocab_size, (v) => ioError(vocabPath, `has ${v.tokens.length} tokens but config.json says vocab_size=${config.vocab_size}`)),
          ),
        ),
      ),
    ),
    TE.bind('params', ({ config }) =>
      pipe(
        readSafetensorsFile(modelPath),
        TE.mapLeft((e): IoError => (e._tag === 'IoError' ? e : ioError(modelPath, e.message.replace(`${modelPath}: `, '')))),
        TE.chainEitherK((file) => pipe(floatTensors(file, (n) => n !== PE_BUFFER), E.mapLeft((m) => ioError(modelPath, m)))),
        TE.chainEitherK((flat) => paramsFromStateDict(config, flat, modelPath)),
      ),
    ),
  )
}

/** Converts a state_dict (PyTorch layouts) into the model's tree, or lists what does not match the config. */
export const paramsFromStateDict = (config: MiniGptConfig, flat: ReadonlyMap<string, tf.Tensor>, where = 'state_dict'): E.Either<IoError, MiniGptParams> => {
  const converted = new Map<string, tf.Tensor>()
  for (const [name, t0] of flat) converted.set(name, isLinearWeight(name, t0.rank) ? tf.tidy(() => tf.transpose(t0)) : t0)
  for (const [name, t0] of flat) if (converted.get(name) !== t0) t0.dispose()
  const like = shapeTemplate(config)
  const { tree, problems } = T.unflattenLike(like, converted)
  T.dispose(like)
  if (problems.length > 0) {
    tf.dispose([...converted.values()])
    const shown = problems.slice(0, 4).join('; ') + (problems.length > 4 ? `; and ${problems.length - 4} more` : '')
    return E.left(ioError(where, `does not match config.json: ${shown} (shapes in PyTorch's layout are transposed for linear weights)`))
  }
  return E.right(tree)
}

/** Zero tensors with the shapes of a config's parameters (a template for unflattenLike). */
const shapeTemplate = (config: MiniGptConfig): MiniGptParams => {
  return scoped(() => T.map(miniGpt(config).init(key(0)), (x) => tf.zeros(x.shape))) as unknown as MiniGptParams
}
