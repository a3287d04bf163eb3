/**
 * Mini-GPT against the seed notebook: parameter count and names, config validation, an
 * independent reference forward pass written from the notebook's classes, and the
 * properties a causal language model must have (causality, padding, KV cache, attention
 * weights, dropout, context length, shapes). cpu backend throughout.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, afterAll, describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { initBackend } from '../../src/backend/index.js'
import { ShapeError } from '../../src/core/errors.js'
import { key, uniform } from '../../src/core/key.js'
import { EVAL, training } from '../../src/core/layer.js'
import { scoped } from '../../src/core/scope.js'
import { count, dispose, flatten, shapes } from '../../src/core/tree.js'
import { contextLength, decodeMiniGptConfig, SEED_CONFIG, type MiniGptConfig } from '../../src/models/minigpt/config.js'
import { miniGpt, miniGptLogits, type MiniGptParams } from '../../src/models/minigpt/model.js'
import { cacheLength, multiHeadAttention, type KVCache } from '../../src/nn/attention.js'
import { sinusoidalTable } from '../../src/nn/positional.js'

const config = SEED_CONFIG(81)
const CTX = contextLength(config) // 27
let model: ReturnType<typeof miniGpt>
let params: MiniGptParams

beforeAll(async () => {
  await initBackend('cpu')
  model = miniGpt(config)
  params = model.init(key(0))
})

afterAll(() => dispose(params))

/** Token ids in [3, vocab) (no special tokens) from a seed. */
const randomIds = (seed: number, n: number): number[] => Array.from(uniform(key(seed), n), (u) => 3 + Math.floor(u * (config.vocab_size - 3)))

/** Logits [B, T, V] as nested arrays, in evaluation mode. */
const logitsOf = (rows: number[][]): number[][][] =>
  scoped(() => model.apply(params, { ids: tf.tensor2d(rows, [rows.length, rows[0].length], 'int32') }, EVAL).logits.arraySync() as number[][][])

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0)

