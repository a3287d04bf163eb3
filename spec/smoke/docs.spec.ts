/**
 * The docs do not drift from the code: every name a code block in README.md or docs/*.md
 * imports from 'minigpt-fp', 'minigpt-fp/sample' or 'minigpt-fp/testing' exists in the built
 * package, and so does every `namespace.member` they use from the main entry's namespaces.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const files = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
const codeBlocks = (text: string) => [...text.matchAll(/```(?:ts|js|typescript|javascript)\n([\s\S]*?)```/g)].map((m) => m[1])
const NAMESPACES = ['tree', 'nn', 'mask', 'optim', 'train', 'data', 'minigpt', 'gpt2', 'sample', 'io', 'viz', 'codecs', 'quant']

/** The exported names of each entry point, read under plain Node from dist/. */
const exported = (): Record<string, string[]> =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
    const out = {}
    for (const spec of ['minigpt-fp', 'minigpt-fp/sample', 'minigpt-fp/testing']) out[spec] = Object.keys(await import(spec))
    const main = await import('minigpt-fp')
    for (const ns of ${JSON.stringify(NAMESPACES)}) out['ns:' + ns] = Object.keys(main[ns] ?? {})
    console.log(JSON.stringify(out))
  `,
      ],
      { cwd: root, encoding: 'utf8' },
    ),
  )

describe.skipIf(!existsSync(join(root, 'dist/index.js')))('code in the docs', () => {
  const names = exported()
  for (const file of files) {
    it(`${file}: its imports and namespace members exist`, () => {
      const missing: string[] = []
      for (const block of codeBlocks(readFileSync(join(root, file), 'utf8'))) {
        for (const m of block.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(minigpt-fp(?:\/sample|\/testing)?)'/g)) {
          for (const raw of m[1].split(',')) {
            const name = raw
              .trim()
              .replace(/^type\s+/, '')
              .split(/\s+as\s+/)[0]
            if (name !== '' && !raw.trim().startsWith('type ') && !names[m[2]].includes(name)) missing.push(`${m[2]}: ${name}`)
          }
        }
        const importsMain = /from\s*'minigpt-fp'/.test(block)
        for (const m of block.matchAll(/\b([a-z0-9]+)\.([A-Za-z_]\w*)\b/g)) {
          if (importsMain && NAMESPACES.includes(m[1]) && new RegExp(`[{,]\\s*${m[1]}\\s*[,}]`).test(block) && !names[`ns:${m[1]}`].includes(m[2])) missing.push(`${m[1]}.${m[2]}`)
        }
      }
      expect(missing).toEqual([])
    })
  }
})
