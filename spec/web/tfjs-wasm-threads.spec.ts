/**
 * examples/web/tfjs-wasm-threads.ts, without a browser: tfjs-backend-wasm's threaded glue is
 * minified with Oxc (Vite 8's minifier, `minifySync`), its factory taken out as tfjs takes it
 * (`toString()`), and that text evaluated alone in a fresh realm shaped like a pthread worker's
 * global scope, then called as the worker calls it. As installed, the minified factory reads the
 * enclosing arrow's `_scriptDir` by a mangled name that does not exist there (the page's "e is
 * not defined"); with `_scriptDir` moved into the factory it gets as far as instantiating wasm.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import vm from 'node:vm'
import { minifySync } from 'vite'
import { describe, expect, it } from 'vitest'
import { closeThreadedFactory, tfjsWasmThreads } from '../../examples/web/tfjs-wasm-threads.js'

const require = createRequire(import.meta.url)
const gluePath = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js')
const glue = readFileSync(gluePath, 'utf8')

/** The glue's factory as tfjs hands it to a pthread worker: the module's export, as text. */
const factoryText = (code: string): string => {
  const mod: { exports: unknown } = { exports: {} }
  vm.runInContext(code, vm.createContext({ module: mod, exports: mod.exports }))
  return `var WasmBackendModuleThreadedSimd = ${String(mod.exports)}`
}

/**
 * Evaluates the factory's text in a new realm laid out as tfjs's worker script leaves a pthread
 * worker (`self` the global, `importScripts`, `startWorker`) and calls it with the Module the
 * worker passes (the shared memory, `instantiateWasm`). Resolves to how far it got.
 */
const runAsPthread = (text: string): string => {
  const realm = vm.createContext({ importScripts: () => undefined, postMessage: () => undefined })
  vm.runInContext("self = globalThis; self.location = { href: 'blob:http://127.0.0.1/worker' }; self.startWorker = () => undefined", realm)
  vm.runInContext(text, realm)
  let instantiating = false
  const memory = vm.runInContext('new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })', realm) as WebAssembly.Memory
  realm.Module = {
    ENVIRONMENT_IS_PTHREAD: true,
    wasmMemory: memory,
    buffer: memory.buffer,
    instantiateWasm: () => {
      instantiating = true
      return {}
    },
  }
  try {
    vm.runInContext('WasmBackendModuleThreadedSimd(Module)', realm)
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`
  }
  return instantiating ? 'instantiating wasm' : 'returned before instantiating wasm'
}

const minified = (code: string): string => minifySync('glue.js', code, { compress: true, mangle: true }).code

describe("tfjs-backend-wasm's threaded factory in a pthread worker", () => {
  it('as installed: runs unminified, and fails minified because the factory reads a name of its enclosing scope', () => {
    expect(runAsPthread(factoryText(glue))).toBe('instantiating wasm')
    expect(runAsPthread(factoryText(minified(glue)))).toMatch(/^ReferenceError: \w+ is not defined$/)
  })

  it('with _scriptDir moved into the factory: runs minified and unminified', () => {
    const closed = closeThreadedFactory(glue)
    expect(runAsPthread(factoryText(closed))).toBe('instantiating wasm')
    expect(runAsPthread(factoryText(minified(closed)))).toBe('instantiating wasm')
  })

  it('moves the two lines and changes nothing else', () => {
    const closed = closeThreadedFactory(glue)
    expect(closed.length).toBe(glue.length)
    expect(closed).toContain("(() => {\n  return (\nfunction(WasmBackendModuleThreadedSimd) {\n  var _scriptDir = typeof document !== 'undefined'")
    const lines = (s: string) => s.split('\n').sort()
    expect(lines(closed)).toEqual(lines(glue))
  })

  it('refuses glue it does not know, naming what moved', () => {
    expect(() => closeThreadedFactory('var WasmBackendModuleThreadedSimd = function(WasmBackendModuleThreadedSimd) {\n}')).toThrow(/_scriptDir lines or factory moved/)
    expect(() => closeThreadedFactory(glue + glue)).toThrow(/_scriptDir lines or factory moved/)
  })

  it('as a Vite plugin: transforms only the threaded glue', () => {
    const plugin = tfjsWasmThreads()
    const transform = plugin.transform as (this: unknown, code: string, id: string) => { code: string } | null
    const context = {
      error: (m: string) => {
        throw new Error(m)
      },
    }
    expect(transform.call(context, glue, gluePath)?.code).toBe(closeThreadedFactory(glue))
    expect(transform.call(context, glue, `${gluePath}?commonjs-proxy`)?.code).toBe(closeThreadedFactory(glue))
    expect(transform.call(context, 'x', gluePath.replace('threaded-simd', 'simd'))).toBeNull()
    expect(() => transform.call(context, 'not the glue', gluePath)).toThrow(/tfjs-backend-wasm-threaded-simd\.js: .*moved/)
  })
})
