/**
 * Typed parameter trees: readonly records and arrays whose leaves are tensors.
 *
 * A model's parameters are a plain tree (`{ embedding: { weight: Tensor2D }, layers: [...] }`)
 * whose TypeScript type says what is in it. Everything that treats parameters as a whole —
 * optimizers, gradient clipping, checkpoints, counting, disposal — goes through the few
 * functions here, so they work for every model without knowing its shape.
 *
 * A tree's flattened dotted paths (`layers.0.attn.W_q.weight`) are its checkpoint keys.
 */
import * as tf from '@tensorflow/tfjs-core'
import { key, type Key } from './key.js'
import { dataFreeTensor } from './tfjs-internals.js'

/** A tree whose leaves have type L: a leaf, a readonly array of trees or a readonly record of trees. */
export type Tree<L = tf.Tensor> = L | readonly Tree<L>[] | { readonly [k: string]: Tree<L> }

/** The same shape as tree T with every tensor leaf replaced by a leaf of type L. */
export type MapLeaves<T, L> = T extends tf.Tensor
  ? L
  : T extends readonly unknown[]
    ? { readonly [I in keyof T]: MapLeaves<T[I], L> }
    : T extends object
      ? { readonly [K in keyof T]: MapLeaves<T[K], L> }
      : T

/** A tree's leaves keyed by dotted path, in a stable (insertion) order. */
export type Flat<L = tf.Tensor> = ReadonlyMap<string, L>

const isLeaf = (x: unknown): x is tf.Tensor => x instanceof tf.Tensor

/** Applies `f` to every tensor leaf, keeping the tree's shape (and its TypeScript type). */
export const map = <T, L>(tree: T, f: (leaf: tf.Tensor, path: string) => L): MapLeaves<T, L> => mapAt(tree, f, '') as MapLeaves<T, L>

const mapAt = (node: unknown, f: (leaf: tf.Tensor, path: string) => unknown, path: string): unknown => {
  if (isLeaf(node)) return f(node, path)
  if (Array.isArray(node)) return Object.freeze(node.map((c, i) => mapAt(c, f, join(path, String(i)))))
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) out[k] = mapAt(v, f, join(path, k))
    return Object.freeze(out)
  }
  throw new TypeError(`tree: leaf at '${path || '<root>'}' is not a tensor (got ${describe(node)})`)
}

const join = (a: string, b: string) => (a === '' ? b : `${a}.${b}`)
const describe = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x)

/**
 * Applies `f` to matching leaves of two trees of the same structure (e.g. parameters and
 * gradients). Throws, naming the path, if the structures differ.
 */
export const zipWith = <T, L>(a: T, b: MapLeaves<T, tf.Tensor> | T, f: (x: tf.Tensor, y: tf.Tensor, path: string) => L): MapLeaves<T, L> => {
  const fb = flatten(b as Tree)
  const seen = new Set<string>()
  const out = map(a, (x, path) => {
    const y = fb.get(path)
    if (y === undefined) throw new TypeError(`tree.zipWith: second tree has no leaf at '${path}'`)
    seen.add(path)
    return f(x, y, path)
  })
  for (const p of fb.keys()) if (!seen.has(p)) throw new TypeError(`tree.zipWith: first tree has no leaf at '${p}'`)
  return out
}

/** Leaves in path order, with their dotted paths. */
export const flatten = <L = tf.Tensor>(tree: Tree<L> | unknown): Flat<L> => {
  const out = new Map<string, L>()
  map(tree, (leaf, path) => {
    out.set(path, leaf as unknown as L)
    return leaf
  })
  return out
}

/** The leaves in the same order as {@link flatten}. */
export const leaves = (tree: unknown): tf.Tensor[] => [...flatten<tf.Tensor>(tree).values()]

/**
 * Rebuilds a tree of the same structure as `like` from dotted-path leaves: the inverse of
 * {@link flatten}. Every path of `like` must be present; extra paths are an error too, so a
 * checkpoint that does not match its model is caught here. Returns the list of problems
 * (missing, unexpected, wrong shape) instead of throwing, for messages at file boundaries.
 */
export const unflattenLike = <T>(like: T, flat: ReadonlyMap<string, tf.Tensor>): { readonly tree: T; readonly problems: readonly string[] } => {
  const problems: string[] = []
  const used = new Set<string>()
  const tree = map(like, (ref, path) => {
    const t = flat.get(path)
    if (t === undefined) {
      problems.push(`missing tensor '${path}' (expected shape [${ref.shape.join(', ')}])`)
      return ref
    }
    used.add(path)
    if (!sameShape(t.shape, ref.shape)) {
      problems.push(`tensor '${path}' has shape [${t.shape.join(', ')}], expected [${ref.shape.join(', ')}]`)
    }
    return t
  }) as unknown as T
  for (const p of flat.keys()) if (!used.has(p)) problems.push(`unexpected tensor '${p}'`)
  return { tree, problems }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])

