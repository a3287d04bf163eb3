/**
 * Quantized weights as a safetensors file (what `minigpt gpt2 quantize` and
 * `io.saveQuantMiniGpt` write), layout version 1, for any model: the tensors are the leaves of
 * the model's quantized tree by path (`wte.weight`, `h.0.attn.c_attn.weight`,
 * `layers.0.ff.net.3.bias` …), read strictly: every problem is one message naming the tensor
 * or the metadata key.
 *
 *   __metadata__   "minigpt_fp.quant": "1"         the layout's version
 *                  "quant.format": "int8" | "q4"
 *                  "quant.group_size": "row" (int8: one scale per output channel) | "32" (q4)
 *                  "quant.scale_dtype": "F32"
 *                  "model": "gpt2" | "minigpt"
 *   NAME           every matrix, one row per output channel: an embedding table as it is
 *                  ([vocab, dim]), a linear (Conv1D) weight transposed to [out, in]
 *                  (GPT-2's h.N.attn.c_attn.weight is [3·n_embd, n_embd]);
 *                  int8: I8 [out, in], w = q · scale;
 *                  q4: U8 [out, ⌈in/32⌉·16], GGML q4_0 blocks (byte j of a block: weight j in
 *                  the low nibble, weight j + 16 in the high one), w = (q − 8) · d
 *   NAME.scales    F32: int8 [out]; q4 [out, ⌈in/32⌉] (the d of each block)
 *   the rest       LayerNorm weights and biases, linear biases: F32 as in a float checkpoint
 *
 * Which leaves are matrices, and how each is read, comes from the model's shape-only tree
 * (`shapesOf`, the roles its layers declare: src/quant/tree.ts). Readers look tensors up by
 * name; their order in the file is not part of the layout. A GPT-2 file is not a Hugging Face
 * checkpoint (transformers cannot read it); config.json and the tokenizer files beside it are.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { flatten } from '../core/tree.js'
import { downloadQuantized, isQuantized, uploadQuantized, type QuantizedMatrix } from '../quant/matrix.js'
import { Q4_GROUP, int8Stride, q4Groups, type HostQuantized, type QuantFormat } from '../quant/quantize.js'
import { assembleQuantized, leavesByPath, quantizedFormat, storedDims, type Quantized } from '../quant/tree.js'
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

/** int8 rows without their padding (the file's [out, in]). */
const unpadded = (h: HostQuantized): Uint8Array => {
  const stride = int8Stride(h.cols)
  if (stride === h.cols) return h.bytes
  const out = new Uint8Array(h.rows * h.cols)
  for (let r = 0; r < h.rows; r++) out.set(h.bytes.subarray(r * stride, r * stride + h.cols), r * h.cols)
  return out
}

/** A quantized model's tensors in file order: its matrices (name, output rows, input columns) and float tensors (name, shape). */
export interface QuantFileLayout {
  readonly matrices: readonly (readonly [string, number, number])[]
  readonly floats: readonly (readonly [string, readonly number[]])[]
}

/** The file layout of a model's quantized tree, from its shape-only tree (`shapesOf(model)`): every leaf in the tree's order. */
export const quantFileLayout = (shapes: unknown): QuantFileLayout => {
  const matrices: [string, number, number][] = []
  const floats: [string, readonly number[]][] = []
  for (const [path, ref] of flatten(shapes)) {
    const m = storedDims(ref, path)
    if (m === undefined) floats.push([path, ref.shape])
    else matrices.push([path, m.rows, m.cols])
  }
  return { matrices, floats }
}

/**
 * The bytes of a quantized file (layout version 1, above) of the model whose shape-only tree is
 * `shapes`: `model` goes into `__metadata__`; `q` is the model's quantized tree.
 */
export const quantSafetensors = <P>(model: string, shapes: P, q: Quantized<P>): Uint8Array => {
  const format = quantizedFormat(q)
  const layout = quantFileLayout(shapes)
  const leaves = leavesByPath(q)
  const leaf = (name: string) => {
    const x = leaves.get(name)
    if (x === undefined) throw new TypeError(`quantSafetensors: the quantized tree has no leaf at '${name}'`)
    return x
  }
  const matrix = (name: string): QuantizedMatrix => {
    const x = leaf(name)
    if (!isQuantized(x)) throw new TypeError(`quantSafetensors: '${name}' is not quantized`)
    return x
  }
  const float = (name: string): tf.Tensor => {
    const x = leaf(name)
    if (isQuantized(x)) throw new TypeError(`quantSafetensors: '${name}' is quantized, expected float32`)
    return x
  }
  const tensors: TensorInput[] = []
  const hosts = layout.matrices.map(([name]) => downloadQuantized(matrix(name)))
  // F32 first, then the bytes: every tensor stays aligned for zero-copy reads.
  layout.matrices.forEach(([name, rows, cols], i) => tensors.push({ name: `${name}.scales`, dtype: 'F32', shape: storedShapes(format, rows, cols).scales, data: hosts[i].scales }))
  for (const [name, shape] of layout.floats) tensors.push({ name, dtype: 'F32', shape, data: float(name).dataSync() as Float32Array })
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
 * finite scales, and no tensor left over. `matrix` and `float` upload one tensor each (the
 * caller owns them).
 */
export const readQuantTensors = (
  model: string,
  layout: QuantFileLayout,
  file: Safetensors,
  expected?: QuantFormat,
): E.Either<QuantFileProblem, { readonly format: QuantFormat; readonly matrix: (name: string) => QuantizedMatrix; readonly float: (name: string) => tf.Tensor }> => {
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
  for (const [name, shape] of layout.floats) {
    const t = entry(name, 'F32', shape)
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
  const shapes = new Map(layout.floats)
  return E.right({
    format,
    matrix: (name) => uploadQuantized(hosts.get(name) as HostQuantized),
    float: (name) => tf.tensor(vectors.get(name) as Float32Array, shapes.get(name)?.slice(), 'float32'),
  })
}

/**
 * The quantized tree of the model whose shape-only tree is `shapes`, from a parsed file
 * checked strictly ({@link readQuantTensors}) against it. The tree belongs to the caller.
 */
export const quantizedFromSafetensors = <P>(model: string, shapes: P, file: Safetensors, expected?: QuantFormat): E.Either<QuantFileProblem, Quantized<P>> =>
  pipe(
    readQuantTensors(model, quantFileLayout(shapes), file, expected),
    E.map(({ matrix, float }) => assembleQuantized(shapes, (path, ref) => (storedDims(ref, path) === undefined ? float(path) : matrix(path)))),
  )

/** The file's int8 [out, in] bytes with each row padded to the kernels' stride. */
const padded = (bytes: Uint8Array, rows: number, cols: number): Uint8Array => {
  const stride = int8Stride(cols)
  if (stride === cols) return bytes
  const out = new Uint8Array(rows * stride)
  for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * cols, (r + 1) * cols), r * stride)
  return out
}
