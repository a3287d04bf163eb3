import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { foldIn, key, split, type Key } from '../../src/core/key.js'
import { at, bind, compose, EVAL, mapOutput, named, repeat, replicate, residual, segmentId, sequential, stateless, training, type Ctx, type Layer } from '../../src/core/layer.js'
import { dispose, flatten, shapes, shapesOf } from '../../src/core/tree.js'
import { gelu } from '../../src/nn/activation.js'
import { dropout } from '../../src/nn/dropout.js'
import { feedForward } from '../../src/nn/feedforward.js'
import { linear } from '../../src/nn/linear.js'
import { miniGpt } from '../../src/models/minigpt/model.js'
import { SEED_CONFIG } from '../../src/models/minigpt/config.js'

beforeAll(async () => {
  await initBackend('cpu')
})

const values = (t: tf.Tensor) => Array.from(t.dataSync())
const hostTree = (tree: unknown) => Object.fromEntries([...flatten<tf.Tensor>(tree)].map(([p, t]) => [p, values(t)]))

/** A parameter-free layer that records the key (and the path, in `paths`) of every context it is called with. */
const spy = (seen: (Key | undefined)[], paths: (string | undefined)[] = []): Layer<Readonly<Record<string, never>>, tf.Tensor, tf.Tensor> =>
  stateless('spy', (x: tf.Tensor, ctx: Ctx) => {
    seen.push(ctx.key)
    paths.push(ctx.path)
    return x
  })

/** A layer with one scalar parameter drawn from its key (the key's first word, scaled), adding it. */
const addKeyed: Layer<{ readonly c: tf.Scalar }, tf.Tensor, tf.Tensor> = {
  name: 'addKeyed',
  init: (k) => ({ c: tf.scalar(k[0] / 2 ** 32) }),
  apply: (p, x) => tf.add(x, p.c),
}

describe('contexts', () => {
  it('EVAL has no key and is not training; training(key) is', () => {
    expect(EVAL).toEqual({ training: false })
    expect(training(key(3))).toEqual({ training: true, key: key(3) })
    expect(Object.isFrozen(EVAL) && Object.isFrozen(training(key(3)))).toBe(true)
  })

  test.prop([fc.integer({ min: 0, max: 2 ** 40 }), fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 8 })], { numRuns: 30 })(
    'at gives distinct keys for distinct indices, each foldIn(key, i), and the index as the path',
    (seed, indices) => {
      const ctx = training(key(seed))
      const keys = indices.map((i) => at(ctx, i).key!)
      expect(new Set(keys.map((k) => k.join())).size).toBe(indices.length)
      indices.forEach((i, j) => expect(keys[j]).toEqual(foldIn(key(seed), i)))
      expect(indices.every((i) => at(ctx, i).training)).toBe(true)
      expect(indices.map((i) => at(ctx, i).path)).toEqual(indices.map(String))
    },
  )

  it('folds a name with its 32-bit FNV-1a hash (the published test vectors), an index string as its number', () => {
    expect(segmentId('')).toBe(0x811c9dc5)
    expect(segmentId('a')).toBe(0xe40c292c)
    expect(segmentId('foobar')).toBe(0xbf9cf968)
    expect(segmentId('12')).toBe(12)
    expect(segmentId('012')).not.toBe(12) // not an index: a name
    expect(at(training(key(3)), 'ff').key).toEqual(foldIn(key(3), 0x6b22f66d)) // FNV-1a('ff'), computed in Python
  })

  it('a dotted path is its segments in turn: at(at(ctx, a), b) is at(ctx, "a.b"), the path joined', () => {
    const ctx = training(key(8))
    const two = at(at(at(ctx, 'layers'), 1), 'attn')
    expect(at(ctx, 'layers.1.attn')).toEqual(two)
    expect(two).toEqual({ training: true, key: foldIn(foldIn(foldIn(key(8), segmentId('layers')), 1), segmentId('attn')), path: 'layers.1.attn' })
  })

  it('at on a keyless context extends only the path', () => {
    expect(at(EVAL, 5)).toEqual({ training: false, path: '5' })
    expect(at(at(EVAL, 'h'), 2)).toEqual({ training: false, path: 'h.2' })
  })
})

