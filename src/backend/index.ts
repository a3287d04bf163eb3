/**
 * Choosing and starting a tfjs backend: `cpu | wasm | webgl | webgpu`.
 *
 * Backends are loaded on demand (a dynamic import), so Node never loads webgl code and the
 * browser never loads Node's file-system helpers. A backend that cannot start is an error
 * value naming the backend and the reason — never a silent fallback to another backend.
 *
 * @example
 * const r = await useBackend('wasm')()
 * if (E.isLeft(r)) { console.error(r.left.message); process.exit(1) }
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import './gradients.js'
import { activeSimdKernels, activeTrainKernels, kernelPool } from './simd/module.js'
import type { KernelPoolStats } from './simd/pool.js'

export type { KernelPoolStats }
import {
  activeWasmBackend,
  fastWasmReads,
  releaseIdlePthreadWorkers,
  shareIdentityData,
  silenceFirstUseBanner,
  wasmPoolThreads,
  webgpuBackendAdapterInfo,
} from '../core/tfjs-internals.js'
import type { WebGpuAdapterInfo, WebGpuNodeOptions } from './webgpu-node.js'

export type { WebGpuAdapterInfo, WebGpuNodeOptions } from './webgpu-node.js'

/** The backends the library knows how to start. */
export const BACKENDS = ['cpu', 'wasm', 'webgl', 'webgpu'] as const

/** One of {@link BACKENDS}. */
export type BackendName = (typeof BACKENDS)[number]

/** Why a backend could not be started. */
export interface BackendError {
  readonly _tag: 'BackendError'
  readonly backend: string
  readonly message: string
}

const backendError = (backend: string, message: string): BackendError => ({ _tag: 'BackendError', backend, message })

/** Options for {@link useBackend}. */
export interface BackendOptions {
  /** wasm only: where the `.wasm` files are (a URL prefix in the browser). Found automatically in Node. */
  readonly wasmPaths?: string
  /** webgpu in Node only: Dawn's flags and the adapter's feature level (see {@link WebGpuNodeOptions}). */
  readonly webgpu?: WebGpuNodeOptions
  /**
   * wasm only: threads for tfjs-wasm's XNNPACK kernels (matmul, conv; 1 to 8). More than 1
   * starts the threaded SIMD build: in Node on `worker_threads`, in a browser only where the
   * page is cross-origin isolated (COOP/COEP headers; elsewhere it stays at 1). Fixed by the
   * first start of wasm in a process. Default {@link defaultWasmThreads}.
   */
  readonly threads?: number
}

/** The most threads tfjs-wasm's pool takes (its build pre-creates 8 workers). */
export const MAX_WASM_THREADS = 8

/**
 * The default thread count for wasm: one per core (at most {@link MAX_WASM_THREADS}) — in Node
 * `os.availableParallelism()`, in a cross-origin-isolated page `navigator.hardwareConcurrency`;
 * 1 in a page that is not isolated (no SharedArrayBuffer: the threaded build cannot load).
 * Two threads made matmuls 1.5-1.9x faster on a 2-core machine (docs/benchmarks.md).
 */
export const defaultWasmThreads = async (): Promise<number> => {
  const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } }
  const cores = isNode() ? (await import('./wasm-threads-node.js')).nodeCores() : g.crossOriginIsolated === true ? (g.navigator?.hardwareConcurrency ?? 1) : 1
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores))
}

/** True when running under Node.js (rather than a browser or a worker). */
export const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions === 'object' && process.versions.node !== undefined

/** Checks that a string names a backend; the error lists the valid names. */
export const parseBackendName = (name: string): E.Either<BackendError, BackendName> =>
  (BACKENDS as readonly string[]).includes(name) ? E.right(name as BackendName) : E.left(backendError(name, `unknown backend '${name}': choose one of ${BACKENDS.join(', ')}`))

let wasmConfigured = false
/** The thread count wasm was started with (the first start fixes it), or null before. */
let wasmThreads: number | null = null

/** The threads the wasm backend runs XNNPACK on: 1 unless it was started threaded (and the threaded build loaded). */
export const wasmThreadCount = (): number => {
  if (wasmThreads === null) return 1
  return wasmPoolThreads() ?? 1
}

const checkThreads = (threads: number): E.Either<BackendError, number> =>
  Number.isInteger(threads) && threads >= 1 && threads <= MAX_WASM_THREADS
    ? E.right(threads)
    : E.left(backendError('wasm', `threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`))

