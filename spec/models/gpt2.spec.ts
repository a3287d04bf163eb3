/**
 * GPT-2 conformance: the graph and the Hugging Face folder loader against the PyTorch
 * reference fixtures (spec/fixtures/gpt2-tiny{,-f16}, made by scripts/fixtures/make_gpt2_fixture.py),
 * KV-cache decoding, causal invariance, presets, save → load, and every load error.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { fc, test } from '@fast-check/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import * as tree from '../../src/core/tree.js'
import { GPT2_PRESETS, type Gpt2Config } from '../../src/models/gpt2/config.js'
import { gpt2, gpt2ParamCount, gpt2Shapes, type Gpt2Params } from '../../src/models/gpt2/model.js'
import { loadGpt2Folder, saveGpt2Folder, type Gpt2Folder, type LoadError } from '../../src/io/hf-gpt2.js'
import { parseSafetensors, serializeSafetensors, toFloat32, type TensorInput } from '../../src/io/safetensors.js'
import { gpt2Decoder, gpt2DecodingStep } from '../../src/models/gpt2/decoder.js'
import { generate } from '../../src/sample/engine.js'
import { greedySampler } from '../../src/sample/samplers.js'

const FIXTURES = ['gpt2-tiny', 'gpt2-tiny-f16'] as const
type Fixture = (typeof FIXTURES)[number]

interface Golden {
  readonly param_count: number
  readonly tokenizer: readonly { readonly text: string; readonly ids: readonly number[] }[]
  readonly sequences: readonly { readonly input_ids: readonly number[]; readonly logits: readonly (readonly number[])[] }[]
  readonly greedy: { readonly prompt_ids: readonly number[]; readonly new_ids: readonly number[] }
}

const fixtureDir = (f: Fixture) => join('spec', 'fixtures', f)
const loaded = {} as Record<Fixture, Gpt2Folder>
const golden = {} as Record<Fixture, Golden>
let tmp = ''

const unwrap = <A>(e: E.Either<LoadError, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

beforeAll(async () => {
  await initBackend('cpu')
  tmp = await mkdtemp(join(tmpdir(), 'minigpt-gpt2-'))
  for (const f of FIXTURES) {
    loaded[f] = unwrap(await loadGpt2Folder(fixtureDir(f))())
    golden[f] = JSON.parse(await readFile(join(fixtureDir(f), 'golden.json'), 'utf8')) as Golden
  }
})
afterAll(async () => {
  for (const f of FIXTURES) tree.dispose(loaded[f].params)
  await rm(tmp, { recursive: true, force: true })
})

/** Logits [T, vocab] of one sequence, full recomputation. */
const logitsOf = (config: Gpt2Config, params: Gpt2Params, ids: readonly number[]): number[][] =>
  tf.tidy(
    () =>
      gpt2(config)
        .apply(params, { ids: tf.tensor2d([[...ids]], [1, ids.length], 'int32') }, EVAL)
        .logits.arraySync()[0],
  )

