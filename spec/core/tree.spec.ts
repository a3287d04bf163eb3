import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { count, dispose, flatten, fromLeaves, leaves, map, reduce, shapes, unflattenLike, zipWith, type MapLeaves } from '../../src/core/tree.js'

beforeAll(async () => {
  await initBackend('cpu')
})

interface Params {
  readonly embedding: { readonly weight: tf.Tensor2D }
  readonly layers: readonly { readonly w: tf.Tensor2D; readonly b: tf.Tensor1D }[]
  readonly free: Readonly<Record<string, never>>
  readonly scale: tf.Scalar
}

const makeParams = (): Params => ({
  embedding: {
    weight: tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]),
  },
  layers: [
    {
      w: tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      b: tf.tensor1d([0.5, -0.5]),
    },
    {
      w: tf.tensor2d([
        [2, 0],
        [0, 2],
      ]),
      b: tf.tensor1d([1, 1]),
    },
  ],
  free: {},
  scale: tf.scalar(3),
})

const PATHS = ['embedding.weight', 'layers.0.w', 'layers.0.b', 'layers.1.w', 'layers.1.b', 'scale']

describe('map', () => {
  it('keeps the structure (and freezes it) and gives each leaf its path', () => {
    const p = makeParams()
    const seen: string[] = []
    const out = map(p, (t, path) => {
      seen.push(path)
      return t.size
    })
    expect(seen).toEqual(PATHS)
    expect(out).toEqual({
      embedding: { weight: 6 },
      layers: [
        { w: 4, b: 2 },
        { w: 4, b: 2 },
      ],
      free: {},
      scale: 1,
    })
    expect(Array.isArray(out.layers)).toBe(true)
    expect(Object.isFrozen(out)).toBe(true)
    expect(Object.isFrozen(out.layers)).toBe(true)
    expect(Object.isFrozen(out.layers[0])).toBe(true)
    dispose(p)
  })

  it('has the mapped TypeScript type', () => {
    const p = makeParams()
    const sizes = map(p, (t) => t.size)
    expectTypeOf(sizes).toEqualTypeOf<MapLeaves<Params, number>>()
    expectTypeOf(sizes.layers[0].w).toEqualTypeOf<number>()
    expectTypeOf(sizes.embedding).toEqualTypeOf<{ readonly weight: number }>()
    const same = map(p, (t) => t)
    expectTypeOf(same.layers[1].b).toEqualTypeOf<tf.Tensor>()
    dispose(p)
  })

  it('throws naming the path of a leaf that is not a tensor', () => {
    expect(() => map({ a: [tf.scalar(1), { b: 3 }] }, (t) => t)).toThrow("tree: leaf at 'a.1.b' is not a tensor (got number)")
    expect(() => map({ a: null }, (t) => t)).toThrow("leaf at 'a' is not a tensor (got null)")
    expect(() => map('x', (t) => t)).toThrow("leaf at '<root>' is not a tensor (got string)")
  })
})

describe('zipWith', () => {
  it('combines matching leaves', () => {
    const a = { x: tf.tensor1d([1, 2]), ys: [tf.scalar(10)] }
    const b = { x: tf.tensor1d([3, 4]), ys: [tf.scalar(5)] }
    const out = zipWith(a, b, (p, q, path) => ({ sum: Array.from(tf.add(p, q).dataSync()), path }))
    expect(out).toEqual({ x: { sum: [4, 6], path: 'x' }, ys: [{ sum: [15], path: 'ys.0' }] })
  })

  it('names the path the second tree lacks', () => {
    const a = { x: tf.scalar(1), inner: { y: tf.scalar(2) } }
    const b = { x: tf.scalar(1), inner: {} }
    expect(() => zipWith(a, b as never, (p) => p)).toThrow("tree.zipWith: second tree has no leaf at 'inner.y'")
  })

  it('names the path the first tree lacks', () => {
    const a = { x: tf.scalar(1) }
    const b = { x: tf.scalar(1), extra: [tf.scalar(2)] }
    expect(() => zipWith(a, b as never, (p) => p)).toThrow("tree.zipWith: first tree has no leaf at 'extra.0'")
  })
})