/**
 * tfjs-wasm sizes its pool as min(threads, logical cores / 2), assuming two hyper-threads per
 * core; on a 2-core machine that is 1. While the threaded module starts in a browser,
 * `navigator.hardwareConcurrency` reports 2 × `threads` so the pool has the threads asked for.
 */
const withFullConcurrency = async <A>(threads: number, start: () => Promise<A>): Promise<A> => {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
  if (nav === undefined || nav.hardwareConcurrency === undefined) return start()
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads })
  try {
    return await start()
  } finally {
    delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency
  }
}

/**
 * Runs the first start of a threaded wasm backend (`start`: registering it, asking tfjs for it)
 * inside what the threaded build needs: Node's worker shims, or a full `hardwareConcurrency`.
 */
const aroundFirstWasmStart = async <A>(name: BackendName, threads: number, start: () => Promise<A>): Promise<A> => {
  if (name !== 'wasm' || wasmConfigured || threads === 1) return start()
  if (!isNode()) return withFullConcurrency(threads, start)
  const { withNodeThreads } = await import('./wasm-threads-node.js')
  return withNodeThreads(threads, start)
}

/** Loads and registers a backend; a string is why it cannot be registered here. */
const register = async (name: BackendName, options: BackendOptions, threads: number): Promise<string | undefined> => {
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu')
      return
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      if (!wasmConfigured) {
        const paths = options.wasmPaths ?? (isNode() ? (await import('./node-wasm-path.js')).nodeWasmDirectory() : undefined)
        if (paths !== undefined) wasm.setWasmPaths(paths)
        // tfjs saves what a gradient needs with `keep(clone(x))`, and clone's Identity kernel
        // copies the data on wasm (cpu shares it): a GPT-2 124M training step copied hundreds of
        // megabytes of a heap that stops at 4 GiB. Tensors are immutable, so sharing is safe.
        shareIdentityData('wasm')
        fastWasmReads(wasm.BackendWasm)
        // Before anything asks tfjs for a backend: tf.getBackend() alone starts the best registered one.
        wasmThreads = threads
        if (threads > 1) {
          wasm.setThreadsCount(threads)
          if (isNode()) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
        }
        wasmConfigured = true
      }
      return
    }
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl')
      return
    case 'webgpu': {
      if (!isNode()) {
        await import('@tensorflow/tfjs-backend-webgpu')
        return
      }
      const node = await import('./webgpu-node.js')
      // In Node, a webgpu factory that someone else registered (their own navigator.gpu) is used as it is.
      if (tf.findBackendFactory('webgpu') !== null && node.nodeWebGpuAdapter() === undefined) return
      const r = await node.registerNodeWebGpu(options.webgpu)
      return E.isLeft(r) ? r.left : undefined
    }
  }
}

const reasonWhenMissing = (name: BackendName): string =>
  isNode() && name === 'webgl'
    ? `webgl is only available in a browser (tfjs registers it only where a GPU context exists); use 'webgpu' (with the webgpu package), 'wasm' or 'cpu' in Node`
    : name === 'webgpu'
      ? 'this browser offers no WebGPU adapter (in Chromium, WebGPU may need --enable-unsafe-webgpu)'
      : `${name} did not register in this environment`

/**
 * Starts the named backend and makes it the active one. Resolves to the backend's name, or
 * to a {@link BackendError} with the reason (unknown name, not available here, failed to
 * initialise). Safe to call again: switching back to a started backend is cheap. A backend that
 * fails to start leaves the one that was active before active.
 */
export const useBackend =
  (name: string, options: BackendOptions = {}): TE.TaskEither<BackendError, BackendName> =>
  async () => {
    const parsed = parseBackendName(name)
    if (E.isLeft(parsed)) return parsed
    const backend = parsed.right
    const threads = checkThreads(options.threads ?? wasmThreads ?? (name === 'wasm' ? await defaultWasmThreads() : 1))
    if (E.isLeft(threads)) return threads
    if (backend === 'wasm' && wasmThreads !== null && options.threads !== undefined && options.threads !== wasmThreads)
      return E.left(backendError('wasm', `wasm was started with ${wasmThreads} thread(s) in this process; it cannot restart with ${options.threads}`))
    return aroundFirstWasmStart(backend, threads.right, () => start(backend, options, threads.right))
  }

