/**
 * The SIMD kernels' WebAssembly modules (kernels.wat and quant.wat, assembled into
 * kernels-wasm.ts and quant-wasm.ts), each instantiated on the memory of a tfjs wasm backend:
 * their functions read and write tensors where tfjs-wasm keeps them, by byte offset, with no copy. One instance per backend object;
 * `null` where it cannot be made (no WebAssembly SIMD or bulk memory), and callers use tfjs ops.
 * On the threaded build of tfjs-wasm (a shared memory) the module's memory import is declared
 * shared (shared-memory.ts).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeWasmBackend, asWasmBackend, wasmMemory, type WasmBackendLike } from '../../core/tfjs-internals.js'
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js'
import { withSharedMemoryImport } from './shared-memory.js'
import { QUANT_WASM_BASE64 } from './quant-wasm.js'

export type { WasmBackendLike }

/** The module's exports (pointers are byte offsets, sizes count floats unless named bytes). */
export interface SimdKernels {
  readonly attend_one_query: (
    q: number,
    k1: number,
    v1: number,
    len1: number,
    k2: number,
    v2: number,
    len2: number,
    blocks: number,
    d: number,
    scale: number,
    scratch: number,
    out: number,
  ) => void
  readonly gelu_erf: (x: number, n: number, out: number) => void
  readonly concat_blocks: (a: number, bytes1: number, b: number, bytes2: number, blocks: number, out: number) => void
  readonly layer_norm: (x: number, rows: number, d: number, w: number, b: number, eps: number, out: number) => void
  readonly gather_rows: (src: number, rowBytes: number, rows: number, n: number, out: number) => void
}

/** The quantized-weight kernels' exports (quant.wat; pointers are byte offsets). */
export interface QuantKernels {
  readonly quantize_rows: (x: number, rows: number, n: number, stride: number, q: number, scales: number) => void
  readonly qmm_i8: (xq: number, xs: number, rows: number, stride: number, w: number, ws: number, outs: number, bias: number, y: number) => void
  readonly qmm_q4: (xq: number, xs: number, rows: number, groups: number, w: number, ws: number, outs: number, bias: number, y: number) => void
  readonly rows_i8: (w: number, ws: number, stride: number, n: number, ids: number, count: number, out: number) => void
  readonly rows_q4: (w: number, ws: number, groups: number, n: number, ids: number, count: number, out: number) => void
}

const decodeBase64 = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

/** A module (base64 bytes) instantiated once per backend on its memory; null where it cannot be. */
const perBackend = <K>(base64: string) => {
  const instances = new WeakMap<object, K | null>()
  return (backend: WasmBackendLike): K | null => {
    const known = instances.get(backend)
    if (known !== undefined) return known
    let kernels: K | null = null
    try {
      // On tfjs-wasm's threaded build the memory is shared: the module's memory import is declared shared to match.
      const memory = wasmMemory(backend)
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory?.buffer instanceof SharedArrayBuffer
      const plain = decodeBase64(base64)
      const bytes = shared ? withSharedMemoryImport(plain) : plain
      if (memory !== undefined && bytes !== null) {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
        kernels = instance.exports as unknown as K
      }
    } catch {
      kernels = null
    }
    instances.set(backend, kernels)
    return kernels
  }
}

/** The kernels on this backend's memory, made on first use; null where they cannot run. */
export const simdKernels: (backend: WasmBackendLike) => SimdKernels | null = perBackend<SimdKernels>(KERNELS_WASM_BASE64)

/** The quantized-weight kernels (quant.wat) on this backend's memory, made on first use; null where they cannot run. */
export const quantKernels: (backend: WasmBackendLike) => QuantKernels | null = perBackend<QuantKernels>(QUANT_WASM_BASE64)

/** The quantized-weight kernels when the active backend is wasm and they run there, else null. */
export const activeQuantKernels = (): QuantKernels | null => {
  const backend = activeWasmBackend()
  return backend === undefined ? null : quantKernels(backend)
}

/** The kernels when the active backend is wasm and they run there, else null. */
export const activeSimdKernels = (): SimdKernels | null => {
  const backend = activeWasmBackend()
  return backend === undefined ? null : simdKernels(backend)
}

/** The byte offset of a tensor's data in the backend's memory. */
export const dataOffset = (backend: WasmBackendLike, t: tf.TensorInfo): number => {
  const data = backend.dataIdMap.get(t.dataId)
  if (data === undefined) throw new Error("simd kernels: a tensor's data is not on this wasm backend")
  return data.memoryOffset
}

/** What a kernel's body gets: its inputs and attributes, the backend and the module's functions. */
export interface SimdKernelArgs {
  readonly inputs: Readonly<Record<string, tf.TensorInfo>>
  readonly attrs: Readonly<Record<string, unknown>>
  readonly backend: WasmBackendLike
  readonly kernels: SimdKernels
}

/**
 * Registers `run` as the tfjs kernel `name` for the wasm backend. Callers run it through
 * `tf.engine().runKernel` only after {@link activeSimdKernels} said the module runs there.
 */
export const registerSimdKernel = (name: string, run: (args: SimdKernelArgs) => tf.TensorInfo): void => registerOn(simdKernels, name, run)

/** {@link registerSimdKernel} for a kernel of quant.wat (callers check {@link activeQuantKernels}). */
export const registerQuantKernel = (name: string, run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: QuantKernels }) => tf.TensorInfo): void =>
  registerOn(quantKernels, name, run)

const registerOn = <K>(instance: (b: WasmBackendLike) => K | null, name: string, run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: K }) => tf.TensorInfo): void => {
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = asWasmBackend(backend)
      const kernels = instance(b)
      if (kernels === null) throw new Error(`${name}: the SIMD kernels cannot run on this wasm backend`)
      return run({ inputs: inputs as Record<string, tf.TensorInfo>, attrs: (attrs ?? {}) as Record<string, unknown>, backend: b, kernels })
    },
  })
}
