import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import * as T from '../../src/core/tree.js'
import { loadMiniGpt } from '../../src/io/minigpt-checkpoint.js'
import { miniGptFromBytes, miniGptToBytes, type CheckpointBytes, type MiniGptCheckpoint } from '../../src/io/minigpt-state-dict.js'
import { stateDict } from '../../src/models/minigpt/checkpoint.js'
import { serializeSafetensors } from '../../src/io/safetensors.js'

const fixture = fileURLToPath(new URL('../fixtures/minigpt-tiny', import.meta.url))
const files = (): CheckpointBytes => ({
  config: new Uint8Array(readFileSync(join(fixture, 'config.json'))),
  vocab: new Uint8Array(readFileSync(join(fixture, 'vocab.json'))),
  model: new Uint8Array(readFileSync(join(fixture, 'model.safetensors'))),
})

const ok = (r: E.Either<{ message: string }, MiniGptCheckpoint>): MiniGptCheckpoint => {
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}
const error = (r: E.Either<{ message: string }, MiniGptCheckpoint>): string => {
  if (E.isRight(r)) throw new Error('expected an error')
  return r.left.message
}
const values = (c: MiniGptCheckpoint) => [...T.flatten(c.params)].map(([n, t]) => [n, Array.from(t.dataSync())] as const)

describe('miniGptFromBytes: a checkpoint folder from bytes (browser-safe)', () => {
  let onDisk: MiniGptCheckpoint
  beforeAll(async () => {
    await initBackend('cpu')
    const r = await loadMiniGpt(fixture)()
    onDisk = ok(r)
  })

  it('gives what loadMiniGpt gives for the same folder', () => {
    const c = ok(miniGptFromBytes(files()))
    expect(c.config).toEqual(onDisk.config)
    expect(c.vocab.tokens).toEqual(onDisk.vocab.tokens)
    expect(values(c)).toEqual(values(onDisk))
    T.dispose(c.params)
  })

  it('takes the JSON files as text too, and reads back what stateDict writes', () => {
    const f = files()
    const model = serializeSafetensors(stateDict(onDisk.config, onDisk.params), { format: 'pt' })
    const c = ok(miniGptFromBytes({ config: JSON.stringify(onDisk.config), vocab: JSON.stringify(onDisk.vocab.tokens), model }))
    expect(values(c)).toEqual(values(onDisk))
    T.dispose(c.params)
    expect(ok(miniGptFromBytes({ ...f, config: new TextDecoder().decode(f.config as Uint8Array) })).config).toEqual(onDisk.config)
  })

  it('miniGptToBytes gives the three files back: they load to the same checkpoint', () => {
    const bytes = miniGptToBytes(onDisk, { origin: 'spec' })
    const c = ok(miniGptFromBytes(bytes))
    expect(c.config).toEqual(onDisk.config)
    expect(c.vocab.tokens).toEqual(onDisk.vocab.tokens)
    expect(values(c)).toEqual(values(onDisk))
    expect(JSON.parse(bytes.config as string)).toEqual(onDisk.config)
    T.dispose(c.params)
  })

  it('names the file and the problem, as loadMiniGpt does, and leaves no tensors behind', () => {
    const f = files()
    const config = JSON.parse(new TextDecoder().decode(f.config as Uint8Array)) as Record<string, unknown>
    const before = tf.memory().numTensors
    expect(error(miniGptFromBytes({ ...f, config: '' }))).toBe('config.json: file is empty')
    expect(error(miniGptFromBytes({ ...f, config: '{"vocab_size": ' }))).toMatch(/^config\.json: not valid JSON \(/)
    expect(error(miniGptFromBytes({ ...f, config: JSON.stringify({ ...config, num_heads: 5 }) }))).toMatch(/^config\.json: num_heads: must divide embed_dim=16, got 5/)
    expect(error(miniGptFromBytes({ ...f, vocab: '{"a": 1}' }))).toMatch(/^vocab\.json: expected a list of strings/)
    expect(error(miniGptFromBytes({ ...f, vocab: '["<PAD>", "<SOS>", "<EOS>", "a"]' }))).toBe('vocab.json: has 4 tokens but config.json says vocab_size=67')
    expect(error(miniGptFromBytes({ ...f, model: new Uint8Array(0) }))).toBe('model.safetensors: file is empty')
    expect(error(miniGptFromBytes({ ...f, model: f.model.subarray(0, f.model.length - 100) }))).toMatch(/^model\.safetensors: .*(truncat|end)/i)
    const wrong = error(miniGptFromBytes({ ...f, config: JSON.stringify({ ...config, ff_dim: 64 }) }))
    expect(wrong).toMatch(/^model\.safetensors: does not match config\.json/)
    expect(wrong).toMatch(/layers\.0\.ff\.net\.0\.weight' has shape \[16, 32\], expected \[16, 64\]/)
    expect(error(miniGptFromBytes({ ...f, model: new Uint8Array(0) }, { config: 'a/config.json', vocab: 'a/vocab.json', model: 'a/model.safetensors' }))).toBe(
      'a/model.safetensors: file is empty',
    )
    expect(tf.memory().numTensors).toBe(before)
  })
})
