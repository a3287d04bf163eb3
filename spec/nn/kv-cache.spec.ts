/**
 * Key/value caches with room to grow, written in place (src/nn/kv-cache.ts): a cache is still a
 * value. A model-based test runs random programs over a pool of caches — start, extend (any
 * cache, any number of times: two children of one cache), select rows (beams, prefix sharing),
 * reserve room, release in any order — against plain arrays, on cpu (exact caches,
 * concatenation) and on wasm (buffers written in place, copy-on-write), checking every cache's
 * positions and attention over it (float64 on the host), and that nothing leaks — on wasm in
 * bfloat16 too (the plain arrays then hold each value rounded as it was written). Then the
 * discipline itself on wasm: which extensions write in place and which copy.
 */
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key, normal } from '../../src/core/key.js'
import { causalMask } from '../../src/mask/index.js'
import { roundBf16 } from '../helpers/bf16.js'
import { attendCached } from '../../src/nn/attention.js'
import {
  cacheCapacity,
  cacheContents,
  cacheFormat,
  cacheLength,
  extendCache,
  extendCacheFused,
  kvCache,
  reserveCache,
  selectCache,
  spareFor,
  type CacheFormat,
  type KVCache,
} from '../../src/nn/kv-cache.js'

const H = 2
// Heads of 8 features: the smallest a bfloat16 cache takes.
const D = 8

/** A cache as plain numbers: [row][head][position] → d values, keys and values. */
interface Plain {
  readonly k: number[][][][]
  readonly v: number[][][][]
}

