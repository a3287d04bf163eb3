/**
 * The built package under plain Node — no test-runner transpiler — as users run it: import
 * `dist/index.js`, start the wasm backend (gradients must be registered), train a few steps.
 * `npm test` builds dist/ before running the specs.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

const script = `
import { initBackend, key, foldIn, tree, optim, train, minigpt, data } from 'minigpt-fp'
await initBackend('wasm')
const names = ['Gwen', 'Bran', 'Maël', 'Éowyn']
const vocab = data.buildVocab(names)
const c = { vocab_size: vocab.tokens.length, embed_dim: 16, num_heads: 2, num_layers: 1, ff_dim: 32, max_len: 8, dropout: 0.1, pad_idx: vocab.pad }
const params = minigpt.miniGpt(c).init(key(0))
const before = Array.from(params.head.bias.dataSync())
const opt = optim.adamw({ lr: 1e-2 })
const t = train.trainer(minigpt.namesLoss(c), opt, { params, opt: opt.init(params) })
const batch = data.padBatch(names.map((n) => data.encodeExample(vocab, n, c.max_len)), vocab.pad)
const losses = []
for (let i = 0; i < 5; i++) losses.push(await t.step(batch, foldIn(key(1), i)))
const after = Array.from(t.state.params.head.bias.dataSync())
console.log(JSON.stringify({ losses, changed: after.some((v, i) => v !== before[i]), count: tree.count(t.state.params) }))
`

describe('the built package', () => {
  it.skipIf(!existsSync(`${root}/dist/index.js`))('trains under plain Node from dist/', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
    const r = JSON.parse(out.trim().split('\n').pop() as string) as { losses: number[]; changed: boolean; count: number }
    expect(r.losses).toHaveLength(5)
    for (const l of r.losses) expect(Number.isFinite(l)).toBe(true)
    expect(r.losses[4]).toBeLessThan(r.losses[0])
    expect(r.changed).toBe(true)
    expect(r.count).toBeGreaterThan(1000)
  })
})

describe('the package surface', () => {
  const pkg = JSON.parse(execFileSync('cat', [`${root}/package.json`], { encoding: 'utf8' })) as {
    bin: Record<string, string>
    exports: Record<string, { import: string; types: string } | string>
    scripts: Record<string, string>
    dependencies: Record<string, string>
  }
  const built = existsSync(`${root}/dist/index.js`)

  it.skipIf(!built)('every export and the bin exist in dist/, with types', () => {
    for (const [name, e] of Object.entries(pkg.exports)) {
      if (typeof e === 'string') continue
      expect(existsSync(`${root}/${e.import}`), name).toBe(true)
      expect(existsSync(`${root}/${e.types}`), name).toBe(true)
    }
    for (const file of Object.values(pkg.bin)) expect(existsSync(`${root}/${file}`), file).toBe(true)
  })

  it.skipIf(!built)('the subpaths import under plain Node, and minigpt-fp/sample loads no tfjs', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const s = await import('minigpt-fp/sample')
      const before = Object.keys((await import('node:module')).createRequire(import.meta.url).cache).filter((k) => k.includes('@tensorflow')).length
      const t = await import('minigpt-fp/testing')
      console.log(JSON.stringify({ sample: typeof s.generate, topP: typeof s.topP, testing: typeof t.checkCausalLm, tfjsBeforeTesting: before }))
    `,
      ],
      { cwd: root, encoding: 'utf8' },
    )
    expect(JSON.parse(out.trim())).toEqual({ sample: 'function', topP: 'function', testing: 'function', tfjsBeforeTesting: 0 })
  })

  it.skipIf(!built)('the minigpt binary answers --help', () => {
    const out = execFileSync(process.execPath, [`${root}/${pkg.bin.minigpt}`, '--help'], { encoding: 'utf8' })
    expect(out).toMatch(/^minigpt — Mini-GPT and GPT-2/)
    expect(out).toMatch(/minigpt demo/)
  })

  it('the scripts run files that exist, and fast-check is a runtime dependency (minigpt-fp/testing needs it)', () => {
    expect(pkg.scripts.demo).toMatch(/node dist\/cli\/bin\.js demo/)
    expect(pkg.dependencies['fast-check']).toBeDefined()
  })
})
