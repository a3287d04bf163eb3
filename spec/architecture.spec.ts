/**
 * The folder order of CONTRIBUTING.md, checked: every relative import in src/ runs from a folder
 * to one above it in {@link ORDER} (or within its own folder), a model's folder never imports
 * another model's, tfjs internals are used in one module only, and src/sample (the tfjs-free `minigpt-fp/sample` layer) reaches no tfjs
 * package through any import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')

/** The folders of src/, first to last: a folder imports only from folders before it. */
const ORDER = ['core', 'backend', 'quant', 'mask', 'nn', 'optim', 'data', 'sample', 'train', 'models', 'io', 'viz', 'testing', 'cli', 'entry'] as const

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })

/** The import specifiers of a file (static, re-exports, dynamic, side-effect), as TypeScript's scanner reads them. */
const importsOf = (file: string): string[] => ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName)

/** The src-relative path of a relative import of `file` (`.js` → `.ts`). */
const target = (file: string, spec: string): string => relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts')))

/** The folder of a src-relative path: its first segment, or '' for the entry files directly in src/. */
const folderOf = (path: string): string => (path.includes('/') ? path.split('/')[0] : '')

/** The model a src-relative path belongs to (`models/gpt2/…` → 'gpt2'), or undefined. */
const modelOf = (path: string): string | undefined => {
  const parts = path.split('/')
  return parts[0] === 'models' && parts.length > 2 ? parts[1] : undefined
}

const files = walk(src)
const edges = files.flatMap((f) =>
  importsOf(f)
    .filter((s) => s.startsWith('.'))
    .map((s) => ({ from: relative(src, f), to: target(f, s) })),
)

describe('folder order (CONTRIBUTING.md)', () => {
  it('names every folder of src/', () => {
    const folders = [...new Set(files.map((f) => folderOf(relative(src, f))))].filter((d) => d !== '').sort()
    expect(folders).toEqual([...ORDER].sort())
  })

  it('finds the imports it checks (the scanner reads multi-line, type-only and dynamic imports)', () => {
    expect(edges.length).toBeGreaterThan(300)
    expect(edges).toContainEqual({ from: 'cli/gpt2.ts', to: 'io/hf-gpt2.ts' })
    expect(edges).toContainEqual({ from: 'models/minigpt/decoder.ts', to: 'sample/model.ts' })
  })

  it('has no import running upward', () => {
    const rank = (path: string): number => ORDER.indexOf(folderOf(path) as (typeof ORDER)[number])
    const upward = edges.filter((e) => folderOf(e.from) !== '' && rank(e.to) > rank(e.from)).map((e) => `${e.from} → ${e.to}`)
    expect(upward).toEqual([])
  })

  it('keeps each model to its own folder', () => {
    const across = edges.filter((e) => modelOf(e.to) !== undefined && modelOf(e.to) !== modelOf(e.from) && folderOf(e.from) === 'models').map((e) => `${e.from} → ${e.to}`)
    expect(across).toEqual([])
  })

  it('reaches into tfjs internals only in core/tfjs-internals.ts', () => {
    const internals = [
      /\.state\.(gradientDepth|activeTape)/,
      /typedArrayFromHeap/,
      /new tf\.Tensor\(/,
      /kernelName: 'Identity'/,
      /firstUse/,
      /asm\?*\.memory/,
      /tf\.backend\(\) as unknown/,
    ]
    const offenders = files
      .filter((f) => relative(src, f) !== 'core/tfjs-internals.ts')
      .flatMap((f) => internals.filter((re) => re.test(readFileSync(f, 'utf8'))).map((re) => `${relative(src, f)}: ${re.source}`))
    expect(offenders).toEqual([])
  })

  it('keeps src/sample free of tfjs: no module it reaches imports a @tensorflow package', () => {
    const reached = new Set<string>()
    const visit = (path: string): void => {
      if (reached.has(path)) return
      reached.add(path)
      for (const e of edges) if (e.from === path) visit(e.to)
    }
    files
      .map((f) => relative(src, f))
      .filter((p) => folderOf(p) === 'sample')
      .forEach(visit)
    const tfjs = [...reached].filter((p) => importsOf(join(src, p)).some((s) => s.startsWith('@tensorflow/')))
    expect(tfjs).toEqual([])
    expect([...reached].filter((p) => !['sample', 'core', 'data'].includes(folderOf(p)))).toEqual([])
  })
})
