import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs-core'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { loadMiniGpt, type MiniGptCheckpoint } from '../../src/io/minigpt-checkpoint.js'
import { miniGptDecoder } from '../../src/models/minigpt/decoder.js'
import { generateNames } from '../../src/sample/names.js'

const dir = fileURLToPath(new URL('../fixtures/minigpt-tiny', import.meta.url))
const golden = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as { greedy: { prompt: string; text: string } }

describe('generateNames (the seed generate(), batched and keyed)', () => {
  let ckpt: MiniGptCheckpoint
  beforeAll(async () => {
    await initBackend('cpu')
    const r = await loadMiniGpt(dir)()
    if (E.isLeft(r)) throw new Error(r.left.message)
    ckpt = r.right
  })
  const run = (request: Parameters<typeof generateNames>[2], seed = 0) => generateNames(miniGptDecoder(ckpt.config, ckpt.params), ckpt.vocab, request, key(seed))

  it('greedy decoding gives the PyTorch reference continuation', async () => {
    const r = await run({ count: 1, prompt: golden.greedy.prompt, options: { do_sample: false } })
    expect(r).toEqual(E.right([expect.objectContaining({ text: golden.greedy.text, finishReason: 'eos' })]))
  })

  it('the same key gives the same names; another key other names', async () => {
    const a = await run({ count: 20, options: { temperature: 1 } }, 1)
    const b = await run({ count: 20, options: { temperature: 1 } }, 1)
    const c = await run({ count: 20, options: { temperature: 1 } }, 2)
    expect(a).toEqual(b)
    expect(E.isRight(a) && E.isRight(c) && a.right.map((n) => n.text).join() !== c.right.map((n) => n.text).join()).toBe(true)
  })

  it('a request split by firstIndex gives the names of the whole request', async () => {
    const whole = await run({ count: 24, options: { temperature: 1.2 } }, 3)
    const head = await run({ count: 10, options: { temperature: 1.2 } }, 3)
    const tail = await run({ count: 14, options: { temperature: 1.2 }, firstIndex: 10 }, 3)
    expect(E.isRight(whole) && E.isRight(head) && E.isRight(tail)).toBe(true)
    if (E.isRight(whole) && E.isRight(head) && E.isRight(tail)) expect([...head.right, ...tail.right]).toEqual(whole.right)
    expect(await run({ count: 2, firstIndex: -1 })).toEqual(E.left('firstIndex must be an integer ≥ 0, got -1'))
  })

  it('names start with the prompt, never hold special tokens and respect the context', async () => {
    const r = await run({ count: 30, prompt: 'Ma', options: { temperature: 1.5 } })
    if (E.isLeft(r)) throw new Error(r.left)
    for (const n of r.right) {
      expect(n.text.startsWith('Ma')).toBe(true)
      expect(n.text).not.toMatch(/<PAD>|<SOS>|<EOS>/)
      expect(Array.from(n.text).length).toBeLessThanOrEqual(ckpt.config.max_len + 1)
      expect(Number.isFinite(n.logprob)).toBe(true)
    }
  })

  it('leaks no tensors', async () => {
    const before = tf.memory().numTensors
    await run({ count: 8, options: { top_k: 5 } })
    await run({ count: 2, options: { num_beams: 3 } })
    expect(tf.memory().numTensors).toBe(before)
  })

  it('beam search returns the requested number of best hypotheses, best first', async () => {
    const r = await run({ count: 3, prompt: 'Ma', options: { num_beams: 4 } })
    if (E.isLeft(r)) throw new Error(r.left)
    expect(r.right).toHaveLength(3)
    expect(r.right[0].text.startsWith('Ma')).toBe(true)
  })

  it('clear errors for bad prompts and options', async () => {
    expect(await run({ count: 1, prompt: 'Ma€#' })).toEqual(E.left(expect.stringMatching(/prompt: characters not in the vocabulary: "€", "#"/)))
    const skipped = await run({ count: 1, prompt: 'Ma€', unknown: 'skip', options: { do_sample: false } })
    expect(E.isRight(skipped) && skipped.right[0].text.startsWith('Ma')).toBe(true)
    expect(await run({ count: 1, options: { temperature: 0 } })).toEqual(E.left(expect.stringMatching(/temperature must be a finite number > 0, got 0/)))
    expect(await run({ count: 1, options: { temperature: NaN } })).toEqual(E.left(expect.stringMatching(/temperature/)))
    expect(await run({ count: 0 })).toEqual(E.left(expect.stringMatching(/count must be an integer/)))
  })
})
