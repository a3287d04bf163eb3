/**
 * Sharded Hugging Face checkpoints (spec/fixtures/gpt2-tiny-sharded, written from gpt2-tiny by
 * scripts/fixtures/make_gpt2_sharded_fixture.py through PyTorch): the same parameters as the
 * one-file fixture, float32 or quantized while loading; an index that disagrees with its
 * shards is one error naming the file and the tensor.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import * as T from '../../src/core/tree.js'
import { loadGpt2Folder } from '../../src/io/hf-gpt2.js'
import { forEachShardTensor, readShardIndex, shardHeaders, SHARD_INDEX } from '../../src/io/hf-shards.js'
import { gpt2DecodingStep } from '../../src/models/gpt2/decoder.js'
import { disposeQuantTree } from '../../src/quant/matrix.js'

const ONE = join(import.meta.dirname, '../fixtures/gpt2-tiny')
const SHARDED = join(import.meta.dirname, '../fixtures/gpt2-tiny-sharded')
let tmp = ''

beforeAll(async () => {
  await initBackend('wasm')
  tmp = await mkdtemp(join(tmpdir(), 'minigpt-shards-'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

describe('a sharded checkpoint', () => {
  it('reads every shard, in both passes, into one buffer the size of the largest shard', async () => {
    const index = await readShardIndex(SHARDED)
    if (E.isLeft(index)) throw new Error(index.left.message)
    const sizes = await Promise.all(index.right.shards.map(async (f) => (await stat(join(SHARDED, f))).size))
    expect(new Set(sizes).size).toBeGreaterThan(1) // shards of different sizes
    const buffers = new Set<ArrayBufferLike>()
    const headers = await shardHeaders(SHARDED, index.right)
    if (E.isLeft(headers)) throw new Error(headers.left.message)
    const seen: string[] = []
    const r = await forEachShardTensor(SHARDED, index.right, (entry) => {
      buffers.add(entry.bytes.buffer)
      seen.push(entry.name)
      return E.right(undefined)
    })
    expect(E.isRight(r)).toBe(true)
    expect(seen.sort()).toEqual([...headers.right.keys()].sort())
    expect(buffers.size).toBe(1)
    expect([...buffers][0]?.byteLength).toBe(Math.max(...sizes))
  })

  it("has several shards and loads to the one-file checkpoint's tensors", async () => {
    const index = JSON.parse(await readFile(join(SHARDED, SHARD_INDEX), 'utf8'))
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(2)
    const [a, b] = await Promise.all([loadGpt2Folder(ONE)(), loadGpt2Folder(SHARDED)()])
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('load failed')
    const fa = T.flatten<tf.Tensor>(a.right.params)
    const fb = T.flatten<tf.Tensor>(b.right.params)
    expect([...fb.keys()]).toEqual([...fa.keys()])
    for (const [name, x] of fa) expect(Array.from((fb.get(name) as tf.Tensor).dataSync()), name).toEqual(Array.from(x.dataSync()))
    T.dispose(a.right.params)
    T.dispose(b.right.params)
  })

  it.each(['int8', 'q4'] as const)('quantizes while loading (%s) to the one-file result', async (weights) => {
    const [a, b] = await Promise.all([loadGpt2Folder(ONE, { weights })(), loadGpt2Folder(SHARDED, { weights })()])
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('load failed')
    const ids = tf.tensor2d([[336, 40, 77, 258]], undefined, 'int32')
    const f = gpt2DecodingStep(a.right.config)
    expect(Array.from(f(b.right.params, ids).logits.dataSync())).toEqual(Array.from(f(a.right.params, ids).logits.dataSync()))
    disposeQuantTree(a.right.params)
    disposeQuantTree(b.right.params)
  })

  /** A copy of the sharded fixture whose index is edited, loaded: the error. */
  const withIndex = async (name: string, edit: (weightMap: Record<string, string>) => void) => {
    const dir = join(tmp, name)
    await cp(SHARDED, dir, { recursive: true })
    const index = JSON.parse(await readFile(join(dir, SHARD_INDEX), 'utf8'))
    edit(index.weight_map)
    await writeFile(join(dir, SHARD_INDEX), JSON.stringify(index))
    const r = await loadGpt2Folder(dir)()
    if (E.isRight(r)) throw new Error(`${name}: loaded`)
    return r.left.message
  }

  it('names the shard and the tensor where the index and the shards disagree', async () => {
    const moved = await withIndex('moved', (m) => {
      m['transformer.ln_f.bias'] = 'model-00001-of-00004.safetensors'
    })
    expect(moved).toMatch(
      /model-00001-of-00004\.safetensors: lacks tensor 'transformer\.ln_f\.bias', which model\.safetensors\.index\.json puts in it$|model-0000\d-of-00004\.safetensors: holds tensor 'transformer\.ln_f\.bias', which model\.safetensors\.index\.json puts in model-00001-of-00004\.safetensors$/,
    )
    const unlisted = await withIndex('unlisted', (m) => {
      delete m['transformer.wpe.weight']
    })
    expect(unlisted).toMatch(/holds tensor 'transformer\.wpe\.weight', which model\.safetensors\.index\.json does not list$/)
    const outside = await withIndex('outside', (m) => {
      m['transformer.wte.weight'] = '../gpt2-tiny/model.safetensors'
    })
    expect(outside).toMatch(
      /model\.safetensors\.index\.json: weight_map maps 'transformer\.wte\.weight' to "\.\.\/gpt2-tiny\/model\.safetensors", not a \.safetensors file name in this folder$/,
    )
    const absent = await withIndex('absent', (m) => {
      m['transformer.wte.weight'] = 'model-00009-of-00009.safetensors'
    })
    expect(absent).toMatch(/model-00009-of-00009\.safetensors/)
  })
})
