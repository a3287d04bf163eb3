import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { foldIn, key } from '../../src/core/key.js'
import { batches, encodeExample } from '../../src/data/names.js'
import { buildVocab } from '../../src/data/vocab.js'
import { namesLoss } from '../../src/models/minigpt/task.js'
import { miniGpt } from '../../src/models/minigpt/model.js'
import type { MiniGptConfig } from '../../src/models/minigpt/config.js'
import { adamw, chain, clipByGlobalNorm } from '../../src/optim/index.js'
import { trainer } from '../../src/train/step.js'

const NAMES = ['Gwen', 'Maël', 'Éowyn', "D'Artagnan", 'Anne-Marie', 'Bran', 'Ciarán', 'Deirdre']

describe('memory ownership', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it('keeps the tensor count flat over 200 training steps', async () => {
    const vocab = buildVocab(NAMES)
    const c: MiniGptConfig = { vocab_size: vocab.tokens.length, embed_dim: 16, num_heads: 2, num_layers: 2, ff_dim: 32, max_len: 12, dropout: 0.1, pad_idx: vocab.pad }
    const params = miniGpt(c).init(key(0))
    const opt = chain(clipByGlobalNorm(1), adamw({ lr: 1e-3 }))
    const data = batches(
      NAMES.map((n) => encodeExample(vocab, n, c.max_len)),
      4,
      vocab.pad,
    )
    const t = trainer(namesLoss(c), opt, { params, opt: opt.init(params) })
    const before = tf.memory().numTensors
    const losses: number[] = []
    for (let i = 0; i < 200; i++) losses.push(await t.step(data[i % data.length], foldIn(key(1), i)))
    expect(tf.memory().numTensors).toBe(before)
    // And the steps did train: the loss of the last 10 steps is well below the first 10.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)) - 0.5)
  })
})