describe('sequential', () => {
  it('numbers parameters like nn.Sequential, parameter-free slots included (net.0, net.3)', () => {
    const ff = feedForward(4, 8, 0.1)
    const p = ff.init(key(0))
    expect(shapes(p)).toEqual({ 'net.0.weight': [4, 8], 'net.0.bias': [8], 'net.3.weight': [8, 4], 'net.3.bias': [4] })
    expect(p.net.length).toBe(5)
    expect([p.net[1], p.net[2], p.net[4]]).toEqual([{}, {}, {}])
    dispose(p)
  })

  it('applies the layers in order and gives sub-layer i the context at i (its key folded with i)', () => {
    const seen: (Key | undefined)[] = []
    const paths: (string | undefined)[] = []
    const net = sequential(
      spy(seen, paths),
      stateless('double', (x: tf.Tensor) => tf.mul(x, 2)),
      stateless('inc', (x: tf.Tensor) => tf.add(x, 1)),
      spy(seen, paths),
    )
    const p = net.init(key(1))
    expect(values(net.apply(p, tf.tensor1d([1, 2]), training(key(9))))).toEqual([3, 5]) // (x·2)+1, not (x+1)·2
    expect(seen).toEqual([foldIn(key(9), 0), foldIn(key(9), 3)])
    expect(paths).toEqual(['0', '3'])
  })

  it('initialises slot i from split(key, n)[i]', () => {
    const net = sequential(addKeyed, gelu(), addKeyed)
    const p = net.init(key(5))
    const ks = split(key(5), 3)
    expect(values(p[0].c)).toEqual(values(addKeyed.init(ks[0]).c))
    expect(values(p[2].c)).toEqual(values(addKeyed.init(ks[2]).c))
    expect(values(p[0].c)).not.toEqual(values(p[2].c))
  })
})

describe('repeat and replicate', () => {
  it('repeat: separate parameters from split keys, applied in order, copy i at i', () => {
    const seen: (Key | undefined)[] = []
    const paths: (string | undefined)[] = []
    const block = compose({ add: addKeyed, s: spy(seen, paths) }, ({ add, s }, x: tf.Tensor) => s(add(x)))
    const r = repeat(3, block)
    const p = r.init(key(11))
    expect(Object.keys(shapes(p))).toEqual(['0.add.c', '1.add.c', '2.add.c'])
    const ks = split(key(11), 3)
    p.forEach((pi, i) => expect(hostTree(pi)).toEqual(hostTree(block.init(ks[i]))))
    const cs = p.map((pi) => values(pi.add.c)[0])
    expect(new Set(cs).size).toBe(3)
    const y = values(r.apply(p, tf.scalar(1), training(key(4))))[0]
    expect(y).toBeCloseTo(1 + cs[0] + cs[1] + cs[2], 5)
    expect(seen).toEqual([0, 1, 2].map((i) => foldIn(foldIn(key(4), i), segmentId('s'))))
    expect(paths).toEqual(['0.s', '1.s', '2.s'])
  })

  it('repeat(0) is the identity with no parameters; a negative count is an error', () => {
    const r = repeat(0, addKeyed)
    expect(r.init(key(0))).toEqual([])
    expect(values(r.apply([], tf.tensor1d([1, 2]), EVAL))).toEqual([1, 2])
    expect(() => repeat(-1, addKeyed)).toThrow('repeat(addKeyed): n must be a non-negative integer, got -1')
    expect(() => repeat(1.5, addKeyed)).toThrow(RangeError)
  })

  it('replicate: one input per copy, each with its own parameters and its context at i', () => {
    const seen: (Key | undefined)[] = []
    const block = named(
      'block',
      compose({ add: addKeyed, s: spy(seen) }, ({ add, s }, x: tf.Tensor) => s(add(x))),
    )
    const r = replicate(2, block)
    const p = r.init(key(12))
    const ks = split(key(12), 2)
    p.forEach((pi, i) => expect(hostTree(pi)).toEqual(hostTree(block.init(ks[i]))))
    const out = r.apply(p, [tf.scalar(10), tf.scalar(20)], training(key(8)))
    expect(values(out[0])[0]).toBeCloseTo(10 + values(p[0].add.c)[0], 5)
    expect(values(out[1])[0]).toBeCloseTo(20 + values(p[1].add.c)[0], 5)
    expect(seen).toEqual([foldIn(foldIn(key(8), 0), segmentId('s')), foldIn(foldIn(key(8), 1), segmentId('s'))])
    expect(() => r.apply(p, [tf.scalar(1)], EVAL)).toThrow('replicate(block): expected 2 inputs, got 1')
    expect(() => r.apply(p, [tf.scalar(1)], at(EVAL, 'blocks'))).toThrow('blocks: expected 2 inputs, got 1')
  })
})

