/**
 * Quantized Mini-GPT on the trained tiny fixture (spec/fixtures/minigpt-tiny): the model's own
 * graph over the quantized tree equals it over the dequantized float tree up to the kernels'
 * rounding of activations (int16 per row for int8 weights, |Δlogit| ≤ 2e-3 · max|logit| + 1e-4;
 * int8 per block of 32 for q4, ≤ 1e-2 · max|logit| + 1e-4: as for GPT-2), logits within
 * the stated bound of float32's (int8 1 %, q4 10 % of the largest |logit|), the cached path
 * equal to the full one, and the validation metric within the bars (int8 0.5 %, q4 2 %
 * on this tiny model; docs/benchmarks.md has the seed-recipe model's figures).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key, uniform } from '../../src/core/key.js'
import * as T from '../../src/core/tree.js'
import { encodeExample } from '../../src/data/names.js'
import { loadMiniGpt, type MiniGptCheckpoint } from '../../src/io/minigpt-checkpoint.js'
import { miniGptDecoder } from '../../src/models/minigpt/decoder.js'
import { miniGptLogits, miniGptShapes, type MiniGptParams } from '../../src/models/minigpt/model.js'
import { evaluateNames } from '../../src/models/minigpt/recipe.js'
import { disposeQuantTree } from '../../src/quant/matrix.js'
import { dequantize, quantize, type Quantized } from '../../src/quant/tree.js'
import { loadQuantMiniGpt, saveQuantMiniGpt } from '../../src/io/quant-minigpt.js'
import { parseSafetensors, serializeSafetensors, type TensorInput } from '../../src/io/safetensors.js'

const dir = fileURLToPath(new URL('../fixtures/minigpt-tiny', import.meta.url))
const LOGIT_BOUND = { int8: 0.01, q4: 0.1 }
const LOSS_BOUND = { int8: 0.005, q4: 0.02 }
/** The forward pass against the float graph of the dequantized weights: |Δlogit| ≤ GRAPH[format] · max|logit| + 1e-4. */
const GRAPH = { int8: 2e-3, q4: 1e-2 }

let ckpt: MiniGptCheckpoint
beforeAll(async () => {
  await initBackend('wasm')
  const r = await loadMiniGpt(dir)()
  if (E.isLeft(r)) throw new Error(r.left.message)
  ckpt = r.right
})
afterAll(() => T.dispose(ckpt.params))

/** Names of 1–9 characters drawn from the vocabulary (its non-special tokens), from a key. */
const names = (n: number) => {
  const chars = ckpt.vocab.tokens.slice(3)
  return Array.from({ length: n }, (_, i) => {
    const u = uniform(key(i), 10)
    return Array.from(u.subarray(0, 1 + Math.floor(u[9] * 9)), (x) => chars[Math.floor(x * chars.length)]).join('')
  })
}

describe.each(['int8', 'q4'] as const)('%s Mini-GPT', (format) => {
  let q: Quantized<MiniGptParams>
  beforeAll(() => {
    q = quantize(miniGptShapes(ckpt.config), ckpt.params, format)
  })
  afterAll(() => disposeQuantTree(q))

  it('computes the float graph of its dequantized weights', () => {
    const deq = dequantize(miniGptShapes(ckpt.config), q)
    const ids = tf.tensor2d([[1, 5, 9, 20, 7, 3, 11]], undefined, 'int32')
    const want = miniGptLogits(ckpt.config)(deq, ids).dataSync()
    const got = miniGptLogits(ckpt.config)(q, ids).dataSync()
    const scale = Math.max(...Array.from(want, Math.abs))
    let worst = 0
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]))
    expect(worst).toBeLessThanOrEqual(GRAPH[format] * scale + 1e-4)
    T.dispose(deq)
  })

  it('gives logits within its bound of float32, and the same through the cache', async () => {
    const ids = tf.tensor2d([[1, 5, 9, 20, 7, 3, 11]], undefined, 'int32')
    const want = miniGptLogits(ckpt.config)(ckpt.params, ids).dataSync()
    const got = miniGptLogits(ckpt.config)(q, ids).dataSync()
    const scale = Math.max(...Array.from(want, Math.abs))
    let worst = 0
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]))
    expect(worst).toBeLessThanOrEqual(LOGIT_BOUND[format] * scale)
    const d = miniGptDecoder(ckpt.config, q)
    let out = await d.prefill([[1, 5, 9]])
    for (const t of [20, 7, 3, 11]) {
      const next = await d.step(out.cache, [t])
      d.release(out.cache)
      out = next
    }
    const v = ckpt.config.vocab_size
    const last = got.subarray(6 * v, 7 * v)
    for (let i = 0; i < v; i++) expect(Math.abs(out.logits[0][i] - last[i])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(last[i])))
    d.release(out.cache)
  })

  it('saves a checkpoint that loads back to the same logits, and is read strictly', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'minigpt-qckpt-'))
    try {
      const saved = await saveQuantMiniGpt(tmp, { config: ckpt.config, vocab: ckpt.vocab, params: q })()
      expect(E.isRight(saved)).toBe(true)
      const r = await loadQuantMiniGpt(tmp, format)()
      if (E.isLeft(r)) throw new Error(r.left.message)
      const ids = tf.tensor2d([[1, 5, 9, 20]], undefined, 'int32')
      const f = miniGptLogits(ckpt.config)
      expect(Array.from(f(r.right.params, ids).dataSync())).toEqual(Array.from(f(q, ids).dataSync()))
      expect(r.right.vocab.tokens).toEqual(ckpt.vocab.tokens)
      disposeQuantTree(r.right.params)
      const path = join(tmp, 'model.safetensors')
      const parsed = parseSafetensors(new Uint8Array(await readFile(path)))
      if (E.isLeft(parsed)) throw new Error(parsed.left.message)
      const tensors: TensorInput[] = [...parsed.right.tensors.values()].map((e) =>
        e.name === 'head.weight.scales' ? { name: e.name, dtype: 'F32', shape: [3], data: [1, 1, 1] } : { name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.bytes },
      )
      await writeFile(path, serializeSafetensors(tensors, parsed.right.metadata))
      const bad = await loadQuantMiniGpt(tmp)()
      expect(E.isLeft(bad) && bad.left.message).toBe(`${path}: tensor 'head.weight.scales' has shape [3], expected [${format === 'int8' ? '67' : '67, 1'}]`)
      await writeFile(path, serializeSafetensors(tensors, { ...parsed.right.metadata, model: 'gpt2' }))
      const other = await loadQuantMiniGpt(tmp)()
      expect(E.isLeft(other) && other.left.message).toBe(`${path}: __metadata__ "model" is "gpt2": expected "minigpt"`)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  })

  it('loses at most its stated share of validation loss', async () => {
    const examples = names(200).map((n) => encodeExample(ckpt.vocab, n, ckpt.config.max_len))
    const f = await evaluateNames(ckpt.config, ckpt.params, examples)
    const g = await evaluateNames(ckpt.config, q, examples)
    expect(g.tokens).toBe(f.tokens)
    expect(Math.abs(g.loss - f.loss) / f.loss).toBeLessThanOrEqual(LOSS_BOUND[format])
  })
})