describe('parameters', () => {
  it('the seed config has 160,529 parameters', () => {
    // embedding 81·64 = 5,184; per block 4·(64·64 + 64) + (64·256 + 256) + (256·64 + 64) + 2·2·64
    // = 16,640 + 16,640 + 16,448 + 256 = 49,984; 3 blocks 149,952; final norm 128; head 64·81 + 81
    // = 5,265. Total 160,529, the figure PyTorch prints for the notebook's model.
    expect(count(params)).toBe(160_529)
  })

  it('flattens to the seed’s state_dict names (minus the pos_encoding.pe buffer), in order', () => {
    // Written by hand from the notebook: TransformerDecoder(embedding, pos_encoding, layers,
    // norm, head); DecoderBlock(attn, ff, norm1, norm2, dropout); MultiHeadAttention(W_q, W_k,
    // W_v, W_o); FeedForward.net = Sequential(Linear, GELU, Dropout, Linear, Dropout).
    const block = (i: number) => [
      `layers.${i}.attn.W_q.weight`,
      `layers.${i}.attn.W_q.bias`,
      `layers.${i}.attn.W_k.weight`,
      `layers.${i}.attn.W_k.bias`,
      `layers.${i}.attn.W_v.weight`,
      `layers.${i}.attn.W_v.bias`,
      `layers.${i}.attn.W_o.weight`,
      `layers.${i}.attn.W_o.bias`,
      `layers.${i}.ff.net.0.weight`,
      `layers.${i}.ff.net.0.bias`,
      `layers.${i}.ff.net.3.weight`,
      `layers.${i}.ff.net.3.bias`,
      `layers.${i}.norm1.weight`,
      `layers.${i}.norm1.bias`,
      `layers.${i}.norm2.weight`,
      `layers.${i}.norm2.bias`,
    ]
    const expected = [
      'embedding.weight',
      'layers.0.attn.W_q.weight',
      'layers.0.attn.W_q.bias',
      'layers.0.attn.W_k.weight',
      'layers.0.attn.W_k.bias',
      'layers.0.attn.W_v.weight',
      'layers.0.attn.W_v.bias',
      'layers.0.attn.W_o.weight',
      'layers.0.attn.W_o.bias',
      'layers.0.ff.net.0.weight',
      'layers.0.ff.net.0.bias',
      'layers.0.ff.net.3.weight',
      'layers.0.ff.net.3.bias',
      'layers.0.norm1.weight',
      'layers.0.norm1.bias',
      'layers.0.norm2.weight',
      'layers.0.norm2.bias',
      'layers.1.attn.W_q.weight',
      'layers.1.attn.W_q.bias',
      'layers.1.attn.W_k.weight',
      'layers.1.attn.W_k.bias',
      'layers.1.attn.W_v.weight',
      'layers.1.attn.W_v.bias',
      'layers.1.attn.W_o.weight',
      'layers.1.attn.W_o.bias',
      'layers.1.ff.net.0.weight',
      'layers.1.ff.net.0.bias',
      'layers.1.ff.net.3.weight',
      'layers.1.ff.net.3.bias',
      'layers.1.norm1.weight',
      'layers.1.norm1.bias',
      'layers.1.norm2.weight',
      'layers.1.norm2.bias',
      'layers.2.attn.W_q.weight',
      'layers.2.attn.W_q.bias',
      'layers.2.attn.W_k.weight',
      'layers.2.attn.W_k.bias',
      'layers.2.attn.W_v.weight',
      'layers.2.attn.W_v.bias',
      'layers.2.attn.W_o.weight',
      'layers.2.attn.W_o.bias',
      'layers.2.ff.net.0.weight',
      'layers.2.ff.net.0.bias',
      'layers.2.ff.net.3.weight',
      'layers.2.ff.net.3.bias',
      'layers.2.norm1.weight',
      'layers.2.norm1.bias',
      'layers.2.norm2.weight',
      'layers.2.norm2.bias',
      'norm.weight',
      'norm.bias',
      'head.weight',
      'head.bias',
    ]
    expect(expected.slice(1, 17)).toEqual(block(0)) // the hand-written list is self-consistent
    expect([...flatten(params).keys()]).toEqual(expected)
  })

  it('has the seed’s shapes, with linear weights stored [in, out] (PyTorch’s transposed)', () => {
    const s = shapes(params)
    expect(s['embedding.weight']).toEqual([81, 64])
    expect(s['layers.1.attn.W_v.weight']).toEqual([64, 64])
    expect(s['layers.1.ff.net.0.weight']).toEqual([64, 256]) // PyTorch: [256, 64]
    expect(s['layers.1.ff.net.3.weight']).toEqual([256, 64])
    expect(s['layers.2.norm2.bias']).toEqual([64])
    expect(s['head.weight']).toEqual([64, 81])
    expect(s['head.bias']).toEqual([81])
  })

  it('starts the padding row of the embedding at zero (and only that row)', () => {
    const w = params.embedding.weight.arraySync()
    expect(w[config.pad_idx].every((x) => x === 0)).toBe(true)
    expect(w.filter((row) => row.every((x) => x === 0)).length).toBe(1)
    // PyTorch's nn.Embedding initialises N(0, 1): the other rows have unit variance, roughly.
    const rest = w.filter((_, i) => i !== config.pad_idx).flat()
    const variance = rest.reduce((a, x) => a + x * x, 0) / rest.length
    expect(variance).toBeGreaterThan(0.9)
    expect(variance).toBeLessThan(1.1)
  })
})

