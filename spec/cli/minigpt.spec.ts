import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'cli-'))
const NAMES = ['Gwen', 'Bran', 'Maël', 'Éowyn', 'Ciarán', 'Deirdre', 'Fionn', 'Niamh', 'Oisín', 'Brigid', 'Aodh', 'Tadhg', 'Siobhán', 'Cormac', 'Eithne', 'Lugh']
const data = join(work, 'names.txt')
const val = join(work, 'val.txt')

describe('minigpt CLI (train, generate, eval)', () => {
  beforeAll(() => {
    writeFileSync(data, '# a header line\n' + NAMES.join('\n') + '\n\n')
    writeFileSync(val, 'Gwenn\nBrann\n')
  })
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('trains, writes a checkpoint and pictures, and reports JSON on stdout only', async () => {
    const out = join(work, 'run')
    const r = await runCli(['train', '--data', data, '--val', val, '--epochs', '3', '--out', out, '--seed', '1', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout) as {
      epochs: number
      parameters: number
      vocab_size: number
      train_loss: number
      val_loss: number
      history: { epoch: number; trainLoss: number }[]
    }
    expect(j.epochs).toBe(3)
    expect(j.history.map((h) => h.epoch)).toEqual([1, 2, 3])
    expect(j.history[2].trainLoss).toBeLessThan(j.history[0].trainLoss)
    expect(Number.isFinite(j.val_loss)).toBe(true)
    for (const f of ['model.safetensors', 'config.json', 'vocab.json', 'loss-curve.svg', 'name-lengths.svg']) expect(existsSync(join(out, f)), f).toBe(true)
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual({
      vocab_size: j.vocab_size,
      embed_dim: 64,
      num_heads: 4,
      num_layers: 3,
      ff_dim: 256,
      max_len: 25,
      dropout: 0.1,
      pad_idx: 0,
    })
    expect(r.stderr).toMatch(/epoch 3\/3: train loss/)
  })

  it('generate --json prints [{text, logprob}] and the same seed gives the same names', async () => {
    const out = join(work, 'run')
    const a = await runCli(['generate', '--model', out, '-n', '4', '--prompt', 'Br', '--seed', '3', '--json'])
    const b = await runCli(['generate', '--model', out, '-n', '4', '--prompt', 'Br', '--seed', '3', '--json'])
    expect(a.code, a.stderr).toBe(0)
    const names = JSON.parse(a.stdout) as { text: string; logprob: number }[]
    expect(names).toHaveLength(4)
    for (const n of names) {
      expect(Object.keys(n).sort()).toEqual(['logprob', 'text'])
      expect(n.text.startsWith('Br')).toBe(true)
      expect(n.logprob).toBeLessThanOrEqual(0)
    }
    expect(b.stdout).toBe(a.stdout)
  })

  it('generate accepts the sampling flags, greedy and beams, and streams', async () => {
    const out = join(work, 'run')
    for (const flags of [
      ['--greedy'],
      ['--top-k', '5', '--top-p', '0.9'],
      ['--min-p', '0.05', '--repetition-penalty', '1.2'],
      ['--typical-p', '0.9', '--no-repeat-ngram', '2'],
      ['--num-beams', '3', '-n', '2'],
    ]) {
      const r = await runCli(['generate', '--model', out, '--json', ...flags])
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(0)
      expect(Array.isArray(JSON.parse(r.stdout))).toBe(true)
    }
    const greedy = await runCli(['generate', '--model', out, '--greedy', '-n', '1', '--json'])
    const streamed = await runCli(['generate', '--model', out, '--greedy', '-n', '1', '--stream'])
    expect(streamed.stdout.trim()).toBe((JSON.parse(greedy.stdout) as { text: string }[])[0].text)
  })

  it('generate refuses a bad --workers, and --workers with --stream', async () => {
    const out = join(work, 'run')
    const zero = await runCli(['generate', '--model', out, '--workers', '0'])
    expect(zero.code).not.toBe(0)
    expect(zero.stderr).toMatch(/--workers.*integer ≥ 1/)
    const both = await runCli(['generate', '--model', out, '--workers', '2', '--stream'])
    expect(both.code).not.toBe(0)
    expect(both.stderr).toMatch(/--stream does not combine with --workers/)
  })

  it('eval --json prints {loss, tokens}', async () => {
    const r = await runCli(['eval', '--model', join(work, 'run'), '--data', val, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout) as { loss: number; tokens: number }
    expect(Object.keys(j).sort()).toEqual(['loss', 'tokens'])
    expect(j.tokens).toBe(12) // "Gwenn" and "Brann": 5 characters + EOS each
    expect(j.loss).toBeGreaterThan(0)
  })

  it('a resumed run equals the uninterrupted one, bit for bit', async () => {
    const straight = join(work, 'straight')
    const resumed = join(work, 'resumed')
    expect((await runCli(['train', '--data', data, '--epochs', '4', '--out', straight, '--seed', '5'])).code).toBe(0)
    expect((await runCli(['train', '--data', data, '--epochs', '2', '--out', resumed, '--seed', '5'])).code).toBe(0)
    const r = await runCli(['train', '--data', data, '--epochs', '4', '--out', resumed, '--seed', '5'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/resuming from .*: 2 of 4 epochs done/)
    expect(readFileSync(join(resumed, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(true)
  })

  it('a run with another seed in the same folder is refused', async () => {
    const r = await runCli(['train', '--data', data, '--epochs', '4', '--out', join(work, 'straight'), '--seed', '6'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/^minigpt: .*another seed.*--fresh/)
  })

  it('--bucket trains and resumes bit for bit; resuming without --bucket is refused', async () => {
    const straight = join(work, 'bucket-straight')
    const resumed = join(work, 'bucket-resumed')
    expect((await runCli(['train', '--data', data, '--epochs', '3', '--out', straight, '--seed', '5', '--batch-size', '4', '--bucket'])).code).toBe(0)
    expect((await runCli(['train', '--data', data, '--epochs', '2', '--out', resumed, '--seed', '5', '--batch-size', '4', '--bucket'])).code).toBe(0)
    const refused = await runCli(['train', '--data', data, '--epochs', '3', '--out', resumed, '--seed', '5', '--batch-size', '4'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/^minigpt: .*with --bucket.*--fresh/)
    const r = await runCli(['train', '--data', data, '--epochs', '3', '--out', resumed, '--seed', '5', '--batch-size', '4', '--bucket'])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(join(resumed, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(true)
    // Bucketing changes the batches, so the weights differ from the uniform shuffle's after the same epochs.
    expect((await runCli(['train', '--data', data, '--epochs', '3', '--out', join(work, 'uniform3'), '--seed', '5', '--batch-size', '4'])).code).toBe(0)
    expect(readFileSync(join(work, 'uniform3', 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(false)
  })

  it.skipIf(!existsSync(join(root, 'dist/cli/bin.js')))('a killed run resumes and loses at most one epoch', async () => {
    const out = join(work, 'killed')
    const epochsSeen = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'dist/cli/bin.js'), 'train', '--data', data, '--epochs', '40', '--out', out, '--seed', '7'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let err = ''
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString()
        const m = [...err.matchAll(/epoch (\d+)\/40: train loss/g)]
        if (m.length >= 3) child.kill('SIGKILL')
      })
      child.on('exit', () => resolve(Math.max(0, ...[...err.matchAll(/epoch (\d+)\/40: train loss/g)].map((x) => Number(x[1])))))
      child.on('error', reject)
    })
    expect(epochsSeen).toBeGreaterThanOrEqual(3)
    const r = await runCli(['train', '--data', data, '--epochs', '41', '--out', out, '--seed', '7'])
    // The folder's run was started with 40 epochs; asking for 41 continues it from where it stopped.
    const m = /resuming from .*: (\d+) of 41 epochs done/.exec(r.stderr)
    expect(m, r.stderr).not.toBeNull()
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(epochsSeen)
  })

  describe('bad input: one line on stderr, non-zero exit, no stack trace', () => {
    const bad = async (argv: string[], pattern: RegExp) => {
      const r = await runCli(argv)
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(pattern)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    it('missing and empty files', async () => {
      await bad(['train', '--data', join(work, 'nope.txt'), '--out', join(work, 'x')], /^minigpt: .*nope\.txt: no such file/)
      const empty = join(work, 'empty.txt')
      writeFileSync(empty, '# only a comment\n\n')
      await bad(['train', '--data', empty, '--out', join(work, 'x')], /^minigpt: .*empty\.txt: no names in the file/)
      await bad(['generate', '--model', join(work, 'nowhere')], /^minigpt: .*config\.json: no such file/)
    })
    it('bad options', async () => {
      await bad(['train', '--data', data], /^minigpt: --out is required/)
      await bad(['train', '--data', data, '--out', join(work, 'x'), '--epochs', 'ten'], /^minigpt: --epochs must be an integer ≥ 1, got "ten"/)
      await bad(['train', '--data', data, '--out', join(work, 'x'), '--backend', 'tpu'], /^minigpt: --backend: unknown backend 'tpu': choose one of cpu, wasm, webgl, webgpu/)
      await bad(['train', '--data', data, '--out', join(work, 'x'), '--backend', 'webgl'], /^minigpt: --backend: webgl is only available in a browser/)
      await bad(['generate', '--model', join(work, 'run'), '--temperature', '0'], /^minigpt: temperature must be a finite number > 0, got 0/)
      await bad(['generate', '--model', join(work, 'run'), '--top-p', '1.5'], /^minigpt: top_p must be in \(0, 1\], got 1\.5/)
      await bad(['generate', '--model', join(work, 'run'), '--prompt', 'Zz€'], /^minigpt: prompt: characters not in the vocabulary: .*"€"/)
      await bad(['generate', '--model', join(work, 'run'), '--bogus'], /^minigpt: Unknown option '--bogus'/)
      await bad(['frobnicate'], /^minigpt: unknown command 'frobnicate'/)
    })
    it('a checkpoint whose tensors do not match its config, and a truncated file', async () => {
      const dir = join(work, 'run')
      const cfg = readFileSync(join(dir, 'config.json'), 'utf8')
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(cfg), ff_dim: 128 }))
      await bad(
        ['generate', '--model', dir],
        /^minigpt: .*model\.safetensors: does not match config\.json: tensor 'layers\.0\.ff\.net\.0\.weight' has shape \[64, 256\], expected \[64, 128\]/,
      )
      writeFileSync(join(dir, 'config.json'), cfg)
      const model = readFileSync(join(dir, 'model.safetensors'))
      writeFileSync(join(dir, 'model.safetensors'), model.subarray(0, 1000))
      await bad(['eval', '--model', dir, '--data', val], /^minigpt: .*model\.safetensors: /)
      writeFileSync(join(dir, 'model.safetensors'), model)
      writeFileSync(join(dir, 'vocab.json'), '{"a": 1}')
      await bad(['eval', '--model', dir, '--data', val], /^minigpt: .*vocab\.json: expected a list of strings/)
    })
  })
})
