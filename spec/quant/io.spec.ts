/**
 * Quantized GPT-2 folders: quantize at load, save (layout version 1), load back the same
 * model; a file with a wrong version, format, group size, scale count, dtype or tensor set is
 * one error naming the key or the tensor.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import * as T from '../../src/core/tree.js'
import { GPT2_FILES, loadGpt2Folder, saveQuantGpt2Folder, type QuantGpt2Folder } from '../../src/io/hf-gpt2.js'
import { QUANT_METADATA_KEY } from '../../src/io/quant-file.js'
import { parseSafetensors, serializeSafetensors, type TensorInput } from '../../src/io/safetensors.js'
import { gpt2DecodingStep } from '../../src/models/gpt2/decoder.js'
import { gpt2Shapes } from '../../src/models/gpt2/model.js'
import { disposeQuantTree, downloadQuantized } from '../../src/quant/matrix.js'
import type { QuantFormat } from '../../src/quant/quantize.js'
import { quantize } from '../../src/quant/tree.js'

const FIXTURE = join(import.meta.dirname, '../fixtures/gpt2-tiny')
const IDS = [[336, 40, 77, 258, 326, 265, 327, 11, 258]]

const logitsOf = (f: QuantGpt2Folder) => Array.from(gpt2DecodingStep(f.config)(f.params, tf.tensor2d(IDS, undefined, 'int32')).logits.dataSync())

const load = async (dir: string, weights: QuantFormat) => {
  const r = await loadGpt2Folder(dir, { weights })()
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

let tmp: string
beforeAll(async () => {
  await initBackend('wasm')
  tmp = await mkdtemp(join(tmpdir(), 'minigpt-quant-'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

describe.each(['int8', 'q4'] as const)('a %s folder', (format) => {
  let dir: string
  let loaded: QuantGpt2Folder
  beforeAll(async () => {
    dir = join(tmp, format)
    loaded = await load(FIXTURE, format)
    const saved = await saveQuantGpt2Folder(dir, loaded.config, loaded.params, loaded.tokenizer)()
    expect(E.isRight(saved)).toBe(true)
  })
  afterAll(() => disposeQuantTree(loaded.params))

  it('quantizes at load exactly as quantize does from the float tensors', async () => {
    const float = await loadGpt2Folder(FIXTURE)()
    if (E.isLeft(float)) throw new Error(float.left.message)
    const q = quantize(gpt2Shapes(float.right.config), float.right.params, format)
    const a = downloadQuantized(q.h[1].mlp.c_fc.weight)
    const b = downloadQuantized(loaded.params.h[1].mlp.c_fc.weight)
    expect(Array.from(a.bytes)).toEqual(Array.from(b.bytes))
    expect(Array.from(a.scales)).toEqual(Array.from(b.scales))
    disposeQuantTree(q)
    T.dispose(float.right.params)
  })

  it('loads back to the same logits, with its layout in __metadata__', async () => {
    const back = await load(dir, format)
    expect(logitsOf(back)).toEqual(logitsOf(loaded))
    const file = parseSafetensors(new Uint8Array(await readFile(join(dir, GPT2_FILES.weights))))
    if (E.isLeft(file)) throw new Error(file.left.message)
    expect(file.right.metadata).toEqual({
      [QUANT_METADATA_KEY]: '1',
      'quant.format': format,
      'quant.group_size': format === 'int8' ? 'row' : '32',
      'quant.scale_dtype': 'F32',
      model: 'gpt2',
    })
    const c = file.right.tensors.get('h.0.attn.c_attn.weight')
    expect([c?.dtype, c?.shape]).toEqual(format === 'int8' ? ['I8', [96, 32]] : ['U8', [96, 16]])
    expect(file.right.tensors.get('h.0.attn.c_attn.weight.scales')?.shape).toEqual(format === 'int8' ? [96] : [96, 1])
    disposeQuantTree(back.params)
  })

  it('is refused as float weights, and as the other format', async () => {
    const f = await loadGpt2Folder(dir)()
    expect(E.isLeft(f) && f.left.kind).toBe('quantized')
    expect(E.isLeft(f) && f.left.message).toMatch(new RegExp(`model.safetensors: holds quantized ${format} weights .* weights: '${format}'`))
    const other = await loadGpt2Folder(dir, { weights: format === 'int8' ? 'q4' : 'int8' })()
    expect(E.isLeft(other) && other.left.message).toMatch(new RegExp(`holds ${format} weights, but ${format === 'int8' ? 'q4' : 'int8'} was asked for`))
  })

  /** The folder with its model.safetensors rewritten by `edit` (tensors and metadata), loaded. */
  const loadEdited = async (name: string, edit: (t: TensorInput[], m: Record<string, string>) => void) => {
    const bad = join(tmp, `${format}-${name}`)
    await saveQuantGpt2Folder(bad, loaded.config, loaded.params, loaded.tokenizer)()
    const parsed = parseSafetensors(new Uint8Array(await readFile(join(bad, GPT2_FILES.weights))))
    if (E.isLeft(parsed)) throw new Error(parsed.left.message)
    const tensors: TensorInput[] = [...parsed.right.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.bytes }))
    const metadata = { ...parsed.right.metadata }
    edit(tensors, metadata)
    await writeFile(join(bad, GPT2_FILES.weights), serializeSafetensors(tensors, metadata))
    const r = await loadGpt2Folder(bad, { weights: format })()
    if (E.isRight(r)) throw new Error(`${name}: loaded`)
    return r.left
  }
  const at = (t: TensorInput[], name: string) => t.findIndex((x) => x.name === name)

  it('names the key of a wrong metadata version, format or group size', async () => {
    expect(
      (
        await loadEdited('version', (_, m) => {
          m[QUANT_METADATA_KEY] = '2'
        })
      ).message,
    ).toMatch(/"minigpt_fp.quant" is "2": this library reads layout version 1$/)
    expect(
      (
        await loadEdited('fmt', (_, m) => {
          m['quant.format'] = 'q3'
        })
      ).message,
    ).toMatch(/"quant.format" is "q3": expected "int8" or "q4"$/)
    const g = await loadEdited('group', (_, m) => {
      m['quant.group_size'] = '64'
    })
    expect(g.message).toMatch(new RegExp(`"quant.group_size" is "64": ${format} files have "${format === 'int8' ? 'row' : '32'}"$`))
    expect(g.message.startsWith(join(tmp, `${format}-group`, GPT2_FILES.weights))).toBe(true)
  })

  it('names the tensor of a wrong scale count, dtype, shape, or a missing or extra tensor', async () => {
    const scales = await loadEdited('scales', (t) => {
      const i = at(t, 'h.1.mlp.c_proj.weight.scales')
      t[i] = { name: t[i].name, dtype: 'F32', shape: [31], data: new Float32Array(31) }
    })
    expect(scales.kind).toBe('shape')
    expect(scales.message).toMatch(new RegExp(`tensor 'h.1.mlp.c_proj.weight.scales' has shape \\[31\\], expected \\[${format === 'int8' ? '32' : '32, 4'}\\]$`))
    const dtype = await loadEdited('dtype', (t) => {
      const i = at(t, 'wte.weight')
      t[i] = { ...t[i], dtype: format === 'int8' ? 'U8' : 'I8' } as TensorInput
    })
    expect(dtype.message).toMatch(
      new RegExp(`tensor 'wte.weight' has dtype ${format === 'int8' ? 'U8' : 'I8'}, expected ${format === 'int8' ? 'I8' : 'U8'} for ${format} weights$`),
    )
    const missing = await loadEdited('missing', (t) => {
      t.splice(at(t, 'ln_f.bias'), 1)
    })
    expect(missing.message).toMatch(/tensor 'ln_f.bias' is missing/)
    const extra = await loadEdited('extra', (t) => {
      t.push({ name: 'lm_head.weight', dtype: 'F32', shape: [1], data: [0] })
    })
    expect(extra.message).toMatch(/unexpected tensor 'lm_head.weight'/)
    const nan = await loadEdited('nan', (t) => {
      const i = at(t, 'wpe.weight.scales')
      const shape = t[i].shape
      t[i] = { name: t[i].name, dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(Number.NaN) }
    })
    expect(nan.message).toMatch(/tensor 'wpe.weight.scales' has a non-finite scale at 0/)
  })
})