describe('compose', () => {
  it('initialises sub-layers from split keys in the record’s key order', () => {
    const c1 = compose({ a: addKeyed, b: addKeyed }, (_l, x: tf.Tensor) => x)
    const c2 = compose({ b: addKeyed, a: addKeyed }, (_l, x: tf.Tensor) => x)
    const [k0, k1] = split(key(21))
    const p1 = c1.init(key(21))
    const p2 = c2.init(key(21))
    expect(Object.keys(p1)).toEqual(['a', 'b'])
    expect(Object.keys(p2)).toEqual(['b', 'a'])
    expect(values(p1.a.c)).toEqual(values(addKeyed.init(k0).c))
    expect(values(p1.b.c)).toEqual(values(addKeyed.init(k1).c))
    // The first key goes to whichever sub-layer comes first.
    expect(values(p2.b.c)).toEqual(values(addKeyed.init(k0).c))
    expect([...flatten(p1).keys()]).toEqual(['a.c', 'b.c'])
  })

  it('runs the body over the sub-layers', () => {
    const c = compose({ a: addKeyed, b: addKeyed }, ({ a, b }, x: tf.Tensor) => tf.add(a(x), b(x)))
    const p = c.init(key(2))
    const expected = 2 * 5 + values(p.a.c)[0] + values(p.b.c)[0]
    expect(values(c.apply(p, tf.scalar(5), EVAL))[0]).toBeCloseTo(expected, 5)
  })
})

describe('bound sub-layers, streams, typed sequential', () => {
  it('a compose body gets its sub-layers bound to their parameters: calling one is applying it', () => {
    const lin = linear(3, 2)
    const c = compose({ lin }, ({ lin }, x: tf.Tensor2D) => lin(x))
    const p = c.init(key(4))
    const x = tf.tensor2d([[1, 2, 3]])
    expect(values(c.apply(p, x, EVAL))).toEqual(values(lin.apply(p.lin, x, EVAL)))
    expect(values(bind(lin, p.lin, EVAL)(x))).toEqual(values(lin.apply(p.lin, x, EVAL)))
  })

  it('a bound sub-layer runs under the context at its name; its second call at name#1, its third at name#2', () => {
    const seen: (Key | undefined)[] = []
    const paths: (string | undefined)[] = []
    const c = compose({ a: spy(seen, paths), b: spy(seen, paths) }, ({ a, b }, x: tf.Tensor) => a(b(a(a(x)))))
    c.apply(c.init(key(0)), tf.scalar(1), at(training(key(9)), 'blk'))
    const k = foldIn(key(9), segmentId('blk'))
    expect(seen).toEqual([foldIn(k, segmentId('a')), foldIn(k, segmentId('a#1')), foldIn(k, segmentId('b')), foldIn(k, segmentId('a#2'))])
    expect(paths).toEqual(['blk.a', 'blk.a#1', 'blk.b', 'blk.a#2'])
    // A new run of the body counts from 0 again: the same keys.
    const again: (Key | undefined)[] = []
    const c2 = compose({ a: spy(again), b: spy(again) }, ({ a, b }, x: tf.Tensor) => a(b(a(a(x)))))
    c2.apply(c2.init(key(0)), tf.scalar(1), at(training(key(9)), 'blk'))
    c2.apply(c2.init(key(0)), tf.scalar(1), at(training(key(9)), 'blk'))
    expect(again).toEqual([...seen, ...seen])
  })

  it('errors name the path where the combinators bound the layer', () => {
    const model = compose({ net: sequential(linear(4, 3), gelu(), linear(3, 2)) }, ({ net }, x: tf.Tensor2D) => net(x))
    const p = model.init(key(1))
    const wrong = { net: [p.net[0], p.net[1], linear(5, 2).init(key(2))] as const }
    expect(() => model.apply(wrong, tf.ones([2, 4]), EVAL)).toThrow('net.2: input must have shape [*, 5], got [2, 3]')
    expect(() => linear(4, 3).apply(p.net[0], tf.ones([2, 5]), EVAL)).toThrow('linear: input must have shape [*, 4], got [2, 5]')
  })

  it('sequential types its parameters slot by slot and keeps the rank of rank-preserving layers', () => {
    const net = sequential(linear(4, 3), gelu(), dropout(0.5), linear(3, 2))
    const p = net.init(key(2))
    const y: tf.Tensor3D = net.apply(p, tf.ones([2, 5, 4]), EVAL) // rank kept in the type: no cast
    expect(y.shape).toEqual([2, 5, 2])
    expect(p[0].weight.shape).toEqual([4, 3])
    expect(p[3].bias.shape).toEqual([2])
    expect(p[1]).toEqual({})
  })

  it('shapesOf gives init’s tree with shape-only leaves, allocating and drawing nothing', () => {
    const ff = feedForward(4, 8, 0.1)
    const before = tf.memory().numTensors
    const s = shapesOf(ff)
    expect(tf.memory().numTensors).toBe(before)
    const p = ff.init(key(0))
    expect(shapes(s)).toEqual(shapes(p))
    expect(() => s.net[0].weight.dataSync()).toThrow()
    dispose(p)
  })
})

