/**
 * What the page does with a Mini-GPT, on top of the library: load a checkpoint from its three
 * files' bytes, generate names, and the two pictures (attention per layer and head, the
 * next-token distribution before and after each logits processor). No DOM here.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { key } from '../../../src/core/key.js'
import * as T from '../../../src/core/tree.js'
import { chars, type CharVocab } from '../../../src/data/vocab.js'
import { CHECKPOINT_FILES, miniGptFromBytes, type CheckpointBytes, type MiniGptCheckpoint } from '../../../src/io/minigpt-state-dict.js'
import { contextLength } from '../../../src/models/minigpt/config.js'
import { attentionMaps } from '../../../src/models/minigpt/task.js'
import { miniGptDecoder } from '../../../src/models/minigpt/decoder.js'
import { miniGptShapes, type MiniGptParams } from '../../../src/models/minigpt/model.js'
import type { DecoderModel } from '../../../src/sample/model.js'
import { generateNames, type GeneratedName } from '../../../src/sample/names.js'
import { disposeQuantTree } from '../../../src/quant/matrix.js'
import type { QuantFormat } from '../../../src/quant/quantize.js'
import { quantize, type Quantized } from '../../../src/quant/tree.js'
import { decodeOptions, optionsErrorMessage, processorSteps } from '../../../src/sample/options.js'
import { processorContext } from '../../../src/sample/processors.js'
import { softmax } from '../../../src/sample/softmax.js'
import { attentionGrid, distributionBars, type BarPanel } from '../../../src/viz/index.js'

/** The weights generation runs with: the checkpoint's float32, or quantized (docs/quantization.md). */
export type Weights = 'f32' | QuantFormat

/**
 * A loaded model: the checkpoint, its decoder (over quantized weights when `weights` is int8 or
 * q4), and the bytes it came from (to reload it on another backend or with other weights).
 */
export interface Loaded {
  readonly ckpt: MiniGptCheckpoint
  readonly decoder: DecoderModel<unknown>
  readonly source: CheckpointBytes
  readonly label: string
  readonly weights: Weights
  readonly quantized?: Quantized<MiniGptParams>
}

/** Builds a model from the three files (checked as `loadMiniGpt` checks a folder); the error is one line naming the file. */
export const loadFromBytes = (source: CheckpointBytes, label: string, weights: Weights = 'f32'): E.Either<string, Loaded> => {
  const r = miniGptFromBytes(source)
  if (E.isLeft(r)) return E.left(r.left.message)
  const ckpt = r.right
  if (weights === 'f32') return E.right({ ckpt, decoder: miniGptDecoder(ckpt.config, ckpt.params) as DecoderModel<unknown>, source, label, weights })
  const quantized = quantize(miniGptShapes(ckpt.config), ckpt.params, weights)
  return E.right({ ckpt, decoder: miniGptDecoder(ckpt.config, quantized) as DecoderModel<unknown>, source, label, weights, quantized })
}

/** Frees a model's tensors. */
export const unload = (m: Loaded): void => {
  T.dispose(m.ckpt.params)
  if (m.quantized !== undefined) disposeQuantTree(m.quantized)
}

/** One line about a model: parameters, layers × heads, vocabulary, context. */
export const describe = (m: Loaded): string => {
  const c = m.ckpt.config
  return `${m.label}${m.weights === 'f32' ? '' : ` (${m.weights} weights)`}: ${T.count(m.ckpt.params).toLocaleString('en-US')} parameters, ${c.num_layers} layers × ${c.num_heads} heads, d=${c.embed_dim}, ${c.vocab_size} tokens, context ${contextLength(c)}`
}

/** The bundled sample checkpoint, fetched from `base` (the page's folder). */
export const fetchCheckpoint = async (base: string): Promise<E.Either<string, CheckpointBytes>> => {
  const get = async (name: string): Promise<Uint8Array> => {
    const url = new URL(name, base).href
    const res = await fetch(url)
    if (!res.ok) throw new Error(`${name}: HTTP ${res.status} from ${url}`)
    return new Uint8Array(await res.arrayBuffer())
  }
  try {
    const [config, vocab, model] = await Promise.all([get(CHECKPOINT_FILES.config), get(CHECKPOINT_FILES.vocab), get(CHECKPOINT_FILES.model)])
    return E.right({ config, vocab, model })
  } catch (e) {
    return E.left((e as Error).message)
  }
}

/**
 * The three files among those the user picked: by their names (model.safetensors, config.json,
 * vocab.json), else by their extension and a name containing "config" or "vocab".
 */
export const readPickedFiles = async (files: readonly File[]): Promise<E.Either<string, CheckpointBytes>> => {
  const find = (exact: string, loose: (n: string) => boolean) => files.find((f) => f.name === exact) ?? files.find((f) => loose(f.name.toLowerCase()))
  const model = find(CHECKPOINT_FILES.model, (n) => n.endsWith('.safetensors'))
  const config = find(CHECKPOINT_FILES.config, (n) => n.endsWith('.json') && n.includes('config'))
  const vocab = find(CHECKPOINT_FILES.vocab, (n) => n.endsWith('.json') && n.includes('vocab'))
  const missing = [
    [CHECKPOINT_FILES.model, model],
    [CHECKPOINT_FILES.config, config],
    [CHECKPOINT_FILES.vocab, vocab],
  ]
    .filter(([, f]) => f === undefined)
    .map(([n]) => n)
  if (missing.length > 0 || model === undefined || config === undefined || vocab === undefined) {
    return E.left(`pick the three files of a checkpoint folder: missing ${missing.join(', ')} (got ${files.map((f) => f.name).join(', ') || 'nothing'})`)
  }
  const bytes = async (f: File) => new Uint8Array(await f.arrayBuffer())
  return E.right({ model: await bytes(model), config: await bytes(config), vocab: await bytes(vocab) })
}

