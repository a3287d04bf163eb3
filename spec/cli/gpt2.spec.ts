/**
 * `minigpt gpt2 …` through gpt2Command with captured output, against the tiny fixtures:
 * the documented JSON shapes, the golden greedy continuation, streaming, fine-tuning to a
 * folder that loads again, and one-line errors.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gpt2Command } from '../../src/cli/gpt2.js'
import { parseSafetensors, serializeSafetensors, toFloat32, type TensorInput } from '../../src/io/safetensors.js'

const TINY = join('spec', 'fixtures', 'gpt2-tiny')
const F16 = join('spec', 'fixtures', 'gpt2-tiny-f16')
let tmp = ''
let golden: {
  sequences: { text: string; input_ids: number[]; logits: number[][] }[]
  greedy: { prompt_text: string; new_ids: number[]; new_text: string }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'minigpt-cli-gpt2-'))
  golden = JSON.parse(await readFile(join(TINY, 'golden.json'), 'utf8'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

/** Runs `minigpt gpt2 …argv` with captured stdout/stderr. */
const run = async (...argv: string[]) => {
  let stdout = ''
  let stderr = ''
  const code = await gpt2Command(argv, {
    stdout: (s) => {
      stdout += s
    },
    stderr: {
      write: (s: string) => {
        stderr += s
      },
      isTTY: false,
    },
  })
  return { code, stdout, stderr }
}

/** Expects exit code 1, nothing on stdout and exactly `minigpt: <message>` on stderr (no stack). */
const expectError = (r: { code: number; stdout: string; stderr: string }, message: string | RegExp) => {
  expect(r.code).toBe(1)
  expect(r.stdout).toBe('')
  expect(r.stderr.split('\n')).toHaveLength(2) // one line and its newline
  expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/)
  const line = r.stderr.slice(0, -1)
  if (typeof message === 'string') expect(line).toBe(`minigpt: ${message}`)
  else expect(line).toMatch(message)
}

