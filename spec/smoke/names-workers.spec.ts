/**
 * startNamesWorkers (src/io/names-workers.ts) forks worker processes that run the built
 * package (dist/io/names-worker.js), so it is checked from dist/ under plain Node: a pool of
 * two gives exactly the names one process gives with the same key, serves beam search, and
 * reports a bad backend as a value.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/minigpt-tiny', import.meta.url))

const script = `
import { initBackend, key, io, sample } from 'minigpt-fp'
await initBackend('wasm')
const ck = await io.loadMiniGpt(${JSON.stringify(fixture)})()
if (ck._tag === 'Left') throw new Error(ck.left.message)
const { config, params, vocab } = ck.right
const local = (request) => sample.generateNames(sample.miniGptDecoder(config, params), vocab, request, key(5))
const pool = await io.startNamesWorkers(ck.right, { workers: 2 })()
if (pool._tag === 'Left') throw new Error(pool.left)
const sampling = { count: 23, options: { temperature: 1.3, top_k: 20 } }
const beams = { count: 3, options: { num_beams: 4 } }
const [a, b, c, d] = [await pool.right.generate(sampling, key(5)), await local(sampling), await pool.right.generate(beams, key(5)), await local(beams)]
const bad = await pool.right.generate({ count: 2, options: { top_p: 7 } }, key(5))
await pool.right.close()
const failed = await io.startNamesWorkers(ck.right, { workers: 2, backend: 'tpu' })()
console.log(JSON.stringify({ size: pool.right.size, same: JSON.stringify(a) === JSON.stringify(b), n: a.right.length, beamSame: JSON.stringify(c) === JSON.stringify(d), bad, failed }))
`

describe('minigpt generate --workers (the built binary)', () => {
  it.skipIf(!existsSync(`${root}/dist/cli/bin.js`))('prints the names one process prints', () => {
    const run = (extra: string[]) =>
      JSON.parse(
        execFileSync(process.execPath, [`${root}/dist/cli/bin.js`, 'generate', '--model', fixture, '-n', '9', '--seed', '4', '--temperature', '1.2', '--json', ...extra], {
          cwd: root,
          encoding: 'utf8',
          timeout: 120_000,
        }),
      ) as { text: string }[]
    const alone = run([])
    expect(alone).toHaveLength(9)
    expect(run(['--workers', '2'])).toEqual(alone)
  })
})

describe('startNamesWorkers (from dist/)', () => {
  it.skipIf(!existsSync(`${root}/dist/io/names-worker.js`))('shares a request among worker processes with the one-process result', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    const r = JSON.parse(out.trim().split('\n').pop() as string) as {
      size: number
      same: boolean
      n: number
      beamSame: boolean
      bad: { _tag: string; left: string }
      failed: { _tag: string; left: string }
    }
    expect(r.size).toBe(2)
    expect(r.n).toBe(23)
    expect(r.same).toBe(true)
    expect(r.beamSame).toBe(true)
    expect(r.bad).toEqual({ _tag: 'Left', left: expect.stringMatching(/top_p/) })
    expect(r.failed._tag).toBe('Left')
    expect(r.failed.left).toMatch(/tpu/)
  })
})