describe('config validation', () => {
  const problems = (u: unknown): readonly string[] => {
    const r = decodeMiniGptConfig(u)
    return E.isLeft(r) ? r.left.problems : []
  }

  it('accepts the seed config unchanged', () => {
    expect(decodeMiniGptConfig(config)).toEqual(E.right(config))
    expect(config).toEqual({ vocab_size: 81, embed_dim: 64, num_heads: 4, num_layers: 3, ff_dim: 256, max_len: 25, dropout: 0.1, pad_idx: 0 })
    expect(CTX).toBe(27)
  })

  it('names the field and the problem', () => {
    expect(problems({ ...config, num_heads: 5 })).toEqual(['num_heads: must divide embed_dim=64, got 5'])
    expect(problems({ ...config, pad_idx: 81 })).toEqual(['pad_idx: must be < vocab_size=81, got 81'])
    expect(problems({ ...config, pad_idx: -1 })).toEqual(['pad_idx: must be an integer ≥ 0, got -1'])
    expect(problems({ ...config, num_layers: -2 })).toEqual(['num_layers: must be an integer ≥ 1, got -2'])
    expect(problems({ ...config, embed_dim: NaN })).toEqual(['embed_dim: must be an integer ≥ 1, got NaN'])
    expect(problems({ ...config, dropout: NaN })).toEqual(['dropout: must be a number in [0, 1), got NaN'])
    expect(problems({ ...config, dropout: 1 })).toEqual(['dropout: must be a number in [0, 1), got 1'])
    expect(problems({ ...config, max_len: Infinity })).toEqual(['max_len: must be an integer ≥ 1, got Infinity'])
    expect(problems({ ...config, vocab_size: '81' })).toEqual(['vocab_size: must be an integer ≥ 1, got "81"'])
    expect(problems({ ...config, ff_dim: 2.5 })).toEqual(['ff_dim: must be an integer ≥ 1, got 2.5'])
  })

  it('lists every bad field at once, and missing ones', () => {
    const { ff_dim: _, ...noFf } = config
    expect(problems(noFf)).toEqual(['ff_dim: must be an integer ≥ 1, got undefined'])
    expect(problems({ ...config, embed_dim: 0, num_layers: NaN })).toEqual(['embed_dim: must be an integer ≥ 1, got 0', 'num_layers: must be an integer ≥ 1, got NaN'])
  })

  it('the attention layer itself refuses a head count that does not divide the width', () => {
    expect(() => multiHeadAttention(64, 5)).toThrow('multiHeadAttention: num_heads must divide embed_dim=64, got 5')
  })
})

/**
 * The notebook's forward pass, written independently with plain tfjs ops (tf.gather,
 * tf.matMul, tf.moments, tf.erf) and positional encodings computed in float64.
 */
const referenceLogits = (c: MiniGptConfig, p: MiniGptParams, ids: tf.Tensor2D): tf.Tensor3D =>
  tf.tidy(() => {
    const [B, T] = ids.shape
    const d = c.embed_dim
    const H = c.num_heads
    const dk = d / H
    const pe = new Float32Array(T * d)
    for (let pos = 0; pos < T; pos++) {
      for (let i = 0; i < d; i += 2) {
        const angle = pos * Math.exp(i * (-Math.log(10000) / d))
        pe[pos * d + i] = Math.sin(angle)
        pe[pos * d + i + 1] = Math.cos(angle)
      }
    }
    const lin = (x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D) => tf.add(tf.matMul(tf.reshape(x, [-1, w.shape[0]]) as tf.Tensor2D, w), b)
    const ln = (x: tf.Tensor, w: tf.Tensor1D, b: tf.Tensor1D) => {
      const mean = tf.mean(x, -1, true)
      const variance = tf.mean(tf.square(tf.sub(x, mean)), -1, true)
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), w), b)
    }
    const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, T, H, dk]), [0, 2, 1, 3])
    const mask = tf.tensor2d(
      Array.from({ length: T * T }, (_, n) => (n % T > Math.floor(n / T) ? -Infinity : 0)),
      [T, T],
    )
    let x: tf.Tensor = tf.add(tf.mul(tf.gather(p.embedding.weight, ids), Math.sqrt(d)), tf.tensor2d(pe, [T, d]))
    for (const l of p.layers) {
      const h = ln(x, l.norm1.weight, l.norm1.bias)
      const q = heads(lin(h, l.attn.W_q.weight, l.attn.W_q.bias))
      const k = heads(lin(h, l.attn.W_k.weight, l.attn.W_k.bias))
      const v = heads(lin(h, l.attn.W_v.weight, l.attn.W_v.bias))
      const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dk)), mask)
      const att = tf.matMul(tf.softmax(scores, -1), v)
      const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B, T, d])
      x = tf.add(x, tf.reshape(lin(merged, l.attn.W_o.weight, l.attn.W_o.bias), [B, T, d]))
      const h2 = ln(x, l.norm2.weight, l.norm2.bias)
      const [net0, , , net3] = l.ff.net as readonly { weight: tf.Tensor2D; bias: tf.Tensor1D }[]
      const a = lin(h2, net0.weight, net0.bias)
      const g = tf.mul(tf.mul(a, 0.5), tf.add(tf.erf(tf.div(a, Math.SQRT2)), 1))
      x = tf.add(x, tf.reshape(lin(g, net3.weight, net3.bias), [B, T, d]))
    }
    const out = lin(ln(x, p.norm.weight, p.norm.bias), p.head.weight, p.head.bias)
    return tf.reshape(out, [B, T, c.vocab_size]) as tf.Tensor3D
  })

