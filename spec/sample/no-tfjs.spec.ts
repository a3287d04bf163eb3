import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Every module reachable from `entry` by relative imports, and every bare specifier they import. */
const importGraph = (entry: string): { files: string[]; packages: Set<string> } => {
  const files: string[] = []
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (files.includes(file)) return
    files.push(file)
    const src = readFileSync(file, 'utf8')
    for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      else packages.add(spec)
    }
  }
  visit(entry)
  return { files, packages }
}

describe('minigpt-fp/sample', () => {
  it('loads without TensorFlow.js: its import graph reaches only fp-ts and io-ts', () => {
    const { files, packages } = importGraph(resolve(root, 'src/sample/index.ts'))
    expect(files.map((f) => f.slice(root.length + 1)).sort()).toEqual([
      'src/core/key.ts',
      'src/sample/beam.ts',
      'src/sample/engine.ts',
      'src/sample/explain.ts',
      'src/sample/index.ts',
      'src/sample/model.ts',
      'src/sample/options.ts',
      'src/sample/processors.ts',
      'src/sample/samplers.ts',
      'src/sample/slots.ts',
      'src/sample/softmax.ts',
    ])
    expect([...packages].sort()).toEqual(['fp-ts/lib/Either.js', 'fp-ts/lib/function.js', 'io-ts'])
  })
})
