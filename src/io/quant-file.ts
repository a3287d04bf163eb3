/**
 * GPT-2 with quantized weights as a safetensors file (what `minigpt gpt2 quantize` writes),
 * layout version 1, read strictly: every problem is one message naming the tensor or the
 * metadata key.
 *
 *   __metadata__   "minigpt_fp.quant": "1"         the layout's version
 *                  "quant.format": "int8" | "q4"
 *                  "quant.group_size": "row" (int8: one scale per output channel) | "32" (q4)
 *                  "quant.scale_dtype": "F32"
 *                  "model": "gpt2" (or "minigpt": src/io/quant-minigpt.ts, the same layout)
 *   NAME           every matrix, one row per output channel: wte.weight [vocab, n_embd],
 *                  wpe.weight [n_positions, n_embd], and each Conv1D weight transposed to
 *                  [out, in] (h.N.attn.c_attn.weight is [3·n_embd, n_embd]);
 *                  int8: I8 [out, in], w = q · scale;
 *                  q4: U8 [out, ⌈in/32⌉·16], GGML q4_0 blocks (byte j of a block: weight j in
 *                  the low nibble, weight j + 16 in the high one), w = (q − 8) · d
 *   NAME.scales    F32: int8 [out]; q4 [out, ⌈in/32⌉] (the d of each block)
 *   the rest       LayerNorm weights and biases, Conv1D biases: F32 as in a float checkpoint
 *
 * Names are Hugging Face's without the `transformer.` prefix. The file is not a Hugging Face
 * checkpoint (transformers cannot read it); config.json and the tokenizer files beside it are.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { innerDim, type Gpt2Config } from '../models/gpt2/config.js'
import type { QuantGpt2Block, QuantGpt2Params } from '../quant/gpt2.js'
import { downloadQuantized, uploadQuantized, type QuantLinear, type QuantizedMatrix } from '../quant/matrix.js'
import { Q4_GROUP, int8Stride, q4Groups, type HostQuantized, type QuantFormat } from '../quant/quantize.js'
import { serializeSafetensors, toFloat32, type Safetensors, type TensorEntry, type TensorInput } from './safetensors.js'

/** The `__metadata__` key that marks a quantized file; its value is the layout's version. */
export const QUANT_METADATA_KEY = 'minigpt_fp.quant'

/** The layout version this library writes and reads. */
export const QUANT_LAYOUT_VERSION = '1'

/** What is wrong with a quantized file: one sentence naming the tensor or metadata key. */
export interface QuantFileProblem {
  readonly kind: 'quantized' | 'missing' | 'unexpected' | 'shape' | 'dtype'
  readonly message: string
}

const problem = (kind: QuantFileProblem['kind'], message: string): QuantFileProblem => ({ kind, message })

const groupSize = (f: QuantFormat) => (f === 'int8' ? 'row' : String(Q4_GROUP))

/** A matrix's stored shape and its scales' shape. */
const storedShapes = (f: QuantFormat, rows: number, cols: number) =>
  f === 'int8' ? { data: [rows, cols], scales: [rows] } : { data: [rows, q4Groups(cols) * 16], scales: [rows, q4Groups(cols)] }

/** The config's matrices (name, output rows, input columns) and float tensors (name, length), in file order. */
const layout = (c: Gpt2Config): QuantFileLayout => {
  const e = c.n_embd
  const inner = innerDim(c)
  const matrices: [string, number, number][] = [
    ['wte.weight', c.vocab_size, e],
    ['wpe.weight', c.n_positions, e],
  ]
  const floats: [string, number][] = []
  for (let i = 0; i < c.n_layer; i++) {
    const h = `h.${i}`
    matrices.push([`${h}.attn.c_attn.weight`, 3 * e, e], [`${h}.attn.c_proj.weight`, e, e], [`${h}.mlp.c_fc.weight`, inner, e], [`${h}.mlp.c_proj.weight`, e, inner])
    floats.push(
      [`${h}.ln_1.weight`, e],
      [`${h}.ln_1.bias`, e],
      [`${h}.ln_2.weight`, e],
      [`${h}.ln_2.bias`, e],
      [`${h}.attn.c_attn.bias`, 3 * e],
      [`${h}.attn.c_proj.bias`, e],
      [`${h}.mlp.c_fc.bias`, inner],
      [`${h}.mlp.c_proj.bias`, e],
    )
  }
  floats.push(['ln_f.weight', e], ['ln_f.bias', e])
  return { matrices, floats }
}