describe('forward pass', () => {
  it('equals the notebook’s architecture written out by hand (to 1e-5)', () => {
    const rows = [randomIds(1, CTX), randomIds(2, CTX)]
    const ids = tf.tensor2d(rows, [2, CTX], 'int32')
    const ref = referenceLogits(config, params, ids).arraySync() as number[][][]
    const got = logitsOf(rows)
    let worst = 0
    for (let b = 0; b < 2; b++) for (let t = 0; t < CTX; t++) worst = Math.max(worst, maxDiff(got[b][t], ref[b][t]))
    expect(worst).toBeLessThan(1e-5)
    ids.dispose()
  })

  it('uses the notebook’s sinusoidal table (float32 steps, as PyTorch computes it)', () => {
    const pe = sinusoidalTable(CTX, 64)
    for (const [pos, i] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [5, 10],
      [26, 63],
      [13, 32],
    ]) {
      const angle = pos * Math.exp((i - (i % 2)) * (-Math.log(10000) / 64))
      expect(pe[pos * 64 + i]).toBeCloseTo(i % 2 === 0 ? Math.sin(angle) : Math.cos(angle), 5)
    }
  })

  it('miniGptLogits is the plain (params, ids) → logits of the same model', () => {
    const rows = [randomIds(3, 6)]
    const logits = miniGptLogits(config)
    const a = scoped(() => logits(params, tf.tensor2d(rows, [1, 6], 'int32')).arraySync() as number[][][])
    expect(a).toEqual(logitsOf(rows))
  })
})

// On cpu both properties hold bit for bit, not just to 1e-6: masked attention weights are
// exact zeros (exp(-Infinity)), 0·v adds nothing to a sum, and every other op works row by
// row. src/data/names.ts (padBatch) relies on this exactness for padding.
describe('causality', () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: CTX }), fc.nat()], { numRuns: 12 })(
    'changing tokens after position t never changes the logits at positions ≤ t',
    (seed, T, tRaw) => {
      const t = tRaw % (T - 1) // 0 … T−2: at least one token after t
      const a = randomIds(seed, T)
      const fresh = randomIds(seed + 1, T)
      const b = a.map((id, i) => (i > t ? (fresh[i] === id ? 3 + ((id - 3 + 1) % 78) : fresh[i]) : id))
      const [la, lb] = [logitsOf([a])[0], logitsOf([b])[0]]
      for (let i = 0; i <= t; i++) expect(maxDiff(la[i], lb[i]), `position ${i}`).toBe(0)
      // Not vacuous: the first changed position's logits do change.
      expect(maxDiff(la[t + 1], lb[t + 1])).toBeGreaterThan(1e-4)
    },
  )

  test.prop([fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 7 })], { numRuns: 10 })(
    'appending PAD tokens after a sequence leaves its logits unchanged',
    (seed, T, pads) => {
      const a = randomIds(seed, T)
      const padded = [...a, ...Array<number>(pads).fill(config.pad_idx)]
      const [la, lp] = [logitsOf([a])[0], logitsOf([padded])[0]]
      for (let i = 0; i < T; i++) expect(maxDiff(la[i], lp[i]), `position ${i}`).toBe(0)
      // And in a batch with a longer row, the short row's real positions are unchanged too.
      const long = randomIds(seed + 7, T + pads)
      const batch = logitsOf([padded, long])
      for (let i = 0; i < T; i++) expect(maxDiff(la[i], batch[0][i])).toBe(0)
    },
  )
})

