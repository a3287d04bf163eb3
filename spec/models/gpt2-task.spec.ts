/**
 * Fine-tuning glue for GPT-2 (src/models/gpt2/task.ts): TextDataset's blocks, the collator's
 * labels, GPT2LMHeadModel's loss against the PyTorch fixture's logits, the Trainer's
 * optimizer, and a few epochs of `fit` on the tiny model on wasm.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import * as tree from '../../src/core/tree.js'
import { loadGpt2Folder, type Gpt2Folder } from '../../src/io/hf-gpt2.js'
import { finetuneOptimizer, finetuneStep, gpt2LmLoss, gpt2Nll, lmBatch, lmBlocks, lmEpochBatches, lmSteps, lmTargets, type LmBatch } from '../../src/models/gpt2/task.js'
import { applyUpdates } from '../../src/optim/index.js'
import { fit, fitWith, type TrainEvent } from '../../src/train/loop.js'

const dir = join('spec', 'fixtures', 'gpt2-tiny')
let model: Gpt2Folder
let golden: { sequences: { input_ids: number[]; logits: number[][] }[] }

beforeAll(async () => {
  await initBackend('wasm')
  const r = await loadGpt2Folder(dir)()
  if (E.isLeft(r)) throw new Error(r.left.message)
  model = r.right
  golden = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8'))
})

describe('lmBlocks (TextDataset)', () => {
  it('cuts the stream into full blocks and drops the remainder', () => {
    expect(lmBlocks([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ])
    expect(lmBlocks([1, 2, 3, 4, 5, 6], 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ])
    expect(lmBlocks([1, 2], 3)).toEqual([])
    expect(() => lmBlocks([1, 2], 1)).toThrow(/blockSize must be an integer >= 2, got 1/)
  })

  test.prop([fc.array(fc.nat(), { maxLength: 200 }), fc.integer({ min: 2, max: 40 })])('blocks are the stream prefix of ⌊n/b⌋·b tokens', (ids, b) => {
    const blocks = lmBlocks(ids, b)
    expect(blocks.length).toBe(Math.floor(ids.length / b))
    expect(blocks.flat()).toEqual(ids.slice(0, blocks.length * b))
  })
})

describe('batches and labels', () => {
  it('lmTargets shifts left, ignoring the last column and pad targets (DataCollatorForLanguageModeling)', () => {
    const batch = lmBatch([
      [5, 6, 7, 8],
      [9, 0, 9, 0],
    ])
    expect(Array.from(lmTargets(batch))).toEqual([6, 7, 8, -100, 0, 9, 0, -100])
    expect(Array.from(lmTargets(batch, 0))).toEqual([6, 7, 8, -100, -100, 9, -100, -100])
  })

  it('an epoch visits every block once, in batches of batchSize with a smaller last one, shuffled by the key', () => {
    const blocks = Array.from({ length: 19 }, (_, i) => [i, i])
    const epoch = lmEpochBatches(blocks, 8)
    const a = epoch(0, key(1))
    expect(a.map((b) => b.size)).toEqual([8, 8, 3])
    expect(a.flatMap((b) => Array.from(b.ids.filter((_, j) => j % 2 === 0))).sort((x, y) => x - y)).toEqual(blocks.map((b) => b[0]))
    expect(epoch(0, key(1))).toEqual(a)
    expect(epoch(0, key(2))).not.toEqual(a)
    expect(lmSteps(19, 8, 3)).toBe(9)
  })
})

describe('the causal LM loss', () => {
  it("is the mean cross-entropy of the PyTorch fixture's logits[:-1] against ids[1:]", () => {
    const { input_ids: ids, logits } = golden.sequences[2]
    let sum = 0
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = logits[t]
      const max = Math.max(...row)
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0))
      sum += lse - row[ids[t + 1]]
    }
    const expected = sum / (ids.length - 1)
    const batch = lmBatch([ids])
    const loss = tf.tidy(() => gpt2LmLoss(model.config)(model.params, batch, EVAL).dataSync()[0])
    expect(Math.abs(loss - expected)).toBeLessThan(1e-5)
    const nll = tf.tidy(() => {
      const r = gpt2Nll(model.config, model.params)(batch)
      return [r.sum.dataSync()[0], r.count.dataSync()[0]]
    })
    expect(nll[1]).toBe(31)
    expect(Math.abs(nll[0] / 31 - expected)).toBeLessThan(1e-5)
  })
})

describe('the Trainer optimizer', () => {
  const step = (opt: ReturnType<typeof finetuneOptimizer>, g: number, times = 1) => {
    let params = { w: tf.tensor1d([1]) }
    let state = opt.init(params)
    for (let i = 0; i < times; i++) {
      const [updates, next] = opt.update({ w: tf.tensor1d([g]) }, state, params)
      params = applyUpdates(params, updates)
      state = next
    }
    return params.w.dataSync()[0]
  }
  it('warms up from lr 0, then takes Adam steps of size lr without weight decay', () => {
    expect(step(finetuneOptimizer({ warmup: 10, totalSteps: 100 }), 3)).toBe(1) // schedule(0) = 0
    expect(step(finetuneOptimizer({ totalSteps: 100 }), 3)).toBeCloseTo(1 - 5e-5, 7) // Adam's first step: lr · sign(g)
    expect(step(finetuneOptimizer({ totalSteps: 100, lr: 1e-2 }), -1000)).toBeCloseTo(1 + 1e-2, 7) // clipped, same direction
  })
  it('decays linearly to 0 at totalSteps', () => {
    const w = step(finetuneOptimizer({ totalSteps: 2, lr: 1e-2 }), 1, 4) // steps at lr 1e-2, 5e-3, 0, 0
    expect(w).toBeCloseTo(1 - 1.5e-2, 6)
  })
})

describe('fit', () => {
  const run = async <S>(events: AsyncGenerator<TrainEvent<unknown, S>, { params: unknown }>) => {
    const losses: number[] = []
    let r = await events.next()
    for (; r.done !== true; r = await events.next()) if (r.value.type === 'epoch') losses.push(r.value.trainLoss)
    return { losses, final: r.value }
  }

  it('fine-tunes the tiny model on wasm: the loss falls, the tensor count stays flat', async () => {
    const ids = model.tokenizer.encode('The wizard named Gandalf walked into the realm of dragons.\n'.repeat(10))
    const blocks = lmBlocks(ids, 16)
    const params = tree.map(model.params, (t) => tf.clone(t)) as typeof model.params
    const opt = finetuneOptimizer({ lr: 1e-2, warmup: 2, totalSteps: lmSteps(blocks.length, 4, 4) })
    const before = tf.memory().numTensors
    const options = { epochs: 4, batchesFor: lmEpochBatches(blocks, 4), tokensOf: (b: LmBatch) => b.size * b.length, key: key(7) }
    const { losses, final } = await run(fit(gpt2LmLoss(model.config), opt, { params, opt: opt.init(params) }, options))
    expect(losses).toHaveLength(4)
    expect(losses[3]).toBeLessThan(losses[0] - 0.5)
    expect(tf.memory().numTensors - before).toBe(tree.leaves(final.params).length * 2) // the params replaced, plus Adam's two moments
    tree.dispose(final.params)
  })

  // On wasm too: the SIMD kernels (backend/simd) compute the same forward values taped or not,
  // so the rematerialised blocks' forward passes agree with the plain chain's; and the fused
  // Adam(W) kernel of the plain chain's step does the ops' arithmetic, the clip factor's too.
  it.each(['cpu', 'wasm'] as const)('on %s, finetuneStep (leafwise, donating, rematerialised) trains exactly as the plain chain does', async (backend) => {
    await initBackend(backend)
    const blocks = lmBlocks(model.tokenizer.encode('Gandalf\nGaladriel\nFaramir\nThranduil\n'.repeat(4)), 8)
    const o = { lr: 1e-2, warmup: 1, totalSteps: lmSteps(blocks.length, 3, 2) }
    const options = { epochs: 2, batchesFor: lmEpochBatches(blocks, 3), tokensOf: (b: LmBatch) => b.size * b.length, key: key(9) }
    const copy = () => tree.map(model.params, (t) => tf.clone(t)) as typeof model.params
    const plainOpt = finetuneOptimizer(o)
    const p1 = copy()
    const plain = await run(fit(gpt2LmLoss(model.config), plainOpt, { params: p1, opt: plainOpt.init(p1) }, options))
    const step = finetuneStep(model.config, o)
    const p2 = copy()
    const lean = await run(fitWith(step.step, { params: p2, opt: step.init(p2) }, options))
    expect(lean.losses).toEqual(plain.losses)
    for (const [path, v] of tree.flatten(plain.final.params)) {
      expect(Array.from(tree.flatten(lean.final.params).get(path)!.dataSync()), path).toEqual(Array.from(v.dataSync()))
    }
    tree.dispose(plain.final.params)
    tree.dispose(lean.final.params)
    await initBackend('wasm')
  })
})
