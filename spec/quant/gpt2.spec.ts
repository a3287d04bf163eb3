/**
 * Quantized GPT-2 on the conformance fixture (spec/fixtures/gpt2-tiny, PyTorch's logits):
 *
 * - the model's forward pass over the quantized tree equals it over the dequantized float tree, up to
 *   the kernels' rounding of activations: int8 weights take int16 activations per row
 *   (|Δlogit| ≤ 2e-3 · max|logit| + 1e-4; measured 1.4e-5 · max|logit|), q4 weights int8
 *   activations per block of 32, half a step being 1/254 of the block's largest value
 *   (|Δlogit| ≤ 1e-2 · max|logit| + 1e-4; measured 3.8e-3 · max|logit|);
 * - against the float32 model, the logits move by at most the stated bound δ (int8 0.005,
 *   q4 0.08 on this fixture, whose logits span about ±1), and greedy decoding picks float32's
 *   token at every step whose float32 margin (top-1 minus top-2 logit) exceeds 2δ.
 */
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import * as T from '../../src/core/tree.js'
import { loadGpt2Folder, type Gpt2Folder } from '../../src/io/hf-gpt2.js'
import { disposeQuantTree } from '../../src/quant/matrix.js'
import type { QuantFormat } from '../../src/quant/quantize.js'
import { dequantize, quantize, type Quantized } from '../../src/quant/tree.js'
import { gpt2Decoder, gpt2DecodingStep } from '../../src/models/gpt2/decoder.js'
import { gpt2Shapes, type Gpt2Params } from '../../src/models/gpt2/model.js'
import golden from '../fixtures/gpt2-tiny/golden.json' with { type: 'json' }
import { argmax, margin, maxAbsDiff } from '../helpers/logits.js'

const DIR = join(import.meta.dirname, '../fixtures/gpt2-tiny')
const BOUND: Record<QuantFormat, number> = { int8: 0.005, q4: 0.08 }
/** The forward pass against the float graph of the dequantized weights: |Δlogit| ≤ GRAPH[format] · max|logit| + 1e-4. */
const GRAPH: Record<QuantFormat, number> = { int8: 2e-3, q4: 1e-2 }

describe.each(['wasm', 'cpu'])('quantized GPT-2 on %s', (backend) => {
  let folder: Gpt2Folder
  beforeAll(async () => {
    await initBackend(backend)
    const r = await loadGpt2Folder(DIR)()
    if (E.isLeft(r)) throw new Error(r.left.message)
    folder = r.right
  })
  afterAll(async () => {
    T.dispose(folder.params)
    await initBackend('wasm')
  })

  describe.each(['int8', 'q4'] as const)('%s', (format) => {
    let q: Quantized<Gpt2Params>
    beforeAll(() => {
      q = quantize(gpt2Shapes(folder.config), folder.params, format)
    })
    afterAll(() => disposeQuantTree(q))

    it('computes the float graph of its dequantized weights', () => {
      const deq = dequantize(gpt2Shapes(folder.config), q)
      const ids = tf.tensor2d([golden.greedy.prompt_ids], undefined, 'int32')
      const want = gpt2DecodingStep(folder.config)(deq, ids).logits.dataSync()
      const got = gpt2DecodingStep(folder.config)(q, ids).logits.dataSync()
      const scale = Math.max(...Array.from(want, Math.abs))
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(GRAPH[format] * scale + 1e-4)
      T.dispose(deq)
    })

    it("stays within its bound of float32 and decodes float32's greedy tokens where the margin exceeds twice the bound", async () => {
      const before = tf.memory().numTensors
      const f = gpt2Decoder(folder.config, folder.params)
      const d = gpt2Decoder(folder.config, q)
      let a = await f.prefill([golden.greedy.prompt_ids])
      let b = await d.prefill([golden.greedy.prompt_ids])
      let agreeing = true
      const tokens: number[] = []
      for (let s = 0; s < golden.greedy.new_ids.length; s++) {
        const [fa, qa] = [a.logits[0], b.logits[0]]
        expect(maxAbsDiff(qa, fa)).toBeLessThanOrEqual(BOUND[format])
        const token = argmax(fa)
        if (margin(fa) > 2 * BOUND[format]) expect(argmax(qa)).toBe(token)
        agreeing = agreeing && argmax(qa) === token
        tokens.push(token)
        // Both follow float32's tokens (teacher forcing), so every step compares the same prefix.
        const [na, nb] = [await f.step(a.cache, [token]), await d.step(b.cache, [token])]
        f.release(a.cache)
        d.release(b.cache)
        a = na
        b = nb
      }
      f.release(a.cache)
      d.release(b.cache)
      f.dispose()
      d.dispose()
      expect(tokens).toEqual(golden.greedy.new_ids) // float32 reproduces PyTorch's greedy run
      if (format === 'int8') expect(agreeing).toBe(true)
      expect(tf.memory().numTensors).toBe(before)
    })
  })
})
