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
import { activeSimdKernels } from './simd/module.js'
import { shareIdentityData, silenceFirstUseBanner, webgpuBackendAdapterInfo } from '../core/tfjs-internals.js'
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
}

/** True when running under Node.js (rather than a browser or a worker). */
export const isNode = (): boolean =>
  typeof process !== 'undefined' && typeof process.versions === 'object' && process.versions.node !== undefined

/** Checks that a string names a backend; the error lists the valid names. */
export const parseBackendName = (name: string): E.Either<BackendError, BackendName> =>
  (BACKENDS as readonly string[]).includes(name)
    ? E.right(name as BackendName)
    : E.left(backendError(name, `unknown backend '${name}': choose one of ${BACKENDS.join(', ')}`))

let wasmConfigured = false

/** Loads and registers a backend; a string is why it cannot be registered here. */
const register = async (name: BackendName, options: BackendOptions): Promise<string | undefined> => {
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu')
      return
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      if (!wasmConfigured) {
        const paths = options.wasmPaths ?? (isNode() ? (await import('./node-wasm-path.js')).nodeWasmDirectory() : undefined)
        if (paths !== undefined) wasm.setWasmPaths(paths)
        shareIdentityOnWasm()
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

/**
 * tfjs-core saves the tensors a gradient needs with `keep(clone(x))` (every taped op, and
 * `save` in customGrad), and `clone` runs the Identity kernel — which on wasm copies the data
 * (the cpu backend shares it). A training step thus copied every saved weight and activation:
 * for GPT-2 124M, hundreds of megabytes a step of a heap that stops at 4 GiB. The wasm
 * backend reference-counts data (its Reshape shares it), so Identity shares it too here:
 * tensors are immutable, so a clone that shares data is indistinguishable from a copy.
 */
const shareIdentityOnWasm = (): void => shareIdentityData('wasm')

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
    try {
      const why = await register(backend, options)
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
    return E.right(backend)
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
 * Whether the library's SIMD kernels (backend/simd: attention over a cache, GELU, LayerNorm,
 * cache appends, row gathers) run on the active backend: wasm, with WebAssembly SIMD and a
 * memory they can import. Where they do not, the same functions run as tfjs ops.
 */
export const simdKernelsActive = (): boolean => activeSimdKernels() !== null

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
