/**
 * The quick examples run as documented (`node examples/NN-….mjs` after `npm run build`), from
 * a scratch folder, and print what their comments promise. (04–07 train or need a checkpoint;
 * the CLI specs cover those paths.)
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cwd = mkdtempSync(join(tmpdir(), 'examples-'))
const run = (name: string, ...args: string[]) => execFileSync(process.execPath, [join(root, 'examples', name), ...args], { cwd, encoding: 'utf8' })

describe.skipIf(!existsSync(join(root, 'dist/index.js')))('examples', () => {
  afterAll(() => rmSync(cwd, { recursive: true, force: true }))

  it('00-compose: the README example', () => {
    const out = run('00-compose.mjs')
    expect(out).toMatch(/output shape \[ 8, 4 \]/)
    expect(out).toMatch(/parameters 1348 \[ '0\.weight', '0\.bias', '3\.weight', '3\.bias' \]/)
  })

  it('01-causal-mask: exact zeros above the diagonal, NaN from the notebook hint, a picture', () => {
    const out = run('01-causal-mask.mjs')
    expect(out).toMatch(/ 0\.00  -inf  -inf  -inf  -inf/)
    expect(out).toMatch(/NaN/)
    expect(readFileSync(join(cwd, 'out/causal-mask.svg'), 'utf8')).toMatch(/^<svg/)
  })

  it('02-dataset: the embedded corpus, its vocabulary and an encoded name', () => {
    const out = run('02-dataset.mjs')
    expect(out).toMatch(/^\d{4,} names \(embedded corpus/)
    expect(out).toMatch(/vocabulary: \d+ tokens = <PAD> <SOS> <EOS>/)
    expect(out).toMatch(/decoded back: /)
  })

  it('03-decoder: 160,529 parameters and logits [2, 10, 81]', () => {
    const out = run('03-decoder.mjs')
    expect(out).toMatch(/parameters: 160,529/)
    expect(out).toMatch(/logits \[2, 10, 81\]/)
    expect(out).toMatch(/num_heads must divide embed_dim=64, got 5/)
  })
})
