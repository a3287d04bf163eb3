/**
 * Every use of TensorFlow.js internals in the library, in one place: engine state, the wasm
 * backend's heap, a tensor made by hand, the backend objects' private fields. None of these is
 * tfjs's public API, so each can change in any tfjs release; spec/core/tfjs-internals.spec.ts
 * pins the installed version and checks each one against it, so that an upgrade fails there,
 * with the name of what moved, instead of somewhere deep in a training step.
 *
 * Written against @tensorflow/tfjs-core and @tensorflow/tfjs-backend-wasm {@link TFJS_VERSION}.
 */
import * as tf from '@tensorflow/tfjs-core'

/** The tfjs version these internals were written and checked against. */
export const TFJS_VERSION = '4.22.0'

/** The engine's private state that the library reads or restores. */
interface EngineState {
  readonly state: { readonly gradientDepth: number; activeTape: unknown }
}

const engineState = (): EngineState['state'] => (tf.engine() as unknown as EngineState).state

/**
 * How many gradient computations are in progress (`tf.grads`, `customGrad` forward passes, a
 * rematerialised block's recomputation): 0 outside all of them. The engine's public
 * `isTapeOn()` is false inside a custom gradient's forward pass, whose values still feed a gradient.
 */
export const gradientDepth = (): number => engineState().gradientDepth

/**
 * Runs `f` (a gradient computation) and restores the engine's active tape afterwards. tfjs
 * resets the tape when a gradient computation starts at depth 0 and drops it when one ends, so
 * a gradient taken inside an outer backward pass would leave the outer one without its tape.
 */
export const withActiveTapeRestored = <T>(f: () => T): T => {
  const state = engineState()
  const tape = state.activeTape
  try {
    return f()
  } finally {
    state.activeTape = tape
  }
}

/** What the library uses of tfjs-wasm's backend object (tfjs-backend-wasm 4.x, not public). */
export interface WasmBackendLike {
  readonly wasm: { readonly asm?: { readonly memory?: unknown }; readonly wasmMemory?: unknown; readonly _get_threads_count?: () => number }
  readonly dataIdMap: { get: (dataId: tf.DataId) => { readonly memoryOffset: number } | undefined; has: (dataId: tf.DataId) => boolean }
  makeOutput: (shape: number[], dtype: tf.DataType) => tf.TensorInfo
  disposeData: (dataId: tf.DataId) => boolean
  incRef: (dataId: tf.DataId) => void
}

/** Per backend object: what {@link onDataFreed} calls when that backend frees a tensor's data. */
const freedListeners = new WeakMap<WasmBackendLike, Array<(dataId: tf.DataId) => void>>()

/**
 * Calls `listener(dataId)` each time `backend` really frees a tensor's data (its `disposeData`
 * returns true: the last reference is gone), after it has. For memory a kernel keeps beside a
 * tensor (a packed copy of a weight) that must go when the tensor's data goes. The backend
 * object's `disposeData` is wrapped once, on the object, not its class.
 */
export const onDataFreed = (backend: WasmBackendLike, listener: (dataId: tf.DataId) => void): void => {
  const known = freedListeners.get(backend)
  if (known !== undefined) {
    known.push(listener)
    return
  }
  const listeners = [listener]
  freedListeners.set(backend, listeners)
  const free = backend.disposeData.bind(backend) as (dataId: tf.DataId, force?: boolean) => boolean
  backend.disposeData = ((dataId: tf.DataId, force?: boolean): boolean => {
    const freed = free(dataId, force)
    if (freed) for (const l of listeners) l(dataId)
    return freed
  }) as WasmBackendLike['disposeData']
}

/** The active backend as tfjs-wasm's backend object, when the active backend is wasm. */
export const activeWasmBackend = (): WasmBackendLike | undefined => (tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackendLike) : undefined)

/** A tfjs-wasm backend object's kernel-side view of a backend passed to a kernel function. */
export const asWasmBackend = (backend: unknown): WasmBackendLike => backend as unknown as WasmBackendLike

