/**
 * examples/testing-own-model.mjs under plain Node, importing the built package by name
 * ('minigpt-fp', 'minigpt-fp/testing') as users do: it checks a hand-written model (which holds)
 * and its broken twin (which fails causal invariance with the counterexample in words).
 * `npm test` builds dist/ before running the specs.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('examples/testing-own-model.mjs', () => {
  it.skipIf(!existsSync(`${root}/dist/testing/index.js`))('prints what held for the model and the counterexample for the broken one', () => {
    const out = execFileSync(process.execPath, ['examples/testing-own-model.mjs'], { cwd: root, encoding: 'utf8' })
    const cut = out.indexOf('\nmy model that sees the future\n')
    const [good, bad] = [out.slice(0, cut), out.slice(cut)]
    expect(good).toContain('✓ causal invariance: held on 26 cases for my model')
    expect(good).not.toContain('✗')
    expect(bad).toMatch(/✗ causal invariance violated: changing the tokens after position 0 of \[\d, \d\] \(to \[\d, \d\]\) changed the logits at position 0 by/)
    expect(bad).toMatch(/✗ prefix consistency violated: /)
    expect(bad).toContain('✓ determinism: held on 11 cases')
  })

  it.skipIf(!existsSync(`${root}/dist/testing/index.js`))('the model holds and its twin fails with three different seeds', () => {
    for (const seed of ['1', '2', '3']) {
      const out = execFileSync(process.execPath, ['examples/testing-own-model.mjs', seed], { cwd: root, encoding: 'utf8' })
      const cut = out.indexOf('\nmy model that sees the future\n')
      expect(out.slice(0, cut)).not.toContain('✗')
      expect(out.slice(cut)).toMatch(/✗ causal invariance violated: /)
    }
  })
})