/** The matrices and float tensors of a quantized tree, by name. */
const parts = (q: QuantGpt2Params) => {
  const matrices = new Map<string, QuantizedMatrix>([
    ['wte.weight', q.wte],
    ['wpe.weight', q.wpe],
  ])
  const floats = new Map<string, tf.Tensor>()
  q.h.forEach((l, i) => {
    const h = `h.${i}`
    const lin = (name: string, x: QuantLinear) => {
      matrices.set(`${name}.weight`, x.weight)
      floats.set(`${name}.bias`, x.bias)
    }
    floats.set(`${h}.ln_1.weight`, l.ln_1.weight).set(`${h}.ln_1.bias`, l.ln_1.bias).set(`${h}.ln_2.weight`, l.ln_2.weight).set(`${h}.ln_2.bias`, l.ln_2.bias)
    lin(`${h}.attn.c_attn`, l.attn.c_attn)
    lin(`${h}.attn.c_proj`, l.attn.c_proj)
    lin(`${h}.mlp.c_fc`, l.mlp.c_fc)
    lin(`${h}.mlp.c_proj`, l.mlp.c_proj)
  })
  floats.set('ln_f.weight', q.ln_f.weight).set('ln_f.bias', q.ln_f.bias)
  return { matrices, floats }
}

/** int8 rows without their padding (the file's [out, in]). */
const unpadded = (h: HostQuantized): Uint8Array => {
  const stride = int8Stride(h.cols)
  if (stride === h.cols) return h.bytes
  const out = new Uint8Array(h.rows * h.cols)
  for (let r = 0; r < h.rows; r++) out.set(h.bytes.subarray(r * stride, r * stride + h.cols), r * h.cols)
  return out
}

/** A quantized model's tensors in file order: its matrices (name, output rows, input columns) and float vectors (name, length). */
export interface QuantFileLayout {
  readonly matrices: readonly (readonly [string, number, number])[]
  readonly floats: readonly (readonly [string, number])[]
}

/**
 * The bytes of a quantized file (layout version 1, above) for any model: `model` goes into
 * `__metadata__`, `matrix` and `float` give each name's tensor.
 */
export const quantSafetensors = (
  model: string,
  format: QuantFormat,
  layout: QuantFileLayout,
  matrix: (name: string) => QuantizedMatrix,
  float: (name: string) => tf.Tensor,
): Uint8Array => {
  const tensors: TensorInput[] = []
  const hosts = layout.matrices.map(([name]) => downloadQuantized(matrix(name)))
  // F32 first, then the bytes: every tensor stays aligned for zero-copy reads.
  layout.matrices.forEach(([name, rows, cols], i) => tensors.push({ name: `${name}.scales`, dtype: 'F32', shape: storedShapes(format, rows, cols).scales, data: hosts[i].scales }))
  for (const [name, n] of layout.floats) tensors.push({ name, dtype: 'F32', shape: [n], data: float(name).dataSync() as Float32Array })
  layout.matrices.forEach(([name, rows, cols], i) => {
    tensors.push({ name, dtype: format === 'int8' ? 'I8' : 'U8', shape: storedShapes(format, rows, cols).data, bytes: format === 'int8' ? unpadded(hosts[i]) : hosts[i].bytes })
  })
  return serializeSafetensors(tensors, {
    [QUANT_METADATA_KEY]: QUANT_LAYOUT_VERSION,
    'quant.format': format,
    'quant.group_size': groupSize(format),
    'quant.scale_dtype': 'F32',
    model,
  })
}