describe('gpt2 generate', () => {
  it('--greedy --json prints {text, ids}: the golden continuation', async () => {
    const r = await run('generate', '--model', TINY, '--prompt', golden.greedy.prompt_text, '--greedy', '--max-new-tokens', '10', '--json', '--backend', 'cpu')
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as Record<string, unknown>
    expect(Object.keys(out)).toEqual(['text', 'ids'])
    expect(out.ids).toEqual(golden.greedy.new_ids)
    expect(out.text).toBe(golden.greedy.new_text)
  })

  it('prints prompt + continuation, and --stream prints the same as it comes', async () => {
    const args = ['--model', F16, '--prompt', 'The wizard', '--greedy', '--max-new-tokens', '8']
    const plain = await run('generate', ...args)
    const streamed = await run('generate', ...args, '--stream')
    expect(plain.code).toBe(0)
    expect(plain.stdout.startsWith('The wizard')).toBe(true)
    expect(streamed).toEqual(plain)
  })

  it('samples reproducibly from --seed with the sampling options, and runs beam search', async () => {
    const args = ['--model', TINY, '--prompt', 'The', '--temperature', '0.8', '--top-k', '20', '--top-p', '0.9', '--repetition-penalty', '1.2', '--json']
    const a = await run('generate', ...args, '--seed', '3')
    const b = await run('generate', ...args, '--seed', '3')
    expect(a.code).toBe(0)
    expect(a.stdout).toBe(b.stdout)
    expect((JSON.parse(a.stdout) as { ids: number[] }).ids.length).toBeLessThanOrEqual(20)
    const beam = await run('generate', '--model', TINY, '--prompt', 'The', '--num-beams', '3', '--no-repeat-ngram', '2', '--max-new-tokens', '6', '--json')
    expect(beam.code).toBe(0)
    const ids = (JSON.parse(beam.stdout) as { ids: number[] }).ids
    expect(ids.length).toBeGreaterThan(0)
    expect(ids.length).toBeLessThanOrEqual(6)
  })

  it('refuses a prompt longer than n_positions', async () => {
    expectError(await run('generate', '--model', TINY, '--prompt', 'dragons '.repeat(40)), /^minigpt: the prompt has \d+ tokens, more than the model's n_positions \(32\)$/)
  })

  it('refuses invalid sampling options, naming the flag', async () => {
    expectError(await run('generate', '--model', TINY, '--prompt', 'The', '--top-p', '1.5'), '--top-p must be in (0, 1], got 1.5')
    expectError(await run('generate', '--model', TINY, '--prompt', 'The', '--temperature', 'hot'), '--temperature must be a number, got "hot"')
    expectError(await run('generate', '--model', TINY, '--stream', '--json'), '--stream prints the text as it comes; it cannot be combined with --json')
  })
})

describe('gpt2 score', () => {
  it("--json prints {loss, perplexity, tokens}: the PyTorch fixture's mean cross-entropy", async () => {
    const s = golden.sequences[2]
    let sum = 0
    for (let t = 0; t + 1 < s.input_ids.length; t++) {
      const row = s.logits[t]
      const max = Math.max(...row)
      sum += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[s.input_ids[t + 1]]
    }
    const r = await run('score', '--model', TINY, '--text', s.text, '--json', '--backend', 'cpu')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { loss: number; perplexity: number; tokens: number }
    expect(Object.keys(out)).toEqual(['loss', 'perplexity', 'tokens'])
    expect(out.tokens).toBe(31)
    expect(Math.abs(out.loss - sum / 31)).toBeLessThan(1e-5)
    expect(out.perplexity).toBeCloseTo(Math.exp(out.loss), 10)
  })

  it('refuses texts of fewer than 2 tokens or more than n_positions', async () => {
    expectError(await run('score', '--model', TINY, '--text', 'a'), 'the text has 1 token: scoring needs at least 2 (one to predict from, one to predict)')
    expectError(await run('score', '--model', TINY, '--text', 'dragons '.repeat(40)), /^minigpt: the text has \d+ tokens, more than the model's n_positions \(32\)$/)
  })
})

describe('gpt2 finetune', () => {
  it('fine-tunes with a progress bar on stderr and saves a folder that loads and scores', async () => {
    const data = join(tmp, 'names.txt')
    await writeFile(data, 'Gandalf\nGaladriel\nFaramir\nThranduil\nÉowyn\nAëlwen\nBrân\nIdril\nTuor\n'.repeat(4))
    const out = join(tmp, 'tuned')
    const r = await run(
      'finetune',
      '--model',
      TINY,
      '--data',
      data,
      '--out',
      out,
      '--epochs',
      '2',
      '--block-size',
      '16',
      '--batch-size',
      '4',
      '--warmup',
      '2',
      '--lr',
      '1e-3',
      '--json',
    )
    expect(r.code).toBe(0)
    const summary = JSON.parse(r.stdout) as { out: string; blocks: number; steps: number; trainLoss: number[] }
    expect(Object.keys(summary)).toEqual(['out', 'blocks', 'steps', 'trainLoss'])
    expect(summary.out).toBe(out)
    expect(summary.steps).toBe(Math.ceil(summary.blocks / 4) * 2)
    expect(summary.trainLoss).toHaveLength(2)
    expect(r.stderr).toMatch(/^fine-tune [█░]+ \d+% \d+\/\d+ · epoch 1\/2 · loss /)
    expect(r.stderr).toMatch(/fine-tuned \d+ blocks of 16 tokens, \d+ steps: train loss by epoch /)
    const scored = await run('score', '--model', out, '--text', 'Gandalf\nGaladriel\n', '--json')
    expect(scored.code).toBe(0)
  })

  it('refuses data with fewer tokens than one block, and a missing data file', async () => {
    const data = join(tmp, 'short.txt')
    await writeFile(data, 'Gandalf')
    expectError(
      await run('finetune', '--model', TINY, '--data', data, '--out', join(tmp, 'x')),
      new RegExp(`^minigpt: ${data}: \\d+ tokens, fewer than --block-size 32: no training block$`),
    )
    expectError(await run('finetune', '--model', TINY, '--data', join(tmp, 'none.txt'), '--out', join(tmp, 'x')), `${join(tmp, 'none.txt')}: no such file`)
  })
})

describe('errors: one line on stderr, exit code 1', () => {
  /** A copy of the F32 fixture, changed. */
  const variant = async (
    name: string,
    change: { config?: (c: Record<string, unknown>) => Record<string, unknown> | undefined; tensors?: (ts: TensorInput[]) => TensorInput[] },
  ) => {
    const dir = join(tmp, name)
    await mkdir(dir, { recursive: true })
    for (const f of ['vocab.json', 'merges.txt']) await copyFile(join(TINY, f), join(dir, f))
    const config = JSON.parse(await readFile(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>
    const patched = change.config === undefined ? config : change.config(config)
    if (patched !== undefined) await writeFile(join(dir, 'config.json'), JSON.stringify(patched))
    const parsed = parseSafetensors(new Uint8Array(await readFile(join(TINY, 'model.safetensors'))))
    if (E.isLeft(parsed)) throw new Error(parsed.left.message)
    const list: TensorInput[] = [...parsed.right.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes }))
    await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(change.tensors === undefined ? list : change.tensors(list)))
    return dir
  }

  it('a folder without config.json', async () => {
    const dir = await variant('no-config', { config: () => undefined })
    expectError(await run('generate', '--model', dir, '--prompt', 'The'), `${join(dir, 'config.json')}: no such file (a Hugging Face GPT-2 folder needs config.json)`)
  })

  it('a config that disagrees with the tensors: the key and both shapes', async () => {
    const dir = await variant('mismatch', { config: (c) => ({ ...c, n_inner: 64 }) })
    expectError(
      await run('score', '--model', dir, '--text', 'The wizard'),
      `${join(dir, 'model.safetensors')}: tensor 'h.0.mlp.c_fc.weight' has shape [32, 128], but config.json implies [32, 64]; tensor 'h.0.mlp.c_fc.bias' has shape [128], but config.json implies [64]; tensor 'h.0.mlp.c_proj.weight' has shape [128, 32], but config.json implies [64, 32]; tensor 'h.1.mlp.c_fc.weight' has shape [32, 128], but config.json implies [32, 64]; and 2 more`,
    )
  })

  it('a missing tensor', async () => {
    const dir = await variant('missing', { tensors: (ts) => ts.filter((t) => t.name !== 'transformer.ln_f.weight') })
    expectError(await run('generate', '--model', dir, '--prompt', 'The'), `${join(dir, 'model.safetensors')}: missing tensor 'ln_f.weight' (expected shape [32])`)
  })

  it('an unsupported dtype', async () => {
    const dir = await variant('dtype', {
      tensors: (ts) =>
        ts.map((t) =>
          t.name === 'transformer.wpe.weight'
            ? { name: t.name, dtype: 'I32', shape: t.shape, data: Int32Array.from(toFloat32({ ...t, bytes: (t as { bytes: Uint8Array }).bytes }), Math.round) }
            : t,
        ),
    })
    expectError(
      await run('generate', '--model', dir, '--prompt', 'The'),
      `${join(dir, 'model.safetensors')}: tensor 'transformer.wpe.weight' has dtype I32, unsupported: GPT-2 weights must be F32, F16 or BF16`,
    )
  })

  it('usage errors', async () => {
    expectError(await run('generate', '--prompt', 'The'), 'gpt2: --model is required')
    expectError(await run('translate'), 'gpt2: unknown command "translate" (expected generate, quantize, score or finetune)')
    expectError(await run('generate', '--model', TINY, '--colour'), /^minigpt: Unknown option '--colour'/)
    expectError(await run('generate', '--model', TINY, '--backend', 'webgl'), '--backend must be wasm or cpu, got "webgl"')
  })

  it('prints the usage with --help', async () => {
    const r = await run('--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: minigpt gpt2 <command>/)
  })
})
