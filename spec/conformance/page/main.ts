/**
 * The conformance cases in a page (spec/web/conformance.spec.ts builds it with Vite and drives it
 * in headless Chromium): `window.runConformance(backend)` starts the backend and resolves to every
 * case's host results, which the spec compares with cpu's in Node.
 */
import { useBackend, webgpuAdapter } from '../../../src/backend/index.js'
import { runAll, type CaseResult } from '../cases.js'

declare global {
  interface Window {
    runConformance: (backend: string) => Promise<{ readonly error?: string; readonly adapter?: unknown; readonly results?: Record<string, CaseResult> }>
  }
}

window.runConformance = async (backend) => {
  const r = await useBackend(backend)()
  if (r._tag === 'Left') return { error: r.left.message }
  try {
    return { adapter: await webgpuAdapter(), results: await runAll() }
  } catch (e) {
    return { error: `${backend}: ${e instanceof Error ? e.message : String(e)}` }
  }
}
document.getElementById('status')!.textContent = 'ready'