const maxAbsDiff = (a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number => {
  expect(a.length).toBe(b.length)
  let m = 0
  a.forEach((row, i) => {
    expect(row.length).toBe(b[i].length)
    row.forEach((v, j) => {
      m = Math.max(m, Math.abs(v - b[i][j]))
    })
  })
  return m
}

describe.each(FIXTURES)('%s against the PyTorch reference', (f) => {
  it('gives the golden logits to 1e-4', () => {
    const { config, params } = loaded[f]
    for (const s of golden[f].sequences) expect(maxAbsDiff(logitsOf(config, params, s.input_ids), s.logits)).toBeLessThan(1e-4)
  })

  it('continues the prompt greedily with exactly the golden tokens (generation engine, KV cache)', async () => {
    const { config, params } = loaded[f]
    const decoder = gpt2Decoder(config, params)
    const before = tf.memory().numTensors
    const g = golden[f].greedy
    const r = await generate(decoder, { prompt: g.prompt_ids, maxNewTokens: g.new_ids.length, sampler: greedySampler }, key(0))
    expect(r.tokens).toEqual(g.new_ids)
    expect(tf.memory().numTensors).toBe(before) // every cache released
    decoder.dispose()
  })

  it('tokenizes the golden strings to the same ids', () => {
    for (const c of golden[f].tokenizer) expect(loaded[f].tokenizer.encode(c.text)).toEqual(c.ids)
  })

  it('has the golden parameter count', () => {
    expect(tree.count(loaded[f].params)).toBe(golden[f].param_count)
    expect(gpt2ParamCount(loaded[f].config)).toBe(golden[f].param_count)
  })
})

describe('the parameter tree', () => {
  it("flattens to Hugging Face's names exactly (the F32 file's keys without prefix and buffers)", async () => {
    const file = unwrap(
      E.mapLeft((e: { message: string }) => ({ _tag: 'LoadError', kind: 'file', path: '', message: e.message }) as LoadError)(
        parseSafetensors(new Uint8Array(await readFile(join(fixtureDir('gpt2-tiny'), 'model.safetensors')))),
      ),
    )
    const hfNames = [...file.tensors.keys()].map((k) => k.replace(/^transformer\./, '')).filter((k) => !/\.attn\.(bias|masked_bias)$/.test(k))
    const names = [...tree.flatten(loaded['gpt2-tiny'].params).keys()]
    expect([...names].sort()).toEqual([...hfNames].sort())
    expect(names.slice(0, 8)).toEqual([
      'wte.weight',
      'wpe.weight',
      'h.0.ln_1.weight',
      'h.0.ln_1.bias',
      'h.0.attn.c_attn.weight',
      'h.0.attn.c_attn.bias',
      'h.0.attn.c_proj.weight',
      'h.0.attn.c_proj.bias',
    ])
    expect(names.slice(-6)).toEqual(['h.1.mlp.c_fc.weight', 'h.1.mlp.c_fc.bias', 'h.1.mlp.c_proj.weight', 'h.1.mlp.c_proj.bias', 'ln_f.weight', 'ln_f.bias'])
    // Conv1D layout [in, out].
    expect(tree.shapes(loaded['gpt2-tiny'].params)['h.0.attn.c_attn.weight']).toEqual([32, 96])
    expect(tree.shapes(loaded['gpt2-tiny'].params)['h.0.mlp.c_proj.weight']).toEqual([128, 32])
  })

  it('gpt2Shapes describes exactly what init makes (paths, order, shapes)', () => {
    const c: Gpt2Config = { vocab_size: 11, n_positions: 7, n_embd: 8, n_layer: 3, n_head: 2, n_inner: 20 }
    const params = gpt2(c).init(key(1))
    expect(Object.entries(tree.shapes(gpt2Shapes(c)))).toEqual(Object.entries(tree.shapes(params)))
    tree.dispose(params)
  })

  it.each([
    ['gpt2', 124_439_808],
    ['gpt2-medium', 354_823_168],
    ['gpt2-large', 774_030_080],
    ['gpt2-xl', 1_557_611_200],
  ] as const)('counts the %s preset: %i parameters', (name, n) => {
    expect(gpt2ParamCount(GPT2_PRESETS[name])).toBe(n)
  })
})

describe('decoding', () => {
  it('KV-cache decoding gives the logits of full recomputation at every step', () => {
    const { config, params } = loaded['gpt2-tiny']
    const ids = golden['gpt2-tiny'].sequences[2].input_ids.slice(0, 20)
    const full = logitsOf(config, params, ids)
    const model = gpt2(config)
    tf.tidy(() => {
      let out = model.apply(params, { ids: tf.tensor2d([ids.slice(0, 6)], [1, 6], 'int32'), returnCache: true }, EVAL)
      expect(maxAbsDiff(out.logits.arraySync()[0], full.slice(0, 6))).toBeLessThan(1e-5)
      for (let t = 6; t < ids.length; t++) {
        out = model.apply(params, { ids: tf.tensor2d([[ids[t]]], [1, 1], 'int32'), cache: out.cache }, EVAL)
        expect(out.cache[0].k.shape).toEqual([1, config.n_head, t + 1, config.n_embd / config.n_head])
        expect(maxAbsDiff(out.logits.arraySync()[0], [full[t]])).toBeLessThan(1e-5)
      }
    })
  })

  it('the decoding step (a precomputed head, the last position only) gives the last row of the full logits', () => {
    const { config, params } = loaded['gpt2-tiny']
    const ids = [336, 40, 77, 258, 326]
    const full = logitsOf(config, params, ids)
    const last = tf.tidy(() => {
      const wteT = tf.transpose(params.wte.weight) as tf.Tensor2D
      const out = gpt2DecodingStep(config, wteT)(params, tf.tensor2d([ids], [1, 5], 'int32'))
      return out.logits.arraySync()[0]
    })
    expect(last.length).toBe(1)
    expect(maxAbsDiff(last, [full[4]])).toBeLessThan(1e-6)
  })

  it('refuses more positions than n_positions', () => {
    const { config, params } = loaded['gpt2-tiny']
    const ids = Array.from({ length: 33 }, () => 1)
    expect(() => logitsOf(config, params, ids)).toThrow(/33 positions exceed n_positions=32/)
  })

  test.prop([fc.array(fc.integer({ min: 0, max: 336 }), { minLength: 2, maxLength: 16 }), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 336 })], { numRuns: 8 })(
    'is causal: changing token t leaves the logits before t unchanged',
    (ids, at, token) => {
      const t = Math.min(at, ids.length - 1)
      const { config, params } = loaded['gpt2-tiny']
      const a = logitsOf(config, params, ids)
      const b = logitsOf(
        config,
        params,
        ids.map((x, i) => (i === t ? token : x)),
      )
      expect(maxAbsDiff(a.slice(0, t), b.slice(0, t))).toBe(0)
    },
  )
})

