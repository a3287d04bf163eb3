/**
 * The browser's stand-in for src/backend/wasm-threads-node.ts, which the playground's Vite config
 * aliases in: the library loads that Node helper only under Node (behind `isNode()`), but a
 * bundler still follows the import and warns about `node:fs`, `node:os` and `node:worker_threads`.
 */
export const nodeCores = (): number => {
  throw new Error('nodeCores is Node-only')
}

export const withNodeThreads = <A>(_threads: number, _start: () => Promise<A>): Promise<A> => {
  throw new Error('withNodeThreads is Node-only: in a page, threads need cross-origin isolation (COOP/COEP)')
}
