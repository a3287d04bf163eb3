/**
 * Attention of one query position over a key/value cache, as one tfjs kernel on the wasm
 * backend: `softmax(q·Kᵀ/√d)·V` per (batch, head) block, written in WebAssembly SIMD
 * (kernels.wat) and run on the tensors where tfjs-wasm keeps them.
 *
 * Why: a decoding step's attention is two batched products per layer, and tfjs-wasm runs
 * batched products ([B·H] of them) with a scalar loop instead of XNNPACK — 0.9 ms per GPT-2
 * layer at 512 positions, ~11 ms of a 35 ms step. This kernel does the scores, the softmax
 * and the weighted sum in one pass at 0.16 ms (docs/benchmarks.md), for both parts of a split
 * cache (nn/attention.ts's `recent`), with no concatenation.
 *
 * The kernel imports the backend's WebAssembly memory; it is used only where that works
 * (tfjs-wasm's single-threaded build, whose memory is not shared) and where it applies (one
 * query, no mask, no dropout, no gradient being recorded, a head size that is a multiple of
 * 4). {@link attendOneQuery} says `undefined` otherwise, and the caller uses tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core'
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js'

/** The kernel's name in tfjs's registry. */
export const ATTEND_ONE_QUERY = 'MinigptAttendOneQuery'

/** What this module needs of tfjs-wasm's backend object (internal API of tfjs-backend-wasm 4.x). */
interface WasmBackendLike {
  readonly wasm: { readonly asm?: { readonly memory?: unknown } }
  readonly dataIdMap: { get: (dataId: tf.DataId) => { readonly memoryOffset: number } | undefined }
  makeOutput: (shape: number[], dtype: tf.DataType) => tf.TensorInfo
  disposeData: (dataId: tf.DataId) => boolean
}

type AttendFn = (
  q: number, k1: number, v1: number, len1: number, k2: number, v2: number, len2: number,
  blocks: number, d: number, scale: number, scratch: number, out: number,
) => void

const decodeBase64 = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

/** The kernels instantiated on a backend's memory, or null where that cannot be done. */
const instances = new WeakMap<object, AttendFn | null>()

const kernelsFor = (backend: WasmBackendLike): AttendFn | null => {
  const known = instances.get(backend)
  if (known !== undefined) return known
  let fn: AttendFn | null = null
  try {
    const memory = backend.wasm?.asm?.memory
    if (memory instanceof WebAssembly.Memory && !(memory.buffer instanceof (globalThis.SharedArrayBuffer ?? class {}))) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64)), { env: { memory } })
      fn = instance.exports.attend_one_query as AttendFn
    }
  } catch {
    fn = null // no SIMD, or a memory this module cannot import: tfjs ops instead
  }
  instances.set(backend, fn)
  return fn
}

const offset = (backend: WasmBackendLike, t: tf.TensorInfo): number => {
  const data = backend.dataIdMap.get(t.dataId)
  if (data === undefined) throw new Error(`${ATTEND_ONE_QUERY}: a tensor's data is not on the wasm backend`)
  return data.memoryOffset
}

tf.registerKernel({
  kernelName: ATTEND_ONE_QUERY,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend: b, attrs }) => {
    const backend = b as unknown as WasmBackendLike
    const fn = kernelsFor(backend)
    if (fn === null) throw new Error(`${ATTEND_ONE_QUERY}: the SIMD kernels cannot run on this wasm backend`)
    const { q, k1, v1, k2, v2 } = inputs as Record<string, tf.TensorInfo | undefined>
    const [b0, h, , d] = q!.shape
    const len1 = k1!.shape[2]
    const len2 = k2 === undefined ? 0 : k2.shape[2]
    const out = backend.makeOutput([b0, h, 1, d], 'float32')
    const scratch = backend.makeOutput([len1 + len2 + 4], 'float32')
    fn(
      offset(backend, q!), offset(backend, k1!), offset(backend, v1!), len1,
      k2 === undefined ? 0 : offset(backend, k2), v2 === undefined ? 0 : offset(backend, v2!), len2,
      b0 * h, d, (attrs as { scale: number }).scale, offset(backend, scratch), offset(backend, out),
    )
    backend.disposeData(scratch.dataId)
    return out
  },
})

/**
 * `softmax(q·Kᵀ/√d)·V` for one query position, q [B, H, 1, d], over keys/values in one or
 * two consecutive parts ([B, H, Tᵢ, d] each), by the SIMD kernel — or `undefined` where it
 * does not run (another backend than wasm, a head size not a multiple of 4, a backend memory
 * the kernel cannot use): the caller then computes it with tfjs ops. No gradient: callers use
 * it only outside gradient recording.
 */
export const attendOneQuery = (q: tf.Tensor4D, parts: readonly { readonly k: tf.Tensor; readonly v: tf.Tensor }[]): tf.Tensor4D | undefined => {
  const d = q.shape[3]
  if (tf.getBackend() !== 'wasm' || parts.length < 1 || parts.length > 2 || q.shape[2] !== 1 || d % 4 !== 0 || q.dtype !== 'float32') return undefined
  if (kernelsFor(tf.backend() as unknown as WasmBackendLike) === null) return undefined
  const [p1, p2] = parts
  const inputs: tf.NamedTensorMap = p2 === undefined ? { q, k1: p1.k, v1: p1.v } : { q, k1: p1.k, v1: p1.v, k2: p2.k, v2: p2.v }
  return tf.engine().runKernel(ATTEND_ONE_QUERY, inputs, { scale: 1 / Math.sqrt(d) }) as tf.Tensor4D
}