/**
 * The WebAssembly memory tfjs-wasm keeps its tensors in, where it exposes one: the plain build
 * exports its memory (`asm.memory`); the threaded build imports a shared one and keeps it as
 * `wasmMemory`.
 */
export const wasmMemory = (backend: WasmBackendLike): WebAssembly.Memory | undefined => {
  const memory = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory
  return memory instanceof WebAssembly.Memory ? memory : undefined
}

/**
 * The values of a tensor as a view of the active backend's memory where it offers one (wasm's
 * `typedArrayFromHeap`), valid until the next allocation there: read it at once, never keep
 * it. Undefined on other backends.
 */
export const heapView = (t: tf.Tensor): Float32Array | Int32Array | undefined => {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array | Int32Array }
  return typeof backend.typedArrayFromHeap === 'function' ? backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) : undefined
}

/** What {@link fastWasmReads} uses of tfjs-wasm's backend object (its `this` in `readSync`). */
interface WasmReader {
  readonly dataIdMap: { get: (dataId: tf.DataId) => { readonly dtype: tf.DataType; readonly shape: number[] } | undefined }
  typedArrayFromHeap: (info: tf.TensorInfo) => Float32Array | Int32Array | Uint8Array
}

/** The dtypes whose values tfjs-wasm keeps in its heap as numbers (a string tensor's are on the JavaScript side). */
const HEAP_READS: ReadonlySet<tf.DataType> = new Set(['float32', 'int32', 'bool'])

/**
 * Replaces tfjs-wasm's `readSync` (what `data()` and `dataSync()` run) on its backend class by
 * one that copies the values out of the heap with one `TypedArray.set` into a fresh array of
 * the tensor's dtype, from tfjs-wasm's own view of them (`typedArrayFromHeap`, as
 * {@link heapView}). tfjs-wasm copies with `HEAPU8.slice`, which V8 runs element by element
 * over the threaded build's shared heap: 0.38 ms for GPT-2's 50,257 logits, read at every
 * decoding step, against 0.02 ms for the `set` (docs/benchmarks.md). The same values; strings
 * keep tfjs's own path.
 */
export const fastWasmReads = (backendClass: { prototype: object }): void => {
  const proto = backendClass.prototype as { readSync: (this: WasmReader, dataId: tf.DataId, start?: number, end?: number) => unknown; minigptFastReads?: true }
  if (proto.minigptFastReads) return
  const original = proto.readSync
  proto.readSync = function (this: WasmReader, dataId: tf.DataId, start?: number, end?: number) {
    const info = this.dataIdMap.get(dataId)
    if (info === undefined || !HEAP_READS.has(info.dtype)) return original.call(this, dataId, start, end)
    const view = this.typedArrayFromHeap({ dataId, shape: info.shape, dtype: info.dtype }).subarray(start, end)
    const out = new (view.constructor as Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor)(view.length)
    out.set(view)
    return out
  }
  proto.minigptFastReads = true
}

/**
 * A `tf.Tensor` object with a shape and no data, never registered with the engine (what
 * `jax.ShapeDtypeStruct` is to JAX): reading one is an error, disposing one does nothing.
 */
export const dataFreeTensor = (shape: readonly number[]): tf.Tensor => new tf.Tensor(shape.slice(), 'float32', Object.freeze({ shapeOnly: true }), -1)

/**
 * Replaces wasm's Identity kernel (what `tf.clone` runs, and so what every gradient's saved
 * tensor goes through) by one that shares the input's data instead of copying it: the wasm
 * backend reference-counts data (its Reshape shares it), and tensors are immutable, so a clone
 * that shares data is indistinguishable from a copy.
 */
export const shareIdentityData = (backendName: 'wasm'): void => {
  tf.unregisterKernel('Identity', backendName)
  tf.registerKernel({
    kernelName: 'Identity',
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo
      asWasmBackend(backend).incRef(x.dataId)
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
    },
  })
}