const randn = (seed: number, shape: [number, number, number, number]) =>
  tf.tensor4d(
    normal(
      key(seed),
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  )

/** New keys and values as a cache of `format` holds them. */
const plainOf = (k: tf.Tensor4D, v: tf.Tensor4D, format: CacheFormat = 'float32'): Plain => {
  const kept = (t: tf.Tensor4D) => (format === 'bfloat16' ? t.arraySync().map((r) => r.map((h) => h.map((p) => Array.from(roundBf16(Float32Array.from(p)))))) : t.arraySync())
  return { k: kept(k), v: kept(v) }
}

const appended = (p: Plain | undefined, q: Plain): Plain =>
  p === undefined ? q : { k: p.k.map((r, i) => r.map((h, j) => [...h, ...q.k[i][j]])), v: p.v.map((r, i) => r.map((h, j) => [...h, ...q.v[i][j]])) }

/** softmax(q·Kᵀ/√d)·V in float64, q [B][H][Tq][d], causal when Tq > 1 (the queries are the last Tq positions). */
const attention64 = (q: number[][][][], p: Plain): number[][][][] =>
  q.map((rows, b) =>
    rows.map((qs, h) =>
      qs.map((qi, i) => {
        const keys = p.k[b][h]
        const n = keys.length - qs.length + i + 1
        const s = keys.slice(0, n).map((kt) => kt.reduce((a, x, f) => a + x * qi[f], 0) / Math.sqrt(D))
        const m = Math.max(...s)
        const e = s.map((x) => Math.exp(x - m))
        const z = e.reduce((a, x) => a + x, 0)
        return qi.map((_, f) => e.reduce((a, w, t) => a + w * p.v[b][h][t][f], 0) / z)
      }),
    ),
  )

interface Real {
  readonly pool: { cache: KVCache; plain: Plain }[]
  seed: number
  /** The format of the caches that Start makes (the others keep their parent's). */
  readonly format: CacheFormat
}

/** Index into the live pool (the command's number, wrapped). */
const pick = (r: Real, i: number) => i % r.pool.length

class Start implements fc.Command<object, Real> {
  constructor(
    readonly rows: number,
    readonly n: number,
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    const k = randn(r.seed++, [this.rows, H, this.n, D])
    const v = randn(r.seed++, [this.rows, H, this.n, D])
    const plain = plainOf(k, v, r.format)
    const first = extendCache(undefined, k, v)
    if (first.k !== k) tf.dispose([k, v]) // a copy into a buffer with room: the inputs are the caller's
    const cache = r.format === 'bfloat16' ? reserveCache(first, this.n, Number.POSITIVE_INFINITY, 'bfloat16') : first
    if (cache !== first) tf.dispose([first.k, first.v])
    expect(cacheFormat(cache)).toBe(r.format)
    r.pool.push({ cache, plain })
  }
  toString = () => `start(${this.rows} rows, ${this.n})`
}

class Extend implements fc.Command<object, Real> {
  constructor(
    readonly which: number,
    readonly n: number,
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const { cache, plain } = r.pool[pick(r, this.which)]
    const rows = cache.k.shape[0]
    const k = randn(r.seed++, [rows, H, this.n, D])
    const v = randn(r.seed++, [rows, H, this.n, D])
    const next = extendCache(cache, k, v)
    const added = plainOf(k, v, cacheFormat(cache))
    tf.dispose([k, v])
    expect(cacheLength(next)).toBe(cacheLength(cache) + this.n)
    expect(cacheFormat(next)).toBe(cacheFormat(cache))
    r.pool.push({ cache: next, plain: appended(plain, added) })
  }
  toString = () => `extend(#${this.which}, ${this.n})`
}

/**
 * Extends by a fused projection's output qkv [rows, n, 3·H·D] (q, k, v side by side), as GPT-2's
 * attention does at inference: in place from qkv (extendCacheFused) where it can be, else split
 * into heads and extended. Either way the queries are qkv's first part, split into heads.
 */
class ExtendFused implements fc.Command<object, Real> {
  constructor(
    readonly which: number,
    readonly n: number,
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const { cache, plain } = r.pool[pick(r, this.which)]
    const rows = cache.k.shape[0]
    const qkv = tf.tensor3d(normal(key(r.seed++), rows * this.n * 3 * H * D), [rows, this.n, 3 * H * D])
    // the three parts split into heads by tfjs ops: [rows, n, H·D] → [rows, H, n, D]
    const [q, k, v] = tf.tidy(() => tf.split(qkv, 3, -1).map((p) => tf.transpose(tf.reshape(p, [rows, this.n, H, D]), [0, 2, 1, 3]) as tf.Tensor4D))
    const fused = extendCacheFused(cache, qkv, H)
    const next = fused?.cache ?? extendCache(cache, k, v)
    // in place exactly when extendCache would have written in place (into the same buffer)
    expect(next.k.dataId === cache.k.dataId).toBe(fused !== undefined)
    if (fused !== undefined) expect(fused.q.arraySync()).toEqual(q.arraySync())
    expect(cacheLength(next)).toBe(cacheLength(cache) + this.n)
    expect(cacheFormat(next)).toBe(cacheFormat(cache))
    const added = plainOf(k, v, cacheFormat(cache))
    tf.dispose([qkv, q, k, v, ...(fused === undefined ? [] : [fused.q])])
    r.pool.push({ cache: next, plain: appended(plain, added) })
  }
  toString = () => `extendFused(#${this.which}, ${this.n})`
}

class Select implements fc.Command<object, Real> {
  constructor(
    readonly which: number,
    readonly rows: readonly number[],
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const { cache, plain } = r.pool[pick(r, this.which)]
    const rows = this.rows.map((x) => x % cache.k.shape[0])
    r.pool.push({ cache: selectCache(cache, rows), plain: { k: rows.map((x) => plain.k[x]), v: rows.map((x) => plain.v[x]) } })
  }
  toString = () => `select(#${this.which}, [${this.rows.join(', ')}])`
}

class Reserve implements fc.Command<object, Real> {
  constructor(
    readonly which: number,
    readonly extra: number,
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const { cache, plain } = r.pool[pick(r, this.which)]
    const next = reserveCache(cache, cacheLength(cache) + this.extra)
    expect(cacheFormat(next)).toBe(cacheFormat(cache))
    expect(cacheCapacity(next)).toBeGreaterThanOrEqual(tf.getBackend() === 'wasm' ? cacheLength(cache) + this.extra : cacheLength(cache))
    const limited = reserveCache(cache, cacheLength(cache) + this.extra, cacheLength(cache) + 1)
    if (tf.getBackend() === 'wasm') expect(cacheCapacity(limited)).toBe(Math.max(cacheCapacity(cache), cacheLength(cache) + Math.min(1, this.extra + 64)))
    tf.dispose([limited.k, limited.v])
    r.pool.push({ cache: next, plain })
  }
  toString = () => `reserve(#${this.which}, +${this.extra})`
}

class Release implements fc.Command<object, Real> {
  constructor(readonly which: number) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const [{ cache }] = r.pool.splice(pick(r, this.which), 1)
    tf.dispose([cache.k, cache.v])
  }
  toString = () => `release(#${this.which})`
}