describe('save → load', () => {
  it('round-trips the F16 fixture to identical logits, in the layout save_pretrained writes', async () => {
    const { config, params, tokenizer } = loaded['gpt2-tiny-f16']
    const dir = join(tmp, 'saved')
    unwrap(await saveGpt2Folder(dir, config, params, tokenizer)())
    const again = unwrap(await loadGpt2Folder(dir)())
    const ids = golden['gpt2-tiny-f16'].sequences[2].input_ids
    expect(logitsOf(again.config, again.params, ids)).toEqual(logitsOf(config, params, ids))
    expect(again.tokenizer.encode('The wizard named Gandalf')).toEqual(tokenizer.encode('The wizard named Gandalf'))
    tree.dispose(again.params)

    const file = parseSafetensors(new Uint8Array(await readFile(join(dir, 'model.safetensors'))))
    if (E.isLeft(file)) throw new Error(file.left.message)
    expect(file.right.metadata).toEqual({ format: 'pt' })
    const keys = [...file.right.tensors.keys()]
    expect(keys.every((k) => k.startsWith('transformer.'))).toBe(true)
    expect(keys).not.toContain('lm_head.weight')
    expect(keys).toEqual([...keys].sort())
    expect(new Set([...file.right.tensors.values()].map((t) => t.dtype))).toEqual(new Set(['F32']))

    const hf = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(Object.keys(hf)).toEqual(Object.keys(hf).sort())
    expect(hf).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: 337,
      n_positions: 32,
      n_embd: 32,
      n_layer: 2,
      n_head: 4,
      n_inner: null,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      bos_token_id: 336,
      eos_token_id: 336,
      resid_pdrop: 0.1,
      embd_pdrop: 0.1,
      attn_pdrop: 0.1,
      initializer_range: 0.02,
      scale_attn_weights: true,
    })
    const tc = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>
    expect(tc).toMatchObject({ tokenizer_class: 'GPT2Tokenizer', eos_token: '<|endoftext|>', model_max_length: 32 })
  })

  it('refuses to save parameters that do not match the config', async () => {
    const { config, params, tokenizer } = loaded['gpt2-tiny']
    const r = await saveGpt2Folder(join(tmp, 'bad'), { ...config, n_layer: 3 }, params, tokenizer)()
    expect(E.isLeft(r) && r.left.message).toMatch(/missing tensor 'h\.2\.ln_1\.weight'/)
  })
})