/** The bytes of a quantized GPT-2 file (layout version 1, above). */
export const quantGpt2Safetensors = (c: Gpt2Config, q: QuantGpt2Params): Uint8Array => {
  const { matrices, floats } = parts(q)
  return quantSafetensors(
    'gpt2',
    q.format,
    layout(c),
    (n) => matrices.get(n) as QuantizedMatrix,
    (n) => floats.get(n) as tf.Tensor,
  )
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`

/** The format a file's metadata declares, checked: version, format, group size, scale dtype. */
export const quantFileFormat = (metadata: Readonly<Record<string, string>>): E.Either<QuantFileProblem, QuantFormat> => {
  const version = metadata[QUANT_METADATA_KEY]
  if (version !== QUANT_LAYOUT_VERSION) {
    return E.left(
      problem(
        'quantized',
        version === undefined
          ? `__metadata__ has no "${QUANT_METADATA_KEY}": not a quantized file written by minigpt-fp`
          : `__metadata__ "${QUANT_METADATA_KEY}" is "${version}": this library reads layout version ${QUANT_LAYOUT_VERSION}`,
      ),
    )
  }
  const format = metadata['quant.format']
  if (format !== 'int8' && format !== 'q4') return E.left(problem('quantized', `__metadata__ "quant.format" is ${JSON.stringify(format)}: expected "int8" or "q4"`))
  if (metadata['quant.group_size'] !== groupSize(format)) {
    return E.left(problem('quantized', `__metadata__ "quant.group_size" is ${JSON.stringify(metadata['quant.group_size'])}: ${format} files have "${groupSize(format)}"`))
  }
  if (metadata['quant.scale_dtype'] !== 'F32')
    return E.left(problem('quantized', `__metadata__ "quant.scale_dtype" is ${JSON.stringify(metadata['quant.scale_dtype'])}: expected "F32"`))
  return E.right(format)
}

/**
 * A quantized file's tensors checked strictly against a layout before anything is uploaded:
 * the metadata (version, format — `expected` when given —, group size, `model`), every
 * tensor's presence, dtype and shape (so a wrong scale count or group size names its tensor),
 * finite scales, and no tensor left over. `matrix` and `vector` upload one tensor each (the
 * caller owns them).
 */
export const readQuantTensors = (
  model: string,
  layout: QuantFileLayout,
  file: Safetensors,
  expected?: QuantFormat,
): E.Either<QuantFileProblem, { readonly format: QuantFormat; readonly matrix: (name: string) => QuantizedMatrix; readonly vector: (name: string) => tf.Tensor1D }> => {
  const f = quantFileFormat(file.metadata)
  if (E.isLeft(f)) return f
  const format = f.right
  if (file.metadata.model !== model) return E.left(problem('quantized', `__metadata__ "model" is ${JSON.stringify(file.metadata.model)}: expected "${model}"`))
  if (expected !== undefined && expected !== format) return E.left(problem('quantized', `holds ${format} weights, but ${expected} was asked for`))
  const seen = new Set<string>()
  const entry = (name: string, dtype: string, shape: readonly number[]): E.Either<QuantFileProblem, TensorEntry> => {
    const t = file.tensors.get(name)
    seen.add(name)
    if (t === undefined) return E.left(problem('missing', `tensor '${name}' is missing (a ${format} ${model} with this config.json needs it)`))
    if (t.dtype !== dtype) return E.left(problem('dtype', `tensor '${name}' has dtype ${t.dtype}, expected ${dtype} for ${format} weights`))
    if (fmt(t.shape) !== fmt(shape)) return E.left(problem('shape', `tensor '${name}' has shape ${fmt(t.shape)}, expected ${fmt(shape)}`))
    return E.right(t)
  }
  const hosts = new Map<string, HostQuantized>()
  for (const [name, rows, cols] of layout.matrices) {
    const s = storedShapes(format, rows, cols)
    const data = entry(name, format === 'int8' ? 'I8' : 'U8', s.data)
    if (E.isLeft(data)) return data
    const sc = entry(`${name}.scales`, 'F32', s.scales)
    if (E.isLeft(sc)) return sc
    const scales = toFloat32(sc.right)
    const bad = scales.findIndex((v) => !Number.isFinite(v))
    if (bad >= 0) return E.left(problem('quantized', `tensor '${name}.scales' has a non-finite scale at ${bad} (${scales[bad]})`))
    hosts.set(name, { format, rows, cols, bytes: format === 'int8' ? padded(data.right.bytes, rows, cols) : data.right.bytes, scales })
  }
  const vectors = new Map<string, Float32Array>()
  for (const [name, n] of layout.floats) {
    const t = entry(name, 'F32', [n])
    if (E.isLeft(t)) return t
    vectors.set(name, toFloat32(t.right))
  }
  const extra = [...file.tensors.keys()].filter((n) => !seen.has(n))
  if (extra.length > 0)
    return E.left(
      problem(
        'unexpected',
        `unexpected tensor${extra.length > 1 ? 's' : ''} ${extra
          .slice(0, 4)
          .map((n) => `'${n}'`)
          .join(', ')}${extra.length > 4 ? ` and ${extra.length - 4} more` : ''} (not part of a ${format} ${model} of this config)`,
      ),
    )
  return E.right({ format, matrix: (name) => uploadQuantized(hosts.get(name) as HostQuantized), vector: (name) => tf.tensor1d(vectors.get(name) as Float32Array) })
}

/** A quantized GPT-2 tree from a parsed file, checked strictly ({@link readQuantTensors}) against the config. */
export const quantGpt2FromSafetensors = (c: Gpt2Config, file: Safetensors, expected?: QuantFormat): E.Either<QuantFileProblem, QuantGpt2Params> => {
  const r = readQuantTensors('gpt2', layout(c), file, expected)
  if (E.isLeft(r)) return r
  const { format, matrix: m, vector: v } = r.right
  const lin = (name: string): QuantLinear => ({ weight: m(`${name}.weight`), bias: v(`${name}.bias`) })
  const h = Array.from(
    { length: c.n_layer },
    (_, i): QuantGpt2Block => ({
      ln_1: { weight: v(`h.${i}.ln_1.weight`), bias: v(`h.${i}.ln_1.bias`) },
      attn: { c_attn: lin(`h.${i}.attn.c_attn`), c_proj: lin(`h.${i}.attn.c_proj`) },
      ln_2: { weight: v(`h.${i}.ln_2.weight`), bias: v(`h.${i}.ln_2.bias`) },
      mlp: { c_fc: lin(`h.${i}.mlp.c_fc`), c_proj: lin(`h.${i}.mlp.c_proj`) },
    }),
  )
  return E.right({ format, wte: m('wte.weight'), wpe: m('wpe.weight'), h, ln_f: { weight: v('ln_f.weight'), bias: v('ln_f.bias') } })
}

/** The file's int8 [out, in] bytes with each row padded to the kernels' stride. */
const padded = (bytes: Uint8Array, rows: number, cols: number): Uint8Array => {
  const stride = int8Stride(cols)
  if (stride === cols) return bytes
  const out = new Uint8Array(rows * stride)
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * cols, (r + 1) * cols), r * stride)
  return out
}