class Check implements fc.Command<object, Real> {
  constructor(
    readonly which: number,
    readonly queries: number,
  ) {}
  check = () => true
  run(_m: object, r: Real) {
    if (r.pool.length === 0) return
    const { cache, plain } = r.pool[pick(r, this.which)]
    const contents = cacheContents(cache)
    expect(contents.k.arraySync()).toEqual(plain.k)
    expect(contents.v.arraySync()).toEqual(plain.v)
    if (contents.k !== cache.k) tf.dispose([contents.k, contents.v])
    const tq = Math.min(this.queries, cacheLength(cache))
    const q = randn(r.seed++, [cache.k.shape[0], H, tq, D])
    const want = attention64(q.arraySync(), plain)
    const got = tf.tidy(() => attendCached(q, cache, tq > 1 ? causalMask(tq, cacheLength(cache)) : undefined).output.arraySync() as number[][][][])
    q.dispose()
    got.flat(3).forEach((x, i) => expect(Math.abs(x - want.flat(3)[i])).toBeLessThan(1e-5))
  }
  toString = () => `check(#${this.which}, ${this.queries} queries)`
}

const which = fc.nat({ max: 20 })
const commands = fc.commands(
  [
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 12 })).map(([rows, n]) => new Start(rows, n)),
    fc.tuple(which, fc.integer({ min: 1, max: 3 })).map(([w, n]) => new Extend(w, n)),
    fc.tuple(which, fc.integer({ min: 1, max: 30 })).map(([w, n]) => new Extend(w, n)),
    fc.tuple(which, fc.integer({ min: 1, max: 3 })).map(([w, n]) => new ExtendFused(w, n)),
    fc.tuple(which, fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 4 })).map(([w, rows]) => new Select(w, rows)),
    fc.tuple(which, fc.integer({ min: 0, max: 40 })).map(([w, n]) => new Reserve(w, n)),
    which.map((w) => new Release(w)),
    fc.tuple(which, fc.integer({ min: 1, max: 6 })).map(([w, n]) => new Check(w, n)),
  ],
  { maxCommands: 60, size: 'large' },
)

describe.each([
  ['cpu', 'float32'],
  ['wasm', 'float32'],
  ['wasm', 'bfloat16'],
] as const)('caches as values on %s in %s (model-based, fast-check commands)', (backend, format) => {
  beforeAll(async () => {
    await initBackend(backend)
  })

  test.prop([commands, fc.integer({ min: 0, max: 1e6 })], { numRuns: 40 })(
    'every cache holds its own positions however the others are extended, selected, reserved or released, and nothing leaks',
    (cmds, seed) => {
      const before = tf.memory().numTensors
      const real: Real = { pool: [], seed, format }
      try {
        new Start(2, 5).run({}, real) // a first cache, so that the program's first commands have one to work on
        fc.modelRun(() => ({ model: {}, real }), cmds)
        for (const { cache, plain } of real.pool) new Check(0, 1).run({}, { pool: [{ cache, plain }], seed, format })
      } finally {
        for (const { cache } of real.pool) tf.dispose([cache.k, cache.v])
      }
      expect(tf.memory().numTensors).toBe(before)
    },
  )
})

