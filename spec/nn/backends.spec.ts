/**
 * The same Mini-GPT forward and backward pass on the cpu backend (the reference) and on wasm
 * (the fast default): logits, loss and every gradient leaf must agree. This also proves that
 * every kernel the model's forward and backward need exists on wasm (docs/concepts.md, "Missing kernels").
 *
 * Tensors are created only after switching backends; what crosses from one run to the other
 * is host data (Float32Array / Int32Array), never a tensor.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { valueAndGrad } from '../../src/core/grad.js'
import { key, split, uniform } from '../../src/core/key.js'
import { EVAL, training } from '../../src/core/layer.js'
import { scoped } from '../../src/core/scope.js'
import { dispose, flatten, map } from '../../src/core/tree.js'
import { SEED_CONFIG } from '../../src/models/minigpt/config.js'
import { miniGpt, type MiniGptParams } from '../../src/models/minigpt/model.js'
import { crossEntropy } from '../../src/train/loss.js'

const config = SEED_CONFIG(81)
const B = 4
const T = 20
const PAD = config.pad_idx

/** Ids in [3, 81) (no special tokens) with the last positions of some rows padded, as in a batch. */
const makeBatch = (): { ids: Int32Array; targets: Int32Array } => {
  const [ki, kt] = split(key(2024))
  const ids = Int32Array.from(uniform(ki, B * T), (u) => 3 + Math.floor(u * 78))
  const targets = Int32Array.from(uniform(kt, B * T), (u) => 3 + Math.floor(u * 78))
  for (let b = 1; b < B; b++)
    for (let t = T - 3 * b; t < T; t++) {
      ids[b * T + t] = PAD
      targets[b * T + t] = PAD
    }
  return { ids, targets }
}

interface RunResult {
  readonly backend: string
  readonly logits: Float32Array
  readonly loss: number
  readonly trainLoss: number
  readonly grads: ReadonlyMap<string, Float32Array>
  readonly initial: ReadonlyMap<string, Float32Array>
}

const hostTree = (tree: unknown): Map<string, Float32Array> => new Map([...flatten<tf.Tensor>(tree)].map(([p, t]) => [p, Float32Array.from(t.dataSync())]))

/** Runs the model on a backend with the given host parameters (or its own init from key(0)). */
const runOn = async (backend: string, hostParams?: ReadonlyMap<string, Float32Array>): Promise<RunResult> => {
  await initBackend(backend)
  expect(tf.getBackend()).toBe(backend)
  const model = miniGpt(config)
  const initial = model.init(key(0))
  const initialHost = hostTree(initial)
  // The parameters under test: moved from the other backend as host data, or this backend's own.
  const params: MiniGptParams = hostParams === undefined ? initial : (map(initial, (t, path) => tf.tensor(hostParams.get(path)!, t.shape, 'float32')) as unknown as MiniGptParams)
  const batch = makeBatch()
  const ids = tf.tensor2d(batch.ids, [B, T], 'int32')
  const targets = tf.tensor2d(batch.targets, [B, T], 'int32')

  const logits = scoped(() => Float32Array.from(model.apply(params, { ids }, EVAL).logits.dataSync()))
  const { loss, grads } = scoped(() => {
    const { value, grads } = valueAndGrad((p: MiniGptParams) => crossEntropy(model.apply(p, { ids }, EVAL).logits, targets, PAD))(params)
    return { loss: value.dataSync()[0], grads: hostTree(grads) }
  })
  const trainLoss = scoped(() => crossEntropy(model.apply(params, { ids }, training(key(7))).logits, targets, PAD).dataSync()[0])

  tf.dispose([ids, targets])
  if (params !== initial) dispose(params)
  dispose(initial)
  return { backend, logits, loss, trainLoss, grads, initial: initialHost }
}

let cpu: RunResult
let wasm: RunResult

beforeAll(async () => {
  cpu = await runOn('cpu')
  wasm = await runOn('wasm', cpu.initial)
})

const norm = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0))

describe('Mini-GPT on cpu and wasm', () => {
  it('initialises identical parameters from the same key on both backends', () => {
    // Keys are drawn on the host, so init itself is backend-independent.
    expect([...wasm.initial.keys()]).toEqual([...cpu.initial.keys()])
    for (const [path, x] of cpu.initial) expect(Array.from(wasm.initial.get(path)!), path).toEqual(Array.from(x))
  })

  it('gives logits that agree to 1e-5 absolute', () => {
    expect(wasm.logits.length).toBe(B * T * config.vocab_size)
    let worst = 0
    for (let i = 0; i < cpu.logits.length; i++) worst = Math.max(worst, Math.abs(cpu.logits[i] - wasm.logits[i]))
    expect(worst).toBeLessThan(1e-5)
    // Not vacuous: the logits are not all zero or identical.
    expect(norm(cpu.logits)).toBeGreaterThan(1)
  })

  it('gives the same loss, near ln(81) at initialisation', () => {
    expect(Number.isFinite(cpu.loss)).toBe(true)
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-5)
    // An untrained model is roughly uniform over 81 tokens: loss near ln 81 ≈ 4.39 (within a few nats).
    expect(cpu.loss).toBeGreaterThan(2)
    expect(cpu.loss).toBeLessThan(8)
  })

  it('applies the same dropout masks in training mode (seeded on the host key)', () => {
    expect(Math.abs(cpu.trainLoss - wasm.trainLoss)).toBeLessThan(1e-4)
    expect(cpu.trainLoss).not.toBeCloseTo(cpu.loss, 4) // dropout really was on
  })

  it('gives every gradient leaf within 1e-3 relative (‖g_cpu − g_wasm‖ / ‖g_cpu‖)', () => {
    expect([...wasm.grads.keys()]).toEqual([...cpu.grads.keys()])
    expect(cpu.grads.size).toBe(1 + config.num_layers * 16 + 2 + 2) // embedding, 16 per block, norm, head
    for (const [path, g] of cpu.grads) {
      if (path.endsWith('.attn.W_k.bias')) continue // zero in exact arithmetic: the next test
      const w = wasm.grads.get(path)!
      const n = norm(g)
      expect(n, `gradient of ${path} is zero`).toBeGreaterThan(0)
      const diff = norm(Array.from(g, (x, i) => x - w[i]))
      expect(diff / n, path).toBeLessThan(1e-3)
    }
  })

  it('gives the key bias no gradient, up to rounding, on both (a relative comparison would be noise)', () => {
    // Adding b_k to every key adds q·b_k to every score of a query's row, and softmax is
    // invariant to a constant added to a row (masked -Infinity entries stay -Infinity), so
    // ∂L/∂b_k = 0 exactly. What the backends compute is float32 rounding (~1e-11 here), and
    // ‖g_cpu − g_wasm‖/‖g_cpu‖ is of order 1: compare each with the query bias's gradient instead.
    for (let i = 0; i < config.num_layers; i++) {
      const scale = norm(cpu.grads.get(`layers.${i}.attn.W_q.bias`)!)
      expect(scale).toBeGreaterThan(1e-5)
      for (const r of [cpu, wasm]) expect(norm(r.grads.get(`layers.${i}.attn.W_k.bias`)!), `${r.backend} layer ${i}`).toBeLessThan(1e-5 * scale)
    }
  })

  it('gives the padding row of the embedding exactly zero gradient on both', () => {
    const d = config.embed_dim
    for (const r of [cpu, wasm]) {
      const row = r.grads.get('embedding.weight')!.subarray(PAD * d, (PAD + 1) * d)
      expect(
        row.every((x) => x === 0),
        r.backend,
      ).toBe(true)
    }
  })
})
