/**
 * Mini-GPT checkpoints with quantized weights: a folder like `saveMiniGpt`'s (config.json,
 * vocab.json, model.safetensors) whose model.safetensors has src/io/quant-file.ts's layout
 * (version 1, `"model": "minigpt"`): embedding.weight [vocab, d], every linear weight of the
 * blocks and the head as [out, in] rows (the seed's state_dict names, PyTorch's nn.Linear
 * layout), I8 or U8 with NAME.scales; LayerNorms and biases F32. Read strictly, as the GPT-2 file.
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CharVocab } from '../data/vocab.js'
import type { MiniGptConfig } from '../models/minigpt/config.js'
import { miniGptShapes, type MiniGptParams } from '../models/minigpt/model.js'
import type { QuantFormat } from '../quant/quantize.js'
import type { Quantized } from '../quant/tree.js'
import { ensureDir, ioError, writeFileAtomic, type IoError } from './files.js'
import { loadCheckpointFolder } from './minigpt-checkpoint.js'
import { CHECKPOINT_FILES } from './minigpt-state-dict.js'
import { quantizedFromSafetensors, quantSafetensors } from './quant-file.js'
import type { Safetensors } from './safetensors.js'

/** The bytes of a quantized Mini-GPT's model.safetensors. */
export const quantMiniGptSafetensors = (c: MiniGptConfig, q: Quantized<MiniGptParams>): Uint8Array => quantSafetensors('minigpt', miniGptShapes(c), q)

/** A quantized Mini-GPT from a parsed file, checked strictly against the config; errors name the tensor or key. */
export const quantMiniGptFromSafetensors = (c: MiniGptConfig, file: Safetensors, expected?: QuantFormat): E.Either<string, Quantized<MiniGptParams>> =>
  pipe(
    quantizedFromSafetensors('minigpt', miniGptShapes(c), file, expected),
    E.mapLeft((p) => p.message),
  )

/** A loaded quantized Mini-GPT checkpoint. */
export interface QuantMiniGptCheckpoint {
  readonly config: MiniGptConfig
  readonly vocab: CharVocab
  readonly params: Quantized<MiniGptParams>
}

/** Writes a quantized checkpoint folder (each file atomically). */
export const saveQuantMiniGpt = (dir: string, ckpt: QuantMiniGptCheckpoint): TE.TaskEither<IoError, void> =>
  pipe(
    ensureDir(dir),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.model), quantMiniGptSafetensors(ckpt.config, ckpt.params))),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.config), `${JSON.stringify(ckpt.config, null, 2)}\n`)),
    TE.chain(() => writeFileAtomic(join(dir, CHECKPOINT_FILES.vocab), `${JSON.stringify(ckpt.vocab.tokens)}\n`)),
  )

/** Reads a quantized checkpoint folder, checked as `loadMiniGpt` checks a float one; errors name the file. */
export const loadQuantMiniGpt = (dir: string, expected?: QuantFormat): TE.TaskEither<IoError, QuantMiniGptCheckpoint> =>
  loadCheckpointFolder(dir, (file, config, path) =>
    pipe(
      quantMiniGptFromSafetensors(config, file, expected),
      E.mapLeft((m) => ioError(path, m)),
    ),
  )