describe('the discipline on wasm: in place at the mark, a copy elsewhere', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  // Heads of 4 features here: the sizes below are counted in them.
  const d = 4

  const step = (c: KVCache | undefined, seed: number, n = 1, rows = c?.k.shape[0] ?? 1) => {
    const k = randn(seed, [rows, H, n, d])
    const v = randn(seed + 1, [rows, H, n, d])
    const out = extendCache(c, k, v)
    tf.dispose([k, v])
    return out
  }

  // One position of a 1-row, 2-head, 4-feature cache: 32 bytes, so room is a mebibyte's worth, capped at 256 positions.
  const SMALL = 4 * H * d

  it("spareFor: a quarter more, or a mebibyte's worth of positions, at most 256", () => {
    expect(spareFor(10, SMALL)).toBe(256)
    expect(spareFor(10, 2 ** 20)).toBe(3)
    expect(spareFor(100, 2 ** 19)).toBe(25)
    expect(spareFor(1000, 2 ** 19)).toBe(250)
    expect(spareFor(2000, 2 ** 19)).toBe(256)
    expect(spareFor(1, 2 ** 30)).toBe(1)
    expect(spareFor(64, 4 * 768)).toBe(256) // GPT-2 124M at batch 1
    expect(spareFor(10, 4 * 1000 * 4 * 16)).toBe(4) // Mini-GPT, a thousand rows of 4 heads of 16
  })

  it('a new cache gets room to spare; extending the newest cache writes in place until the room is used, then copies into a larger buffer', () => {
    const before = tf.memory().numTensors
    const held: KVCache[] = []
    // 4,096 rows: 128 KiB a position, so the room is a quarter more, at least 8 positions.
    let c = step(undefined, 1, 10, 4096)
    held.push(c)
    const bytes = 4096 * SMALL
    expect(cacheCapacity(c)).toBe(10 + spareFor(10, bytes))
    let inPlace = 0
    let copies = 0
    for (let t = 0; t < 40; t++) {
      const next = step(c, 100 + 2 * t)
      if (next.k.dataId === c.k.dataId) inPlace++
      else {
        copies++
        expect(cacheCapacity(c)).toBe(cacheLength(c)) // only a full buffer is left
        expect(cacheCapacity(next)).toBe(cacheLength(next) + spareFor(cacheLength(next), bytes))
      }
      c = next
      held.push(c)
    }
    expect(cacheLength(c)).toBe(50)
    // 10 + 8 = 18, then 19 + 8 = 27, 28 + 8 = 36, 37 + 10 = 47, 48 + 12 = 60: four copies.
    expect(copies).toBe(4)
    expect(inPlace).toBe(36)
    // Every cache of the chain still reads its own positions: the first ten are the start's.
    const firstRows = (x: KVCache) => tf.tidy(() => tf.slice(cacheContents(x).k, [0, 0, 0, 0], [2, H, -1, d]).arraySync())
    expect(firstRows(c).map((r) => r.map((h) => h.slice(0, 10)))).toEqual(firstRows(held[0]))
    for (const h of held) tf.dispose([h.k, h.v])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('two children of one cache: the first is written in place, the second copied, and both (and the parent) hold their own positions', () => {
    const before = tf.memory().numTensors
    const parent = step(undefined, 7, 5)
    const a = step(parent, 20)
    const b = step(parent, 30)
    expect(a.k.dataId).toBe(parent.k.dataId)
    expect(b.k.dataId).not.toBe(parent.k.dataId)
    // The child written in place is still at the mark: its own child is written in place too;
    // the parent is not at the mark any more.
    const a2 = step(a, 40)
    expect(a2.k.dataId).toBe(a.k.dataId)
    const b2 = step(b, 50)
    expect(b2.k.dataId).toBe(b.k.dataId)
    const parent2 = step(parent, 60)
    expect(parent2.k.dataId).not.toBe(parent.k.dataId)
    const [kp, ka, kb, ka2] = [parent, a, b, a2].map((c) => tf.tidy(() => cacheContents(c).k.arraySync()))
    const fresh = (seed: number) => tf.tidy(() => randn(seed, [1, H, 1, d]).arraySync())
    expect(ka).toEqual(kp.map((r, i) => r.map((h, j) => [...h, ...fresh(20)[i][j]])))
    expect(kb).toEqual(kp.map((r, i) => r.map((h, j) => [...h, ...fresh(30)[i][j]])))
    expect(ka2).toEqual(ka.map((r, i) => r.map((h, j) => [...h, ...fresh(40)[i][j]])))
    for (const c of [parent, a, b, a2, b2, parent2]) tf.dispose([c.k, c.v])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('releasing the parent first leaves a child written in place intact (its handles keep the buffer)', () => {
    const before = tf.memory().numTensors
    const parent = step(undefined, 3, 6)
    const child = step(parent, 9)
    const want = tf.tidy(() => cacheContents(child).k.arraySync())
    tf.dispose([parent.k, parent.v])
    const grandchild = step(child, 11)
    expect(grandchild.k.dataId).toBe(child.k.dataId)
    expect(tf.tidy(() => cacheContents(grandchild).k.arraySync()).map((r) => r.map((h) => h.slice(0, 7)))).toEqual(want)
    for (const c of [child, grandchild]) tf.dispose([c.k, c.v])
    expect(tf.memory().numTensors).toBe(before)
  })

  it('exact caches (made elsewhere, or by kvCache) are copied into a buffer with room on their first extension', () => {
    const before = tf.memory().numTensors
    const k = randn(1, [2, H, 3, d])
    const exact = kvCache(k, k)
    const next = step(exact, 5, 1, 2)
    expect(next.k.dataId).not.toBe(k.dataId)
    expect(cacheCapacity(next)).toBe(4 + spareFor(4, 2 * SMALL))
    tf.dispose([k, next.k, next.v])
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe('the bfloat16 form: where reserveCache converts to it', () => {
  const cacheOf = (d: number) => {
    const k = randn(5, [1, H, 3, d])
    const c = extendCache(undefined, k, k)
    if (c.k !== k) k.dispose()
    return c
  }
  const release = (...cs: KVCache[]) => {
    for (const c of cs) tf.dispose([c.k, c.v])
  }

  it('on wasm, a head size a multiple of 8: int32 words of two values, half the bytes; a bfloat16 cache stays bfloat16 whatever is asked', async () => {
    await initBackend('wasm')
    const before = tf.memory().numTensors
    const c = cacheOf(16)
    const b = reserveCache(c, 3, Number.POSITIVE_INFINITY, 'bfloat16')
    expect([cacheFormat(b), b.k.dtype, b.k.shape]).toEqual(['bfloat16', 'int32', [1, H, cacheCapacity(b), 8]])
    const again = reserveCache(b, 3, Number.POSITIVE_INFINITY, 'float32')
    expect(cacheFormat(again)).toBe('bfloat16')
    // a head size of 4 stays float32
    const small = cacheOf(4)
    const kept = reserveCache(small, 3, Number.POSITIVE_INFINITY, 'bfloat16')
    expect(cacheFormat(kept)).toBe('float32')
    release(c, b, again, small, kept)
    expect(tf.memory().numTensors).toBe(before)
  })

  it('on cpu the cache stays float32', async () => {
    await initBackend('cpu')
    const c = cacheOf(16)
    const kept = reserveCache(c, 3, Number.POSITIVE_INFINITY, 'bfloat16')
    expect([cacheFormat(kept), kept.k.dtype]).toEqual(['float32', 'float32'])
    release(c, kept)
  })
})