/** Folds over the leaves in path order. */
export const reduce = <A>(tree: unknown, f: (acc: A, leaf: tf.Tensor, path: string) => A, init: A): A => {
  let acc = init
  for (const [p, l] of flatten<tf.Tensor>(tree)) acc = f(acc, l, p)
  return acc
}

/** The number of scalar parameters in a tree. */
export const count = (tree: unknown): number => reduce<number>(tree, (n, l) => n + l.size, 0)

/** Disposes every tensor in the tree (the owner of a tree calls this when it is done with it). */
export const dispose = (tree: unknown): void => {
  for (const l of leaves(tree)) l.dispose()
}

/** Shapes of the leaves by path: a cheap structural summary for messages and tests. */
export const shapes = (tree: unknown): Record<string, readonly number[]> => Object.fromEntries([...flatten<tf.Tensor>(tree)].map(([p, t]) => [p, t.shape]))

/** Rebuilds a tree shaped like `like` from leaves in {@link flatten} order (the inverse of {@link leaves}). */
export const fromLeaves = <T>(like: T, xs: readonly tf.Tensor[]): T => {
  let i = 0
  const out = map(like, () => xs[i++]) as unknown as T
  if (i !== xs.length) throw new TypeError(`tree.fromLeaves: expected ${i} leaves, got ${xs.length}`)
  return out
}

/**
 * A shape-only stand-in for a float32 tensor (what `jax.ShapeDtypeStruct` is to JAX): a
 * `tf.Tensor` object with a shape and no data, never registered with the engine. Trees of
 * them describe a model's parameters without allocating them — to count parameters, or to
 * check a checkpoint's shapes with {@link unflattenLike} before any tensor is made. Reading
 * one is an error; disposing one does nothing.
 */
export const shapeOnly = (shape: readonly number[]): tf.Tensor => dataFreeTensor(shape)

// Set while shapesOf runs a layer's init: param then makes shape-only leaves and draws nothing.
let shapeOnlyInit = false

/**
 * How a layer reads a matrix parameter, declared where the parameter is made
 * (`param(shape, values, role)`): `'dense'`, a weight [in, out] that multiplies the input
 * (x·W, a linear layer); `'table'`, a table [rows, dim] whose rows are looked up (an
 * embedding — and a head tied to it multiplies by its transpose). It is what a quantizer needs
 * to know to store the matrix in another form (src/quant): a model's roles are read from its
 * shape-only tree ({@link shapesOf}, {@link roleOf}), not written down a second time.
 */
export type MatrixRole = 'dense' | 'table'

// The roles of the shape-only leaves made by param under shapesOf.
const roles = new WeakMap<tf.Tensor, MatrixRole>()

/**
 * A float32 parameter leaf of `shape` with the values `values()` — or, while {@link shapesOf}
 * runs, a {@link shapeOnly} stand-in, without calling `values` (no draws, no allocation), which
 * remembers the matrix's `role`. The primitive layers' `init` make their leaves with it, so
 * that every model's shapes, and how its matrices are read, come from its own `init`.
 */
export function param(shape: readonly [number], values: () => Float32Array): tf.Tensor1D
export function param(shape: readonly [number, number], values: () => Float32Array, role?: MatrixRole): tf.Tensor2D
export function param(shape: readonly number[], values: () => Float32Array, role?: MatrixRole): tf.Tensor {
  if (!shapeOnlyInit) return tf.tensor(values(), shape.slice(), 'float32')
  const leaf = shapeOnly(shape)
  if (role !== undefined) roles.set(leaf, role)
  return leaf
}

/** The role `param` declared for a leaf of a {@link shapesOf} tree; undefined for a leaf made without one, and for any other tensor. */
export const roleOf = (leaf: tf.Tensor): MatrixRole | undefined => roles.get(leaf)

/**
 * The parameter tree `layer.init` makes, with shape-only leaves (what `jax.eval_shape` gives
 * for an init): its structure, paths and shapes, computed without drawing or allocating.
 * Loaders validate a checkpoint against it, a quantizer reads its matrices' roles from it
 * ({@link roleOf}), and `count(shapesOf(layer))` counts a 1.5B model's parameters in microseconds.
 */
export const shapesOf = <P>(layer: { readonly init: (key: Key) => P }): P => {
  const outer = shapeOnlyInit
  shapeOnlyInit = true
  try {
    return layer.init(key(0))
  } finally {
    shapeOnlyInit = outer
  }
}