describe('residual, named, mapOutput, stateless', () => {
  it('residual computes x + f(x) with the layer’s own parameters', () => {
    const lin = linear(2, 2)
    const r = residual(lin, (a: tf.Tensor, b: tf.Tensor) => tf.add(a, b))
    const p = r.init(key(3))
    expect(hostTree(p)).toEqual(hostTree(lin.init(key(3))))
    const x = tf.tensor2d([[1, -2]])
    const fx = values(lin.apply(p, x, EVAL))
    const y = values(r.apply(p, x, EVAL))
    expect(y[0]).toBeCloseTo(1 + fx[0], 5)
    expect(y[1]).toBeCloseTo(-2 + fx[1], 5)
    expect(r.name).toBe('residual(linear)')
  })

  it('named renames only; mapOutput post-composes', () => {
    const n = named('renamed', addKeyed)
    expect(n.name).toBe('renamed')
    expect(n.init).toBe(addKeyed.init)
    const m = mapOutput(addKeyed, (t: tf.Tensor) => values(t))
    const p = m.init(key(1))
    expect(m.apply(p, tf.tensor1d([0, 1]), EVAL)[1]).toBeCloseTo(1 + values(p.c)[0], 5)
  })

  it('a stateless layer has no parameters to flatten', () => {
    const g = gelu()
    expect(flatten(g.init(key(0))).size).toBe(0)
    expect(g.name).toBe('gelu(erf)')
  })
})

describe('dropout keys through the combinators', () => {
  it('two dropout slots of a sequential draw different masks; the same key repeats them', () => {
    const x = tf.ones([1, 200])
    const twice = sequential(
      dropout(0.5),
      stateless('mark', (h: tf.Tensor) => tf.add(h, 0)),
      dropout(0.5),
    )
    const once = dropout(0.5)
    const p = twice.init(key(0))
    // Sequential slot 0 sees at(ctx, 0), slot 2 sees at(ctx, 2): compute each mask alone.
    const m0 = values(once.apply({}, x, at(training(key(6)), 0)))
    const m2 = values(once.apply({}, x, at(training(key(6)), 2)))
    expect(m0).not.toEqual(m2)
    const y = values(twice.apply(p, x, training(key(6))))
    expect(y).toEqual(m0.map((a, i) => a * m2[i]))
    expect(values(twice.apply(p, x, training(key(6))))).toEqual(y)
    expect(values(twice.apply(p, x, training(key(7))))).not.toEqual(y)
    expect(values(twice.apply(p, x, EVAL))).toEqual(values(x))
  })
})

describe('initialisation is a function of the key', () => {
  it('same key, same parameters; different key, different parameters (Mini-GPT)', () => {
    const model = miniGpt({ ...SEED_CONFIG(11), embed_dim: 8, num_heads: 2, ff_dim: 16, num_layers: 2, max_len: 6 })
    const a = hostTree(model.init(key(42)))
    const b = hostTree(model.init(key(42)))
    const c = hostTree(model.init(key(43)))
    expect(a).toEqual(b)
    for (const path of Object.keys(a)) {
      if (/norm\d?\.(weight|bias)$/.test(path)) continue // LayerNorm starts at ones and zeros whatever the key
      expect(c[path], path).not.toEqual(a[path])
    }
    // Separate copies of the block get separate parameters.
    expect(a['layers.0.attn.W_q.weight']).not.toEqual(a['layers.1.attn.W_q.weight'])
  })
})