describe('KV-cache decoding', () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: CTX }), fc.nat()], { numRuns: 4 })(
    'prefill then one token at a time equals the full forward at every position (1e-5)',
    (seed, T, pRaw) => {
      const P = 1 + (pRaw % (T - 1)) // prefix 1 … T−1
      const rows = [randomIds(seed, T), randomIds(seed + 1, T)]
      const full = logitsOf(rows)
      scoped(() => {
        const first = model.apply(
          params,
          {
            ids: tf.tensor2d(
              rows.map((r) => r.slice(0, P)),
              [2, P],
              'int32',
            ),
            returnCache: true,
          },
          EVAL,
        )
        const got: number[][][] = (first.logits.arraySync() as number[][][]).map((r) => [...r])
        let cache: readonly KVCache[] = first.cache
        for (let i = P; i < T; i++) {
          const step = model.apply(
            params,
            {
              ids: tf.tensor2d(
                rows.map((r) => [r[i]]),
                [2, 1],
                'int32',
              ),
              cache,
            },
            EVAL,
          )
          const l = step.logits.arraySync() as number[][][]
          got[0].push(l[0][0])
          got[1].push(l[1][0])
          cache = step.cache
        }
        expect(cache.length).toBe(config.num_layers)
        expect(cache[0].k.shape).toEqual([2, config.num_heads, T, 16])
        expect(cache[2].v.shape).toEqual([2, config.num_heads, T, 16])
        for (let b = 0; b < 2; b++) for (let i = 0; i < T; i++) expect(maxDiff(got[b][i], full[b][i]), `row ${b} position ${i}`).toBeLessThan(1e-5)
      })
    },
  )

  it('rejects a cache with the wrong number of layers', () => {
    scoped(() => {
      const out = model.apply(params, { ids: tf.tensor2d([[1, 5]], [1, 2], 'int32'), returnCache: true }, EVAL)
      expect(() => model.apply(params, { ids: tf.tensor2d([[6]], [1, 1], 'int32'), cache: out.cache.slice(0, 2) }, EVAL)).toThrow(
        'minigpt: cache must have one entry per layer (3), got 2',
      )
    })
  })

  it.each(['wasm', 'cpu'] as const)('builds caches from a pass with none only when asked (returnCache), and says so when fed none (%s)', async (backend) => {
    await initBackend(backend)
    scoped(() => {
      const ids = tf.tensor2d([randomIds(3, 7), randomIds(4, 7)], [2, 7], 'int32')
      const plain = model.apply(params, { ids }, EVAL)
      const asked = model.apply(params, { ids, returnCache: true }, EVAL)
      expect(plain.cache).toEqual([])
      expect(asked.cache.map((c) => [cacheLength(c), ...c.k.shape])).toEqual(Array.from({ length: 3 }, () => [7, 2, config.num_heads, 7, 16]))
      expect(Array.from(plain.logits.dataSync())).toEqual(Array.from(asked.logits.dataSync()))
      expect(() => model.apply(params, { ids: tf.tensor2d([[6], [7]], [2, 1], 'int32'), cache: plain.cache }, EVAL)).toThrow(
        'minigpt: cache must have one entry per layer (3), got 0 (a pass with no cache returns one only when asked: returnCache: true)',
      )
    })
    await initBackend('wasm')
  })
})