/** The sampling settings of the page. */
export interface SampleSettings {
  readonly prompt: string
  readonly seed: number
  readonly count: number
  readonly temperature: number
  /** 0: off. */
  readonly topK: number
  /** 1: off. */
  readonly topP: number
  /** 1: off. */
  readonly repetitionPenalty: number
}

/** The generation options (docs/sampling.md names) for the settings; the neutral values are left out. */
export const optionsOf = (s: SampleSettings): Record<string, unknown> => ({
  temperature: s.temperature,
  ...(s.topK > 0 ? { top_k: s.topK } : {}),
  ...(s.topP < 1 ? { top_p: s.topP } : {}),
  ...(s.repetitionPenalty !== 1 ? { repetition_penalty: s.repetitionPenalty } : {}),
})

/** Names for the settings, keyed by the seed: the same settings give the same names. */
export const generate = (m: Loaded, s: SampleSettings): Promise<E.Either<string, GeneratedName[]>> =>
  generateNames(m.decoder, m.ckpt.vocab, { count: s.count, prompt: s.prompt, options: optionsOf(s) }, key(s.seed))

/** How many times each of minigpt-fp's own kernels (tfjs kernels named `Minigpt…`: the SIMD and quantized ones) ran. */
export type KernelCounts = ReadonlyMap<string, number>

/**
 * {@link generate}, recording with `tf.profile` which kernels ran: the evidence that, say, int8
 * weights went through the quantized kernels rather than the host's fallback arithmetic.
 */
export const generateRecordingKernels = async (m: Loaded, s: SampleSettings): Promise<{ names: E.Either<string, GeneratedName[]>; kernels: KernelCounts }> => {
  const out: { names: E.Either<string, GeneratedName[]> } = { names: E.right([]) }
  const info = await tf.profile(async () => {
    out.names = await generate(m, s)
  })
  const kernels = new Map<string, number>()
  for (const k of info.kernels) if (k.name.startsWith('Minigpt')) kernels.set(k.name, (kernels.get(k.name) ?? 0) + 1)
  return { names: out.names, kernels }
}

const label = (v: CharVocab, id: number): string => v.tokens[id] ?? '?'

/** The ids the model sees for a name: SOS then its characters, cut to the context. */
const idsOf = (m: Loaded, text: string): number[] => {
  const v = m.ckpt.vocab
  return [v.sos, ...chars(text).map((c) => v.index.get(c) ?? v.pad)].slice(0, contextLength(m.ckpt.config))
}

/** Every layer's and head's attention over the name (SOS first), as a grid of heatmaps on [0, 1]. */
export const attentionSvg = async (m: Loaded, text: string): Promise<string> => {
  const ids = idsOf(m, text)
  const maps = await attentionMaps(m.ckpt.config, m.ckpt.params, ids)
  return attentionGrid(
    maps,
    ids.map((i) => label(m.ckpt.vocab, i)),
    { title: `Attention on "${text}": each layer and head (causal: no query sees a later key)` },
  )
}

/**
 * The next-token distribution after the first `prefix` characters of `text` (the prompt's
 * characters count as prompt): the model's softmax, then after each processor of the settings,
 * in the order generation applies them (processorSteps).
 */
export const distributionSvg = async (m: Loaded, s: SampleSettings, text: string, prefix: number): Promise<E.Either<string, string>> => {
  const v = m.ckpt.vocab
  const all = idsOf(m, text)
  const ids = all.slice(0, Math.max(1, Math.min(all.length, prefix + 1)))
  const promptLength = Math.min(ids.length, 1 + chars(s.prompt).length)
  const options = decodeOptions({ eos_token_id: v.eos, suppress_tokens: [v.pad, v.sos], ...optionsOf(s) })
  if (E.isLeft(options)) return E.left(optionsErrorMessage(options.left))
  const out = await m.decoder.prefill([ids])
  m.decoder.release(out.cache)
  const ctx = processorContext(ids.slice(0, promptLength), ids.slice(promptLength))
  const bars = (row: Float32Array) => Array.from(softmax(row), (p, i) => ({ label: label(v, i), value: p }))
  // generateNames never samples PAD or SOS (suppress_tokens): that step is folded into the
  // first panel, the model's distribution as the sampler gets it before the page's settings.
  const steps = processorSteps(options.right)
  let row = out.logits[0]
  for (const step of steps) if (step.option === 'suppress_tokens') row = step.processor(ctx)(row)
  const panels: BarPanel[] = [{ title: 'model (softmax; PAD, SOS never sampled)', bars: bars(row) }]
  for (const step of steps) {
    if (step.option === 'suppress_tokens') continue
    row = step.processor(ctx)(row)
    panels.push({ title: `after ${step.option} = ${String((options.right as Record<string, unknown>)[step.option])}`, bars: bars(row) })
  }
  const shown = ids
    .slice(1)
    .map((i) => label(v, i))
    .join('')
  return E.right(distributionBars(panels, { title: `Next character after "${shown}"`, topK: 10, columns: 2, plotHeight: 110 }))
}
