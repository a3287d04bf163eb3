/**
 * The conformance suite as vitest tests for one backend in Node: every case of cases.ts on cpu
 * (the reference) and on the backend, one test per case comparing them within the case's
 * tolerance. The backend's start is the caller's (`start`), so that webgpu can pass its options.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { CASES, compare, runAll, type CaseResult } from './cases.js'

/** Registers the suite for `backend`; `start` makes it the active backend (default: initBackend). */
export const conformanceSuite = (backend: string, start: () => Promise<unknown> = () => initBackend(backend)): void => {
  describe(`conformance of ${backend} with cpu`, () => {
    let reference: Record<string, CaseResult>
    let results: Record<string, CaseResult>

    beforeAll(async () => {
      await initBackend('cpu')
      reference = await runAll()
      await start()
      results = await runAll()
    }, 600_000)

    const worst: string[] = []
    // CONFORMANCE_REPORT=1 prints each case's largest differences (the figures in docs/gpu.md).
    afterAll(() => {
      if (process.env.CONFORMANCE_REPORT === '1') console.log(`${backend} vs cpu, worst per case:\n${worst.join('\n')}`)
    })

    for (const c of CASES) {
      it(c.name, () => {
        const diffs = compare(c, results[c.name], reference[c.name])
        const top = (f: (d: (typeof diffs)[number]) => number) => Math.max(...diffs.map(f))
        worst.push(`  ${c.name}: rel ${top((d) => d.rel).toExponential(1)}, abs ${top((d) => d.abs).toExponential(1)}`)
        expect(diffs.length).toBeGreaterThan(0)
        const failed = diffs.filter((d) => !d.ok).map((d) => `${d.output}: rel ${d.rel.toExponential(2)}, abs ${d.abs.toExponential(2)} (${d.bound})`)
        expect(failed, `${backend}: ${c.name}`).toEqual([])
      })
    }
  })
}