describe('attention weights', () => {
  it('returnAttention gives one [B, H, T, T] tensor per layer: rows sum to 1, exact zeros above the diagonal', () => {
    scoped(() => {
      const T = 9
      const out = model.apply(params, { ids: tf.tensor2d([randomIds(4, T), randomIds(5, T)], [2, T], 'int32'), returnAttention: true }, EVAL)
      expect(out.attention?.length).toBe(config.num_layers)
      for (const w of out.attention!) {
        expect(w.shape).toEqual([2, config.num_heads, T, T])
        for (const head of (w.arraySync() as number[][][][]).flat()) {
          head.forEach((row, i) => {
            expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
            row.forEach((x, j) => (j > i ? expect(x).toBe(0) : expect(x).toBeGreaterThan(0)))
          })
        }
      }
      // Without the flag there are none.
      expect(model.apply(params, { ids: tf.tensor2d([[1, 4]], [1, 2], 'int32') }, EVAL).attention).toBeUndefined()
    })
  })

  it('with a cache, the new position’s weights span every key seen so far', () => {
    scoped(() => {
      const first = model.apply(params, { ids: tf.tensor2d([randomIds(6, 5)], [1, 5], 'int32'), returnCache: true }, EVAL)
      const step = model.apply(params, { ids: tf.tensor2d([[7]], [1, 1], 'int32'), cache: first.cache, returnAttention: true }, EVAL)
      expect(step.attention![0].shape).toEqual([1, config.num_heads, 1, 6])
      for (const row of (step.attention![1].arraySync() as number[][][][])[0]) expect(Math.abs(row[0].reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
    })
  })
})

describe('dropout', () => {
  const ids = () => tf.tensor2d([randomIds(8, 12)], [1, 12], 'int32')
  const run = (ctx: Parameters<typeof model.apply>[2]) => scoped(() => Array.from(model.apply(params, { ids: ids() }, ctx).logits.dataSync()))

  it('evaluation mode is deterministic (and ignores a key)', () => {
    const a = run(EVAL)
    expect(run(EVAL)).toEqual(a)
    expect(run({ training: false, key: key(3) })).toEqual(a)
  })

  it('training mode: the same key gives identical logits, different keys differ, both differ from eval', () => {
    const a = run(training(key(1)))
    expect(run(training(key(1)))).toEqual(a)
    const b = run(training(key(2)))
    expect(maxDiff(a, b)).toBeGreaterThan(1e-3)
    expect(maxDiff(a, run(EVAL))).toBeGreaterThan(1e-3)
  })

  it('training without a key is an error naming where the dropout is', () => {
    expect(() => run({ training: true })).toThrow('pos_encoding.dropout: training with dropout needs a key in the context (use training(key))')
  })
})

describe('limits and shapes', () => {
  it(`accepts max_len + 2 = ${CTX} positions and rejects ${CTX + 1} with a RangeError`, () => {
    expect(logitsOf([randomIds(9, CTX)])[0].length).toBe(CTX)
    expect(() => logitsOf([randomIds(9, CTX + 1)])).toThrow(RangeError)
    expect(() => logitsOf([randomIds(9, CTX + 1)])).toThrow("minigpt: 28 positions exceed the model's context of 27 (max_len 25 + 2)")
  })

  it('counts cached positions against the context', () => {
    scoped(() => {
      const first = model.apply(params, { ids: tf.tensor2d([randomIds(10, CTX)], [1, CTX], 'int32'), returnCache: true }, EVAL)
      expect(() => model.apply(params, { ids: tf.tensor2d([[5]], [1, 1], 'int32'), cache: first.cache }, EVAL)).toThrow("minigpt: 28 positions exceed the model's context of 27")
    })
  })

  it('wrong-shaped ids give a ShapeError naming the layer', () => {
    scoped(() => {
      const apply = (ids: tf.Tensor) => () => model.apply(params, { ids: ids as tf.Tensor2D }, EVAL)
      expect(apply(tf.tensor1d([1, 2, 3], 'int32'))).toThrow(ShapeError)
      expect(apply(tf.tensor1d([1, 2, 3], 'int32'))).toThrow('minigpt: ids must have shape [*, *], got [3]')
      expect(apply(tf.tensor3d([[[1]]], [1, 1, 1], 'int32'))).toThrow('minigpt: ids must have shape [*, *], got [1, 1, 1]')
    })
  })

  it("an error inside the model names the layer by its path in the tree (its parameters' prefix)", () => {
    scoped(() => {
      const l1 = params.layers[1]
      const wrongWq = { ...l1, attn: { ...l1.attn, W_q: { weight: tf.zeros<tf.Rank.R2>([32, 64]), bias: tf.zeros<tf.Rank.R1>([64]) } } }
      const wrong = { ...params, layers: [params.layers[0], wrongWq, params.layers[2]] }
      const ids = tf.tensor2d([randomIds(5, 9)], [1, 9], 'int32')
      expect(() => model.apply(wrong, { ids }, EVAL)).toThrow('layers.1.attn.W_q: input must have shape [*, *, 32], got [1, 9, 64]')
      expect(() => model.apply(wrong, { ids }, EVAL)).toThrow(ShapeError)
    })
  })

  it('logits are [B, T, vocab] and finite', () => {
    const l = logitsOf([randomIds(11, 4), randomIds(12, 4), randomIds(13, 4)])
    expect([l.length, l[0].length, l[0][0].length]).toEqual([3, 4, 81])
    expect(l.flat(2).every(Number.isFinite)).toBe(true)
  })
})