// -------------------------------------------------------------------------------------------
// Errors: each one message naming the file.

const source = join('spec', 'fixtures', 'gpt2-tiny')

/** A copy of the F32 fixture with changes: a config patch, a tensor list transform, files left out. */
const variant = async (
  name: string,
  change: {
    readonly config?: (c: Record<string, unknown>) => Record<string, unknown> | undefined
    readonly tensors?: (ts: TensorInput[]) => TensorInput[]
    readonly without?: readonly string[]
  } = {},
): Promise<string> => {
  const dir = join(tmp, name)
  await mkdir(dir, { recursive: true })
  for (const f of ['vocab.json', 'merges.txt']) if (!(change.without ?? []).includes(f)) await copyFile(join(source, f), join(dir, f))
  const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8')) as Record<string, unknown>
  const patched = change.config === undefined ? config : change.config(config)
  if (patched !== undefined) await writeFile(join(dir, 'config.json'), JSON.stringify(patched))
  const parsed = parseSafetensors(new Uint8Array(await readFile(join(source, 'model.safetensors'))))
  if (E.isLeft(parsed)) throw new Error(parsed.left.message)
  const list: TensorInput[] = [...parsed.right.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes }))
  await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(change.tensors === undefined ? list : change.tensors(list)))
  return dir
}

const loadError = async (dir: string): Promise<LoadError> => {
  const r = await loadGpt2Folder(dir)()
  if (E.isRight(r)) {
    tree.dispose(r.right.params)
    throw new Error('expected a load error')
  }
  expect(r.left.message).not.toMatch(/\n/)
  return r.left
}

const f32 = (t: TensorInput) => toFloat32({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: (t as { bytes: Uint8Array }).bytes })