// Random nested trees: records (keys without dots) and arrays, leaves described by their shape.
type Spec = { readonly leaf: number[] } | { readonly arr: Spec[] } | { readonly rec: Record<string, Spec> }
const specArb: fc.Arbitrary<Spec> = fc.letrec<{ node: Spec }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ leaf: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }) }),
    fc.record({ arr: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ rec: fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,4}$/), tie('node'), { maxKeys: 3 }) }),
  ),
})).node

let counter = 0
const build = (s: Spec): unknown => {
  if ('leaf' in s) {
    const n = s.leaf.reduce((a, b) => a * b, 1)
    return tf.tensor(
      Array.from({ length: n }, () => counter++),
      s.leaf,
    )
  }
  if ('arr' in s) return s.arr.map(build)
  return Object.fromEntries(Object.entries(s.rec).map(([k, v]) => [k, build(v)]))
}

/** The tree with every leaf replaced by its shape and values: a plain value to compare with toEqual. */
const skeleton = (tree: unknown) => map(tree, (t) => ({ shape: t.shape, values: Array.from(t.dataSync()) }))

describe('flatten / unflattenLike', () => {
  test.prop([specArb], { numRuns: 60 })('round-trip any nested tree', (spec) => {
    const tree = build(spec)
    const flat = flatten(tree)
    expect([...flat.keys()].every((p) => p !== '' || flat.size === 1)).toBe(true)
    // Copies of the leaves, as read back from a file.
    const copies = new Map([...flat].map(([p, t]) => [p, tf.tensor(t.dataSync(), t.shape)] as const))
    const { tree: back, problems } = unflattenLike(tree, copies)
    expect(problems).toEqual([])
    expect(skeleton(back)).toEqual(skeleton(tree))
    // flatten's paths are unique and follow leaves()'s order; fromLeaves inverts leaves().
    expect(new Set(flat.keys()).size).toBe(flat.size)
    expect(skeleton(fromLeaves(tree, leaves(tree)))).toEqual(skeleton(tree))
    expect(count(tree)).toBe(leaves(tree).reduce((n, t) => n + t.size, 0))
    dispose(tree)
    dispose(back)
  })

  it('lists missing, unexpected and wrong-shaped tensors', () => {
    const like = { a: tf.zeros([2, 3]), b: [tf.zeros([4]), tf.zeros([1])] }
    const flat = new Map<string, tf.Tensor>([
      ['a', tf.zeros([3, 2])],
      ['b.0', tf.zeros([4])],
      ['c', tf.zeros([5])],
    ])
    const { problems, tree } = unflattenLike(like, flat)
    expect(problems).toEqual(["tensor 'a' has shape [3, 2], expected [2, 3]", "missing tensor 'b.1' (expected shape [1])", "unexpected tensor 'c'"])
    expect(tree.b[0]).toBe(flat.get('b.0'))
  })

  it('flattens the example tree to dotted paths in insertion order, skipping empty records', () => {
    const p = makeParams()
    expect([...flatten(p).keys()]).toEqual(PATHS)
    expect(shapes(p)).toEqual({
      'embedding.weight': [3, 2],
      'layers.0.w': [2, 2],
      'layers.0.b': [2],
      'layers.1.w': [2, 2],
      'layers.1.b': [2],
      scale: [],
    })
    expect(reduce<string[]>(p, (acc, _t, path) => [...acc, path], [])).toEqual(PATHS)
    dispose(p)
  })

  it('fromLeaves rejects the wrong number of leaves', () => {
    const p = { a: tf.scalar(1), b: tf.scalar(2) }
    expect(() => fromLeaves(p, [tf.scalar(1), tf.scalar(2), tf.scalar(3)])).toThrow('tree.fromLeaves: expected 2 leaves, got 3')
  })
})

describe('count and dispose', () => {
  it('counts scalar parameters', () => {
    const p = makeParams()
    expect(count(p)).toBe(6 + 2 * (4 + 2) + 1)
    expect(count({})).toBe(0)
    dispose(p)
  })

  it('disposes every leaf and nothing else', () => {
    const other = tf.scalar(7)
    const before = tf.memory().numTensors
    const p = makeParams()
    expect(tf.memory().numTensors).toBe(before + PATHS.length)
    dispose(p)
    expect(tf.memory().numTensors).toBe(before)
    expect(leaves(p).every((t) => t.isDisposed)).toBe(true)
    expect(other.isDisposed).toBe(false)
    other.dispose()
  })
})
