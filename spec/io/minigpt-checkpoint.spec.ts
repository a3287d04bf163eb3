import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync, existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import * as T from '../../src/core/tree.js'
import { loadMiniGpt, saveMiniGpt, type MiniGptCheckpoint } from '../../src/io/minigpt-checkpoint.js'
import { parseSafetensors } from '../../src/io/safetensors.js'
import { miniGpt } from '../../src/models/minigpt/model.js'
import { crossEntropy } from '../../src/train/loss.js'

const fixture = fileURLToPath(new URL('../fixtures/minigpt-tiny', import.meta.url))
const golden = JSON.parse(readFileSync(join(fixture, 'golden.json'), 'utf8')) as {
  state_dict_keys: string[]
  sequences: { text: string; input_ids: number[]; logits: number[][] }[]
  batch: { input_ids: number[][]; target_ids: number[][]; loss_mean: number }
}

const load = async (dir: string): Promise<MiniGptCheckpoint> => {
  const r = await loadMiniGpt(dir)()
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

const loadError = async (dir: string): Promise<string> => {
  const r = await loadMiniGpt(dir)()
  if (E.isRight(r)) throw new Error('expected an error')
  return r.left.message
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

const tmp: string[] = []
const tempCopy = () => {
  const d = mkdtempSync(join(tmpdir(), 'ckpt-'))
  tmp.push(d)
  cpSync(fixture, d, { recursive: true })
  return d
}

describe('Mini-GPT checkpoints', () => {
  let ckpt: MiniGptCheckpoint
  beforeAll(async () => {
    await initBackend('cpu')
    ckpt = await load(fixture)
  })
  afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })))

  it('loads a state_dict saved by the seed notebook and gives its logits to 1e-5', () => {
    const model = miniGpt(ckpt.config)
    for (const s of golden.sequences) {
      const logits = tf.tidy(() => model.apply(ckpt.params, { ids: tf.tensor2d([s.input_ids], undefined, 'int32') }, { training: false }).logits)
      expect(logits.shape).toEqual([1, s.input_ids.length, ckpt.config.vocab_size])
      expect(maxAbsDiff(logits.dataSync(), s.logits.flat())).toBeLessThan(1e-5)
      logits.dispose()
    }
  })

  it('gives the notebook loss on a padded batch (PAD targets ignored)', () => {
    const model = miniGpt(ckpt.config)
    const loss = tf.tidy(() =>
      crossEntropy(
        model.apply(ckpt.params, { ids: tf.tensor2d(golden.batch.input_ids, undefined, 'int32') }, { training: false }).logits,
        tf.tensor2d(golden.batch.target_ids, undefined, 'int32'),
        ckpt.config.pad_idx,
      ),
    )
    expect(Math.abs(loss.dataSync()[0] - golden.batch.loss_mean)).toBeLessThan(1e-5)
  })

  it('reads the vocabulary and config as written', () => {
    expect(ckpt.vocab.tokens.slice(0, 3)).toEqual(['<PAD>', '<SOS>', '<EOS>'])
    expect(ckpt.vocab.tokens).toHaveLength(ckpt.config.vocab_size)
  })

  it('writes the same state_dict names and layouts PyTorch wrote, pe buffer included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'))
    tmp.push(dir)
    const r = await saveMiniGpt(dir, ckpt)()
    expect(E.isRight(r)).toBe(true)
    const ours = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))))
    const theirs = parseSafetensors(new Uint8Array(readFileSync(join(fixture, 'model.safetensors'))))
    if (E.isLeft(ours) || E.isLeft(theirs)) throw new Error('parse failed')
    expect([...ours.right.tensors.keys()].sort()).toEqual([...golden.state_dict_keys].sort())
    for (const [name, e] of theirs.right.tensors) {
      const o = ours.right.tensors.get(name)
      expect(o?.shape, name).toEqual(e.shape)
      expect(o?.dtype).toBe('F32')
      expect(maxAbsDiff(new Float32Array(o!.bytes.slice().buffer), new Float32Array(e.bytes.slice().buffer)), name).toBeLessThan(1e-6)
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('save then load gives identical logits for a freshly initialised model', async () => {
    const model = miniGpt(ckpt.config)
    const params = model.init(key(3))
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'))
    tmp.push(dir)
    await saveMiniGpt(dir, { ...ckpt, params })()
    const back = await load(dir)
    const ids = tf.tensor2d([[1, 5, 9, 12, 2]], undefined, 'int32')
    const a = model.apply(params, { ids }, { training: false }).logits.dataSync()
    const b = model.apply(back.params, { ids }, { training: false }).logits.dataSync()
    expect(Array.from(b)).toEqual(Array.from(a))
    T.dispose(params)
    T.dispose(back.params)
  })

  describe('bad folders: one clear message naming the file', () => {
    it('missing folder or file', async () => {
      expect(await loadError('/nonexistent/dir')).toMatch(/config\.json: no such file/)
      const d = tempCopy()
      rmSync(join(d, 'model.safetensors'))
      expect(await loadError(d)).toMatch(/model\.safetensors: no such file/)
    })
    it('empty config', async () => {
      const d = tempCopy()
      writeFileSync(join(d, 'config.json'), '')
      expect(await loadError(d)).toMatch(/config\.json: file is empty/)
    })
    it('invalid config field', async () => {
      const d = tempCopy()
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'))
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, num_heads: 5 }))
      expect(await loadError(d)).toMatch(/config\.json: num_heads: must divide embed_dim=16, got 5/)
    })
    it('tensors that do not match the config', async () => {
      const d = tempCopy()
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'))
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, ff_dim: 64 }))
      const m = await loadError(d)
      expect(m).toMatch(/model\.safetensors: does not match config\.json/)
      expect(m).toMatch(/layers\.0\.ff\.net\.0\.weight' has shape \[16, 32\], expected \[16, 64\]/)
    })
    it('a truncated safetensors file', async () => {
      const d = tempCopy()
      const bytes = readFileSync(join(d, 'model.safetensors'))
      writeFileSync(join(d, 'model.safetensors'), bytes.subarray(0, bytes.length - 100))
      expect(await loadError(d)).toMatch(/model\.safetensors: .*(truncat|end)/i)
    })
    it('a vocab.json that is not a list of strings', async () => {
      const d = tempCopy()
      writeFileSync(join(d, 'vocab.json'), JSON.stringify({ a: 1 }))
      expect(await loadError(d)).toMatch(/vocab\.json: expected a list of strings/)
      writeFileSync(join(d, 'vocab.json'), JSON.stringify(['<PAD>', '<SOS>', '<EOS>', 'a']))
      expect(await loadError(d)).toMatch(/vocab\.json: has 4 tokens but config\.json says vocab_size=67/)
    })
  })

  it('leaves no tensors behind after a failed load', async () => {
    const d = tempCopy()
    const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'))
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, ff_dim: 64 }))
    const before = tf.memory().numTensors
    await loadError(d)
    expect(tf.memory().numTensors).toBe(before)
    expect(existsSync(d)).toBe(true)
  })
})
