/**
 * A Vite plugin that lets tfjs-backend-wasm's threaded build start from a minified bundle.
 *
 * tfjs gives Emscripten's pthread workers their main script as a Blob of
 * `'var WasmBackendModuleThreadedSimd = ' + factory.toString()`: each worker evaluates the
 * factory's *text* on its own, outside the bundle. The factory must therefore name nothing
 * outside itself. Emscripten's glue (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) almost
 * does: it computes `_scriptDir` in an enclosing arrow function and reads it inside the factory
 * as `typeof _scriptDir !== "undefined" && _scriptDir`, a guard that holds where the name is
 * undeclared (in a worker). A minifier that sees the declaration in the enclosing scope may
 * legitimately shorten the guard to `e !== void 0 && e` (Vite 8's Oxc minifier does), and in
 * the worker `e` is then undeclared: `ReferenceError: e is not defined`, every pthread worker
 * dies and the backend never starts.
 *
 * The plugin moves the two `_scriptDir` lines into the factory, so the factory is closed over
 * nothing and its text runs the same in a worker, whatever the minifier renames. `_scriptDir`
 * only matters for Node and classic scripts (`document.currentScript`); in a bundle it is
 * undefined either way. The build fails, naming the file, if a tfjs version changes the glue.
 */
import type { Plugin } from 'vite'

/** The threaded glue's module id (the path inside the installed package). */
const THREADED_GLUE = /[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/

/** The lines of the enclosing arrow function that compute `_scriptDir` (tfjs-backend-wasm 4.x). */
const SCRIPT_DIR =
  "  var _scriptDir = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : undefined;\n" +
  "  if (typeof __filename !== 'undefined') _scriptDir = _scriptDir || __filename;\n"

/** The factory's first line. */
const FACTORY = 'function(WasmBackendModuleThreadedSimd) {\n'

/** The glue with `_scriptDir` computed inside the factory; an Error when the glue is not the expected one. */
export const closeThreadedFactory = (code: string): string => {
  const at = code.indexOf(SCRIPT_DIR)
  const factory = code.indexOf(FACTORY)
  if (at < 0 || factory < at || code.indexOf(SCRIPT_DIR, at + 1) >= 0 || code.indexOf(FACTORY, factory + 1) >= 0) {
    throw new Error(
      'tfjs-backend-wasm-threaded-simd.js is not the glue this plugin knows (its _scriptDir lines or factory moved): check that the factory still names nothing outside itself, and update examples/web/tfjs-wasm-threads.ts',
    )
  }
  const body = factory + FACTORY.length
  return code.slice(0, at) + code.slice(at + SCRIPT_DIR.length, body) + SCRIPT_DIR + code.slice(body)
}

/** The plugin: {@link closeThreadedFactory} on tfjs-backend-wasm's threaded glue, in the build and the dev server. */
export const tfjsWasmThreads = (): Plugin => ({
  name: 'minigpt-tfjs-wasm-threads',
  enforce: 'pre',
  transform(code, id) {
    if (!THREADED_GLUE.test(id.split('?')[0] ?? id)) return null
    try {
      return { code: closeThreadedFactory(code), map: null }
    } catch (e) {
      this.error(`${id}: ${(e as Error).message}`)
    }
  },
})
