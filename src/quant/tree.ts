/**
 * Quantizing a model's parameter tree, whatever the model: each matrix leaf is quantized as
 * its layer reads it, which the layer declared where it made the leaf (`param(shape, values,
 * role)`, src/core/tree.ts) and which the model's shape-only tree carries (`shapesOf`):
 *
 *   'dense'  a weight [in, out] (x·W): transposed and quantized a row per output channel
 *   'table'  an embedding table [rows, dim]: quantized by rows (which is also the stored form
 *            of its transpose, so a head tied to it multiplies by the same quantized matrix)
 *
 * Every other leaf (LayerNorms, biases) stays float32. The result has the model's own tree
 * type with its matrices quantized ({@link Quantized}), and the model runs it through the same
 * code as the float tree: the layers of nn/ read a matrix in either form.
 *
 * @example
 * const q = quant.quantize(shapesOf(miniGpt(config)), params, 'int8')   // Quantized<MiniGptParams>
 * const logits = miniGptLogits(config)(q, ids)                           // the model's own graph
 * quant.disposeQuantTree(q)
 */
import * as tf from '@tensorflow/tfjs-core'
import { map, roleOf, zipWith, type MatrixRole } from '../core/tree.js'
import { downloadQuantized, isQuantized, uploadQuantized, type QuantizedMatrix } from './matrix.js'
import { dequantizeRows, quantizeRows, transposeValues, type QuantFormat } from './quantize.js'

/** The tree T with every matrix leaf (`tf.Tensor2D`) quantized: what {@link quantize} makes of a model's parameters. */
export type Quantized<T> = T extends tf.Tensor2D
  ? QuantizedMatrix
  : T extends tf.Tensor
    ? T
    : T extends readonly unknown[]
      ? { readonly [I in keyof T]: Quantized<T[I]> }
      : T extends object
        ? { readonly [K in keyof T]: Quantized<T[K]> }
        : T

/** A leaf of a quantized tree: a quantized matrix, or a float tensor kept as it is. */
export type QuantLeaf = QuantizedMatrix | tf.Tensor

/** Where a leaf's float values come from, by path and shape (a checkpoint being read, a tree in memory…). */
export type FloatSource = (path: string, shape: readonly number[]) => Float32Array

/**
 * The stored matrix of a leaf of a shape-only tree: `rows` output channels (or table rows) of
 * `cols` values — or undefined for a leaf that stays float. A 2-D leaf whose layer declared no
 * role is an error: nothing says how it is read.
 */
export const storedDims = (ref: tf.Tensor, path: string): { readonly rows: number; readonly cols: number; readonly role: MatrixRole } | undefined => {
  const role = roleOf(ref)
  if (role === undefined) {
    if (ref.rank === 2) throw new TypeError(`quantize: '${path}' is a matrix whose layer declares no role (param(shape, values, 'dense' | 'table')): it cannot be quantized`)
    return undefined
  }
  const [a, b] = ref.shape
  return role === 'dense' ? { rows: b, cols: a, role } : { rows: a, cols: b, role }
}

/**
 * One leaf in its quantized tree's form, from its float values in the model's layout: a matrix
 * quantized by its role (a 'dense' weight [in, out] transposed first), any other leaf a float32
 * tensor. `ref` is the leaf of the model's shape-only tree at `path`.
 */
export const quantizeLeaf = (ref: tf.Tensor, path: string, format: QuantFormat, values: Float32Array): QuantLeaf => {
  if (values.length !== ref.size) throw new RangeError(`quantize: '${path}' has ${values.length} values, expected [${ref.shape.join(', ')}]`)
  const m = storedDims(ref, path)
  if (m === undefined) return tf.tensor(values, ref.shape, 'float32')
  return uploadQuantized(quantizeRows(format, m.role === 'dense' ? transposeValues(values, m.cols, m.rows) : values, m.rows, m.cols))
}

/** The tree shaped like `shapes` (a model's shape-only tree) whose leaf at each path is `leaf(path, ref)`. */
export const assembleQuantized = <P>(shapes: P, leaf: (path: string, ref: tf.Tensor) => QuantLeaf): Quantized<P> =>
  map(shapes, (ref, path) => leaf(path, ref)) as unknown as Quantized<P>

/**
 * Quantizes a model leaf by leaf from `source`, in the tree's order: at most one float leaf is
 * alive at once, so a model larger than its float32 size allows in memory can be quantized
 * while its checkpoint is read. `shapes` is the model's shape-only tree (`shapesOf(model)`).
 * The result belongs to the caller ({@link disposeQuantTree}).
 */
export const quantizeFrom = <P>(shapes: P, format: QuantFormat, source: FloatSource): Quantized<P> =>
  assembleQuantized(shapes, (path, ref) => quantizeLeaf(ref, path, format, source(path, ref.shape)))

/** Quantizes a float tree of the model whose shape-only tree is `shapes` (the float tree stays the caller's, untouched). */
export const quantize = <P>(shapes: P, params: P, format: QuantFormat): Quantized<P> =>
  zipWith(shapes, params, (ref, x, path) => quantizeLeaf(ref, path, format, x.dataSync() as Float32Array)) as unknown as Quantized<P>

/**
 * The float tree a quantized one stands for (every matrix dequantized, a 'dense' weight back
 * to [in, out]): what the quantized model computes, up to its activations' int16 rounding.
 * For tests and error analysis; it allocates the whole float model.
 */
export const dequantize = <P>(shapes: P, q: Quantized<P>): P => {
  const flat = leavesByPath(q)
  return map(shapes, (ref, path) => {
    const leaf = flat.get(path)
    if (leaf === undefined) throw new TypeError(`dequantize: the quantized tree has no leaf at '${path}'`)
    if (!isQuantized(leaf)) return tf.clone(leaf)
    const m = storedDims(ref, path)
    const values = dequantizeRows(downloadQuantized(leaf))
    return m?.role === 'dense' ? tf.tensor2d(transposeValues(values, leaf.rows, leaf.cols), [leaf.cols, leaf.rows]) : tf.tensor2d(values, [leaf.rows, leaf.cols])
  }) as unknown as P
}

/** A quantized tree's leaves by dotted path (its quantized matrices as leaves, not as records of tensors). */
export const leavesByPath = (tree: unknown): ReadonlyMap<string, QuantLeaf> => {
  const out = new Map<string, QuantLeaf>()
  const walk = (node: unknown, path: string): void => {
    if (node instanceof tf.Tensor || isQuantized(node)) out.set(path, node)
    else if (Array.isArray(node)) node.forEach((c, i) => walk(c, path === '' ? String(i) : `${path}.${i}`))
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, path === '' ? k : `${path}.${k}`)
    else throw new TypeError(`quantized tree: leaf at '${path || '<root>'}' is neither a tensor nor a quantized matrix`)
  }
  walk(tree, '')
  return out
}

/** The format of a quantized tree's matrices (one format for all of them), or an error if it has none or several. */
export const quantizedFormat = (tree: unknown): QuantFormat => {
  const formats = new Set([...leavesByPath(tree).values()].filter(isQuantized).map((m) => m.format))
  if (formats.size !== 1) throw new TypeError(`quantized tree: expected one format for its matrices, found ${formats.size === 0 ? 'none' : [...formats].join(' and ')}`)
  return [...formats][0]
}
