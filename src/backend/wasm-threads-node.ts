/**
 * Node-only: lets tfjs-backend-wasm's threaded SIMD build (XNNPACK on a pthread pool over
 * shared memory) start under Node, where tfjs switches it off (tensorflow/tfjs#3830).
 *
 * Three things stand in its way, and each is met here, for the duration of the backend's start:
 * - tfjs hands Emscripten its pthread worker script and the main script as `blob:` URLs, which
 *   Node's `worker_threads` cannot load: the worker script (carried as a string in tfjs's own
 *   bundle) and the main script (the Blob tfjs builds) are written to a temporary directory,
 *   and the pthread `Worker` is a `worker_threads.Worker` started from those files.
 * - the main script, taken out of tfjs's bundle, refers to the bundle's imports (`require$$0` …
 *   and `commonjsGlobal`): the file defines them first.
 * - tfjs caps the pool at half the logical cores (it assumes two hyper-threads per core), so a
 *   2-core machine gets 1 thread: `os.cpus()` reports 2 × the requested threads while the
 *   module starts, so the pool has the threads asked for.
 * The files are removed as soon as the backend has started: Emscripten's pool (8 workers, as
 * many as the library allows threads) has loaded them by then.
 */
import { Worker as NodeWorker } from 'node:worker_threads'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join } from 'node:path'

/** The cores this process may use (`os.availableParallelism()`): the default wasm thread count. */
export const nodeCores = (): number => os.availableParallelism()

/** The bundle's CommonJS imports, as tf-backend-wasm.node.js names them, for the main script run in a worker. */
const PRELUDE = "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os'), commonjsGlobal = globalThis;\n"

/** tfjs's pthread worker script: the string `wasmWorkerContents` in its Node bundle, with newlines escaped as tfjs does. */
const workerScript = (): string => {
  const require = createRequire(import.meta.url)
  const bundle = readFileSync(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist', 'tf-backend-wasm.node.js'), 'utf8')
  const m = /var wasmWorkerContents = ("(?:[^"\\]|\\.)*");/.exec(bundle)
  if (m === null) throw new Error('this version of tfjs-backend-wasm does not carry its pthread worker script where expected; start wasm with threads: 1')
  return (JSON.parse(m[1] as string) as string).replace(/\n/g, '\\n')
}

/** A Blob that remembers its parts, so the main script's text can be read synchronously. */
class RecordingBlob extends Blob {
  readonly parts: readonly unknown[]
  constructor(parts: readonly BlobPart[] = [], options?: BlobPropertyBag) {
    super(parts as BlobPart[], options)
    this.parts = parts
  }
}

/**
 * Runs `start` (which starts the wasm backend) with the threaded build enabled for Node and a
 * pool of `threads`, and
 * restores `os.cpus`, `Blob` and the global `Worker` after it. The pthread workers stay.
 */
export const withNodeThreads = async <A>(threads: number, start: () => Promise<A>): Promise<A> => {
  const dir = mkdtempSync(join(os.tmpdir(), 'minigpt-wasm-threads-'))
  const workerFile = join(dir, 'pthread-worker.js')
  const mainFile = join(dir, 'main.js')
  writeFileSync(workerFile, workerScript())
  let mainWritten = false

  /** Emscripten's view of a pthread worker, on worker_threads, with blob URLs replaced by the files. */
  class PThreadWorker {
    private readonly real: NodeWorker
    constructor(url: string | URL) {
      this.real = new NodeWorker(String(url).startsWith('blob:') ? workerFile : url)
      this.real.unref() // a pool of idle threads must not keep the process alive
    }
    postMessage(msg: unknown, transfer?: readonly Transferable[]): void {
      const m = msg as { cmd?: string; urlOrBlob?: unknown } | null
      if (m !== null && typeof m === 'object' && m.cmd === 'load' && m.urlOrBlob instanceof RecordingBlob) {
        if (!mainWritten) {
          writeFileSync(mainFile, PRELUDE + m.urlOrBlob.parts.join(''))
          mainWritten = true
        }
        this.real.postMessage({ ...m, urlOrBlob: mainFile }, transfer as never)
      } else this.real.postMessage(msg, transfer as never)
    }
    on(event: string, f: (...a: unknown[]) => void): this {
      this.real.on(event, f)
      return this
    }
    once(event: string, f: (...a: unknown[]) => void): this {
      this.real.once(event, f)
      return this
    }
    off(event: string, f: (...a: unknown[]) => void): this {
      this.real.off(event, f)
      return this
    }
    terminate(): Promise<number> {
      return this.real.terminate()
    }
    /** Emscripten refs a worker while it runs a pthread; XNNPACK's pool threads run for good, so they stay unref'd (the process can exit). */
    ref(): void {}
    unref(): void {
      this.real.unref()
    }
  }

  const g = globalThis as unknown as Record<string, unknown>
  const saved = { cpus: os.cpus, Blob: g.Blob, worker: Object.getOwnPropertyDescriptor(globalThis, 'Worker') }
  // Emscripten assigns `global.Worker = worker_threads.Worker` as it starts: the setter ignores that.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PThreadWorker, set: () => undefined })
  g.Blob = RecordingBlob
  os.cpus = () => {
    const c = saved.cpus()
    return Array.from({ length: 2 * threads }, (_, i) => c[i % c.length] as os.CpuInfo)
  }
  try {
    return await start()
  } finally {
    os.cpus = saved.cpus
    g.Blob = saved.Blob
    if (saved.worker === undefined) delete g.Worker
    else Object.defineProperty(globalThis, 'Worker', saved.worker)
    rmSync(dir, { recursive: true, force: true })
  }
}