/** Turns off the cpu backend's one-time console advertisement for tfjs-node (its private `firstUse` flag). */
export const silenceFirstUseBanner = (): void => {
  const b = tf.backend() as unknown as { firstUse?: boolean }
  if (typeof b.firstUse === 'boolean') b.firstUse = false
}

/** What the active tfjs-backend-webgpu kept of its adapter (`adapterInfo`, a field it does not type), when it kept anything. */
export const webgpuBackendAdapterInfo = (): { readonly vendor?: string; readonly architecture?: string } | undefined =>
  (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo

/** The size of the registered wasm backend's XNNPACK thread pool (its module's `_get_threads_count`), when it has started. */
export const wasmPoolThreads = (): number | undefined => (tf.findBackend('wasm') as unknown as WasmBackendLike | null)?.wasm?._get_threads_count?.()

/**
 * Stops the pthread workers of the registered wasm backend's threaded build that no thread
 * uses, and returns how many it stopped. Emscripten starts a fixed pool of 8 workers
 * (`PThread.unusedWorkers`) whatever the thread count, and XNNPACK takes `threads − 1` of them
 * once, when the backend starts: the rest sit idle, each a JavaScript engine instance of its own
 * (~7 MB of resident memory in Node). 0 where the backend has no such pool.
 */
export const releaseIdlePthreadWorkers = (): number => {
  const pthread = (tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { unusedWorkers?: { terminate: () => unknown }[] } } } | null)?.wasm?.PThread
  const idle = pthread?.unusedWorkers
  if (!Array.isArray(idle)) return 0
  const stopped = idle.splice(0, idle.length)
  for (const w of stopped) w.terminate()
  return stopped.length
}

/** One kernel call as the engine ran it: what {@link recordKernelCalls} reports. */
export interface KernelCall {
  readonly kernel: string
  readonly inputs: Readonly<Record<string, tf.TensorInfo>>
  readonly attrs: Readonly<Record<string, unknown>>
  /** The call's outputs: the tensors the engine made of them (one or several). */
  readonly outputs: readonly tf.Tensor[]
}

/** The engine's own `runKernel`, as the engine object has it (the method of its class, or an own property). */
type RunKernel = (kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[]

/**
 * Runs `f` with every kernel call it makes through the engine (`tf.engine().runKernel`, which
 * every op uses) reported to `onCall` after it ran, outermost calls only (a kernel that runs
 * ops of its own reports as one call). The engine object's `runKernel` is wrapped for the
 * duration of `f` only.
 */
export const recordKernelCalls = <T>(f: () => T, onCall: (call: KernelCall) => void): T => {
  const engine = tf.engine() as unknown as { runKernel: RunKernel }
  const own = Object.hasOwn(engine, 'runKernel')
  const run = engine.runKernel
  let depth = 0
  engine.runKernel = (kernel, inputs, attrs = {}) => {
    depth++
    let out: tf.Tensor | tf.Tensor[]
    try {
      out = run.call(engine, kernel, inputs, attrs)
    } finally {
      depth--
    }
    if (depth === 0) onCall({ kernel, inputs: { ...inputs }, attrs: { ...attrs }, outputs: Array.isArray(out) ? out : [out] })
    return out
  }
  try {
    return f()
  } finally {
    if (own) engine.runKernel = run
    else delete (engine as { runKernel?: RunKernel }).runKernel
  }
}

/**
 * A kernel's output, made into a tensor tracked by the engine as `runKernel` makes its outputs
 * (it takes over the output's reference to its data).
 */
export const engineTensor = (info: tf.TensorInfo, backend: tf.KernelBackend): tf.Tensor =>
  (tf.engine() as unknown as { makeTensorFromTensorInfo: (info: tf.TensorInfo, backend: tf.KernelBackend) => tf.Tensor }).makeTensorFromTensorInfo(info, backend)
