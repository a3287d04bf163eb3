/**
 * `minigpt gpt2 quantize` and `gpt2 generate --weights int8|q4` against the tiny fixture: a
 * quantized folder that generates float32's greedy continuation in int8 (whose every step's
 * margin this fixture's spec/quant/gpt2.spec.ts checks), `--cache bfloat16`, and one-line errors.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gpt2Command } from '../../src/cli/gpt2.js'

const TINY = join('spec', 'fixtures', 'gpt2-tiny')
let tmp = ''
let golden: { greedy: { prompt_text: string; new_ids: number[] } }

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'minigpt-cli-quant-'))
  golden = JSON.parse(await readFile(join(TINY, 'golden.json'), 'utf8'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

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

describe('gpt2 quantize and generate --weights', () => {
  it.each([
    ['8', 'int8'],
    ['4', 'q4'],
  ])('--bits %s writes a %s folder that generates', async (bits, format) => {
    const out = join(tmp, format)
    const q = await run('quantize', '--model', TINY, '--out', out, '--bits', bits, '--json')
    expect(q.stderr).toBe('')
    expect(JSON.parse(q.stdout)).toEqual({ out, format })
    const g = await run('generate', '--model', out, '--weights', format, '--prompt', golden.greedy.prompt_text, '--greedy', '--max-new-tokens', '10', '--json')
    expect(g.code).toBe(0)
    const ids = JSON.parse(g.stdout).ids as number[]
    expect(ids).toHaveLength(10)
    if (format === 'int8') expect(ids).toEqual(golden.greedy.new_ids)
    // A float folder quantized while loading decodes the same tokens as the saved folder.
    const atLoad = await run('generate', '--model', TINY, '--weights', format, '--prompt', golden.greedy.prompt_text, '--greedy', '--max-new-tokens', '10', '--json')
    expect(JSON.parse(atLoad.stdout).ids).toEqual(ids)
  })

  it('refuses a quantized folder without --weights, and bad flag values, in one line', async () => {
    const out = join(tmp, 'int8')
    const f = await run('generate', '--model', out, '--prompt', 'x', '--json')
    expect(f.code).toBe(1)
    expect(f.stderr).toMatch(/^minigpt: .*model\.safetensors: holds quantized int8 weights .*\n$/)
    const w = await run('generate', '--model', TINY, '--weights', 'int4', '--prompt', 'x')
    expect(w.stderr).toBe('minigpt: --weights must be f32, int8 or q4, got "int4"\n')
    const b = await run('quantize', '--model', TINY, '--out', join(tmp, 'x'), '--bits', '3')
    expect(b.stderr).toBe('minigpt: --bits must be 4 or 8, got "3"\n')
    const c = await run('generate', '--model', TINY, '--cache', 'float16', '--prompt', 'x')
    expect(c.stderr).toBe('minigpt: --cache must be float32 or bfloat16, got "float16"\n')
  })

  it('--cache bfloat16 generates the greedy continuation of float32 (int8 weights too) on this fixture', async () => {
    for (const weights of ['f32', 'int8']) {
      const g = await run(
        'generate',
        '--model',
        TINY,
        '--weights',
        weights,
        '--cache',
        'bfloat16',
        '--prompt',
        golden.greedy.prompt_text,
        '--greedy',
        '--max-new-tokens',
        '10',
        '--json',
      )
      expect(g.code).toBe(0)
      expect(JSON.parse(g.stdout).ids).toEqual(golden.greedy.new_ids)
    }
  })
})
