/**
 * Mini-GPT checkpoints with quantized weights: a folder like `saveMiniGpt`'s (config.json,
 * vocab.json, model.safetensors) whose model.safetensors has src/io/quant-file.ts's layout
 * (version 1, `"model": "minigpt"`): embedding.weight [vocab, d], every linear weight of the
 * blocks and the head as [out, in] rows (the seed's state_dict names, PyTorch's nn.Linear
 * layout), I8 or U8 with NAME.scales; LayerNorms and biases F32. Read strictly, as the GPT-2 file.
 */
import { join } from 'node:path'
import type * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CharVocab } from '../data/vocab.js'
import type { MiniGptConfig } from '../models/minigpt/config.js'
import type { QuantLinear, QuantizedMatrix } from '../quant/matrix.js'
import type { QuantMiniGptBlock, QuantMiniGptParams } from '../quant/minigpt.js'
import type { QuantFormat } from '../quant/quantize.js'
import { ensureDir, ioError, writeFileAtomic, type IoError } from './files.js'
import { loadCheckpointFolder } from './minigpt-checkpoint.js'
import { CHECKPOINT_FILES } from './minigpt-state-dict.js'
import { quantSafetensors, readQuantTensors, type QuantFileLayout } from './quant-file.js'

const layout = (c: MiniGptConfig): QuantFileLayout => {
  const d = c.embed_dim
  const matrices: [string, number, number][] = [['embedding.weight', c.vocab_size, d]]
  const floats: [string, number][] = []
  for (let i = 0; i < c.num_layers; i++) {
    const l = `layers.${i}`
    for (const w of ['W_q', 'W_k', 'W_v', 'W_o']) {
      matrices.push([`${l}.attn.${w}.weight`, d, d])
      floats.push([`${l}.attn.${w}.bias`, d])
    }
    matrices.push([`${l}.ff.net.0.weight`, c.ff_dim, d], [`${l}.ff.net.3.weight`, d, c.ff_dim])
    floats.push([`${l}.ff.net.0.bias`, c.ff_dim], [`${l}.ff.net.3.bias`, d])
    floats.push([`${l}.norm1.weight`, d], [`${l}.norm1.bias`, d], [`${l}.norm2.weight`, d], [`${l}.norm2.bias`, d])
  }
  matrices.push(['head.weight', c.vocab_size, d])
  floats.push(['norm.weight', d], ['norm.bias', d], ['head.bias', c.vocab_size])
  return { matrices, floats }
}

/** Every tensor of a quantized Mini-GPT by its state_dict name. */
const byName = (q: QuantMiniGptParams): Map<string, QuantizedMatrix | tf.Tensor> => {
  const out = new Map<string, QuantizedMatrix | tf.Tensor>([['embedding.weight', q.embedding]])
  const lin = (name: string, l: QuantLinear) => out.set(`${name}.weight`, l.weight).set(`${name}.bias`, l.bias)
  q.layers.forEach((l, i) => {
    const p = `layers.${i}`
    lin(`${p}.attn.W_q`, l.attn.W_q)
    lin(`${p}.attn.W_k`, l.attn.W_k)
    lin(`${p}.attn.W_v`, l.attn.W_v)
    lin(`${p}.attn.W_o`, l.attn.W_o)
    lin(`${p}.ff.net.0`, l.ff.net[0])
    lin(`${p}.ff.net.3`, l.ff.net[3])
    out.set(`${p}.norm1.weight`, l.norm1.weight).set(`${p}.norm1.bias`, l.norm1.bias).set(`${p}.norm2.weight`, l.norm2.weight).set(`${p}.norm2.bias`, l.norm2.bias)
  })
  lin('head', q.head)
  return out.set('norm.weight', q.norm.weight).set('norm.bias', q.norm.bias)
}

/** The bytes of a quantized Mini-GPT's model.safetensors. */
export const quantMiniGptSafetensors = (c: MiniGptConfig, q: QuantMiniGptParams): Uint8Array => {
  const all = byName(q)
  return quantSafetensors(
    'minigpt',
    q.format,
    layout(c),
    (n) => all.get(n) as QuantizedMatrix,
    (n) => all.get(n) as tf.Tensor,
  )
}

/** A quantized Mini-GPT from a parsed file, checked strictly against the config; errors name the tensor or key. */
export const quantMiniGptFromSafetensors = (c: MiniGptConfig, file: Parameters<typeof readQuantTensors>[2], expected?: QuantFormat): E.Either<string, QuantMiniGptParams> => {
  const r = readQuantTensors('minigpt', layout(c), file, expected)
  if (E.isLeft(r)) return E.left(r.left.message)
  const { format, matrix: m, vector: v } = r.right
  const lin = (name: string): QuantLinear => ({ weight: m(`${name}.weight`), bias: v(`${name}.bias`) })
  const norm = (name: string) => ({ weight: v(`${name}.weight`), bias: v(`${name}.bias`) })
  const layers = Array.from({ length: c.num_layers }, (_, i): QuantMiniGptBlock => {
    const p = `layers.${i}`
    return {
      attn: { W_q: lin(`${p}.attn.W_q`), W_k: lin(`${p}.attn.W_k`), W_v: lin(`${p}.attn.W_v`), W_o: lin(`${p}.attn.W_o`) },
      ff: { net: { 0: lin(`${p}.ff.net.0`), 3: lin(`${p}.ff.net.3`) } },
      norm1: norm(`${p}.norm1`),
      norm2: norm(`${p}.norm2`),
    }
  })
  return E.right({ format, embedding: m('embedding.weight'), layers, norm: norm('norm'), head: lin('head') })
}

/** A loaded quantized Mini-GPT checkpoint. */
export interface QuantMiniGptCheckpoint {
  readonly config: MiniGptConfig
  readonly vocab: CharVocab
  readonly params: QuantMiniGptParams
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
