/**
 * Node-only: the directory that holds the installed wasm backend's `.wasm` files, so that
 * the backend finds them also when this library is bundled (esbuild, rollup) and the
 * backend's script no longer sits beside them.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** Absolute path (with a trailing separator) of `@tensorflow/tfjs-backend-wasm/dist/`. */
export const nodeWasmDirectory = (): string => {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/'
}
