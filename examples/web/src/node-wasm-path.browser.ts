/**
 * The browser's stand-in for src/backend/node-wasm-path.ts, which the playground's Vite config
 * aliases in: the library loads that Node helper only under Node (behind `isNode()`), but a
 * bundler still follows the import and warns about `node:module` and `node:path`.
 */
export const nodeWasmDirectory = (): string => {
  throw new Error('nodeWasmDirectory is Node-only: in the browser pass { wasmPaths } to useBackend')
}