/** useBackend's work once the name and threads are checked. */
const start = async (backend: BackendName, options: BackendOptions, threads: number): Promise<E.Either<BackendError, BackendName>> => {
  try {
    const why = await register(backend, options, threads)
    if (why !== undefined) return E.left(backendError(backend, why))
  } catch (e) {
    return E.left(backendError(backend, `could not load the ${backend} backend: ${(e as Error).message}`))
  }
  if (tf.findBackendFactory(backend) === null) return E.left(backendError(backend, reasonWhenMissing(backend)))
  const previous = tf.getBackend() as string | null | undefined
  let ok: boolean
  try {
    ok = await tf.setBackend(backend)
  } catch (e) {
    await restoreBackend(previous, backend)
    return E.left(backendError(backend, `the ${backend} backend failed to start: ${(e as Error).message}`))
  }
  if (!ok || tf.getBackend() !== backend) {
    await restoreBackend(previous, backend)
    return E.left(backendError(backend, `the ${backend} backend failed to start: ${reasonWhenMissing(backend)}`))
  }
  await tf.ready()
  quietNodeBanner()
  if (backend === 'wasm') {
    // XNNPACK has taken its threads by now; Emscripten's other pre-started workers would only hold memory.
    releaseIdlePthreadWorkers()
    await startKernelPool()
  }
  return E.right(backend)
}

/**
 * On wasm's threaded build, starts the pool of threads that runs the library's own kernels
 * (backend/simd/pool.ts) and waits until its workers run, so that the first products already
 * use every thread. A pool that cannot start leaves the kernels on the calling thread.
 */
const startKernelPool = async (): Promise<void> => {
  const b = activeWasmBackend()
  const pool = b === undefined ? null : kernelPool(b)
  await pool?.started.catch(() => undefined)
}

/**
 * The threads the library's own kernels (quantized products, attention over a cache, …) run
 * on with the active backend: on wasm's threaded build as many as its `threads` option, once
 * their pool has started; 1 otherwise.
 */
export const kernelThreads = (): number => {
  const b = activeWasmBackend()
  const pool = b === undefined ? null : kernelPool(b)
  return pool === null || !pool.running() ? 1 : pool.threads
}

/**
 * What the kernel pool of the active backend has done so far (jobs split, chunks its workers
 * ran, the caller's time waiting for their chunks), or undefined where there is no pool: to see
 * how well a workload shares the threads (bench/kernel-times.mjs prints the waits per step).
 */
export const kernelPoolStats = (): KernelPoolStats | undefined => {
  const b = activeWasmBackend()
  return (b === undefined ? null : kernelPool(b))?.stats()
}

/**
 * After a failed start, makes the backend that was active before active again. tfjs's
 * `setBackend` records the new name before the backend has started, and a failed start (webgpu
 * without an adapter) leaves the engine with no backend: the next op then throws "The highest
 * priority backend 'webgpu' has not yet been initialized". A failed switch must change nothing.
 */
const restoreBackend = async (previous: string | null | undefined, failed: string): Promise<void> => {
  if (previous === null || previous === undefined || previous === failed || tf.getBackend() === previous) return
  try {
    await tf.setBackend(previous)
  } catch {
    // The previous backend started before, so this does not fail; if it does, the error above is what matters.
  }
}

/** The cpu backend prints an advertisement for tfjs-node on first use; this library says where it runs itself. */
const quietNodeBanner = silenceFirstUseBanner

/**
 * Starts a backend or throws an Error with the reason: for scripts, examples and tests where
 * an exception is the right boundary. Library code and the CLI use {@link useBackend}.
 */
export const initBackend = async (name: string = 'wasm', options: BackendOptions = {}): Promise<BackendName> => {
  const r = await useBackend(name, options)()
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** The name of the active backend. */
export const activeBackend = (): string => tf.getBackend()

/**
 * Whether the library's SIMD kernels (backend/simd: the decoding kernels of kernels.wat and the
 * training kernels of train.wat) run on the active backend: wasm, with WebAssembly SIMD and a
 * memory they can import. Where they do not, the same functions run as tfjs ops.
 */
export const simdKernelsActive = (): boolean => activeSimdKernels() !== null && activeTrainKernels() !== null

/**
 * The adapter the webgpu backend runs on (vendor, architecture, device, description, feature
 * level, whether it is a software implementation), when webgpu is the active backend; undefined
 * otherwise. In Node it is what Dawn reported; in a browser what tfjs-backend-webgpu kept.
 */
export const webgpuAdapter = async (): Promise<WebGpuAdapterInfo | undefined> => {
  if (tf.getBackend() !== 'webgpu') return undefined
  if (isNode()) return (await import('./webgpu-node.js')).nodeWebGpuAdapter()
  const info = webgpuBackendAdapterInfo()
  const vendor = info?.vendor ?? ''
  const architecture = info?.architecture ?? ''
  return { vendor, architecture, device: '', description: '', featureLevel: 'core', software: /swiftshader|software|llvmpipe/i.test(vendor + ' ' + architecture) }
}