describe('load errors', () => {
  it('a folder that does not exist', async () => {
    const e = await loadError(join(tmp, 'nowhere'))
    expect(e).toMatchObject({ kind: 'folder', message: `${join(tmp, 'nowhere')}: no such folder` })
  })

  it('a folder without config.json', async () => {
    const dir = await variant('no-config', { config: () => undefined })
    const e = await loadError(dir)
    expect(e.kind).toBe('config')
    expect(e.message).toBe(`${join(dir, 'config.json')}: no such file (a Hugging Face GPT-2 folder needs config.json)`)
  })

  it('an invalid config.json, naming the field', async () => {
    const dir = await variant('bad-config', { config: (c) => ({ ...c, n_head: 5 }) })
    expect((await loadError(dir)).message).toBe(`${join(dir, 'config.json')}: n_head: must divide n_embd=32, got 5`)
  })

  it('a config that disagrees with the tensors: the key and both shapes', async () => {
    const dir = await variant('mismatch', { config: (c) => ({ ...c, n_embd: 48 }) })
    const e = await loadError(dir)
    expect(e.kind).toBe('shape')
    expect(e.message).toMatch(new RegExp(`^${join(dir, 'model.safetensors')}: tensor 'wte\\.weight' has shape \\[337, 32\\], but config\\.json implies \\[337, 48\\]`))
  })

  it('a missing tensor', async () => {
    const dir = await variant('missing', { tensors: (ts) => ts.filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.bias') })
    const e = await loadError(dir)
    expect(e).toMatchObject({ kind: 'missing', message: `${join(dir, 'model.safetensors')}: missing tensor 'h.1.mlp.c_fc.bias' (expected shape [128])` })
  })

  it('an unexpected tensor', async () => {
    const dir = await variant('unexpected', { tensors: (ts) => [...ts, { name: 'transformer.h.0.attn.q_proj.weight', dtype: 'F32', shape: [1], data: [0] }] })
    expect((await loadError(dir)).message).toBe(`${join(dir, 'model.safetensors')}: unexpected tensor 'h.0.attn.q_proj.weight'`)
  })

  it('an unsupported dtype', async () => {
    const dir = await variant('dtype', {
      tensors: (ts) => ts.map((t) => (t.name === 'transformer.ln_f.bias' ? { name: t.name, dtype: 'F64', shape: t.shape, data: Float64Array.from(f32(t)) } : t)),
    })
    const e = await loadError(dir)
    expect(e).toMatchObject({
      kind: 'dtype',
      message: `${join(dir, 'model.safetensors')}: tensor 'transformer.ln_f.bias' has dtype F64, unsupported: GPT-2 weights must be F32, F16 or BF16`,
    })
  })

  it('a dtype safetensors itself does not know', async () => {
    const dir = await variant('dtype-unknown')
    const bytes = new Uint8Array(await readFile(join(dir, 'model.safetensors')))
    const text = Buffer.from(bytes).toString('latin1')
    const patched = text.replace('"transformer.ln_f.bias":{"dtype":"F32"', '"transformer.ln_f.bias":{"dtype":"C64"')
    await writeFile(join(dir, 'model.safetensors'), new Uint8Array(Buffer.from(patched, 'latin1')))
    const e = await loadError(dir)
    expect(e.kind).toBe('dtype')
    expect(e.message).toMatch(new RegExp(`^${join(dir, 'model.safetensors')}: .*C64`))
  })

  it('no model.safetensors', async () => {
    const dir = await variant('no-weights')
    await rm(join(dir, 'model.safetensors'))
    expect((await loadError(dir)).message).toBe(`${join(dir, 'model.safetensors')}: no such file`)
  })

  it('an lm_head.weight that is not wte.weight', async () => {
    const dir = await variant('untied', {
      tensors: (ts) => {
        const wte = ts.find((t) => t.name === 'transformer.wte.weight') as TensorInput
        const head = f32(wte).slice()
        head[5] += 1
        return [...ts, { name: 'lm_head.weight', dtype: 'F32', shape: wte.shape, data: head }]
      },
    })
    const e = await loadError(dir)
    expect(e.kind).toBe('tied')
    expect(e.message).toMatch(/lm_head\.weight differs from wte\.weight \(first at element 5/)
  })

  it('tensors given both with and without the prefix', async () => {
    const dir = await variant('twice', { tensors: (ts) => [...ts, { ...(ts.find((t) => t.name === 'transformer.ln_f.bias') as TensorInput), name: 'ln_f.bias' }] })
    expect((await loadError(dir)).message).toMatch(/tensor 'ln_f\.bias' appears both with and without the 'transformer\.' prefix/)
  })

  it('vocab.json without merges.txt', async () => {
    const dir = await variant('half-tokenizer', { without: ['merges.txt'] })
    expect((await loadError(dir)).message).toBe(`${join(dir, 'merges.txt')}: no such file (the folder has vocab.json; a tokenizer needs vocab.json and merges.txt)`)
  })

  it("no tokenizer files: GPT-2's default tokenizer, refused when larger than vocab_size", async () => {
    const dir = await variant('no-tokenizer', { without: ['vocab.json', 'merges.txt'] })
    expect((await loadError(dir)).message).toBe(
      `${join(dir, 'config.json')}: GPT-2's default tokenizer (no vocab.json in the folder) has 50257 tokens, more than config.json's vocab_size 337`,
    )
  })

  it("no tokenizer files and GPT-2's vocabulary: loads GPT-2's own tokenizer", async () => {
    const c: Gpt2Config = { vocab_size: 50257, n_positions: 4, n_embd: 4, n_layer: 1, n_head: 1 }
    const dir = join(tmp, 'default-tokenizer')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'config.json'), JSON.stringify(c))
    const tensors: TensorInput[] = [...tree.flatten(gpt2Shapes(c))].map(([name, t]) => ({ name, dtype: 'BF16', shape: t.shape, data: new Float32Array(t.size).fill(0.5) }))
    await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors))
    const r = unwrap(await loadGpt2Folder(dir)())
    expect(r.tokenizer.encode('Hello world')).toEqual([15496, 995])
    expect(Array.from(r.params.ln_f.bias.dataSync())).toEqual([0.5, 0.5, 0.5, 0.5])
    tree.dispose(r.params)
  })
})
