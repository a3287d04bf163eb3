/**
 * Float32 products of a few rows, y [m, n] = x [m, k] · W [k, n] (+ bias) for m ≤ {@link GEMV_MAX_ROWS},
 * by gemm.wat's `gemv_panels` over a copy of W packed in panels of 16 columns, split over the
 * kernel pool by panels (module.ts's runSplit).
 *
 * Why: a decoding step multiplies one row by every weight matrix, so its time is the time to read
 * the weights. tfjs-wasm's XNNPACK reads a packed copy too (made on first use), but hands each
 * product to its own threads, which sleep between products: in a GPT-2 124M step its products
 * read 39 GB/s where one large product reads 58 (docs/benchmarks.md), and a tiny model's step is
 * mostly waking them. The kernel pool's workers spin through a step. Reading W where it lies,
 * without a copy, measured 1.5-2× slower than XNNPACK: the sums then go through memory at every
 * row of W, where a panel keeps its 16 in registers for the whole of k.
 *
 * The packed copy is made on a weight's first such product and kept beside it — as XNNPACK's
 * is, which is then never made — and freed when the weight's data is freed ({@link onDataFreed}).
 * Each output starts from the bias and adds its k products in order, a multiply then an add, whoever
 * computes it — as XNNPACK and gemm.wat do: the numbers do not depend on the thread count, nor on
 * whether a batch has four rows (these kernels) or five (XNNPACK's).
 */
import type * as tf from '@tensorflow/tfjs-core'
import { onDataFreed } from '../../core/tfjs-internals.js'
import { dataOffset, type GemmKernels, runSplit, splitSlots, type WasmBackendLike } from './module.js'

/** The most rows (of x) a product runs through these kernels; more go to XNNPACK or gemm.wat. */
export const GEMV_MAX_ROWS = 4

/** Multiply-adds a chunk of panels takes at least, so that handing it to another thread pays. */
const MIN_CHUNK_WORK = 1 << 15

/** Per backend: a weight's data → its packed copies, by shape (`k×n`: one data could be read as two shapes). */
const packs = new WeakMap<WasmBackendLike, Map<tf.DataId, Map<string, tf.TensorInfo>>>()

/** The packed copy of W [k, n] (the tensor `w`'s data), made on first use. */
const packed = (backend: WasmBackendLike, kernels: GemmKernels, w: tf.TensorInfo, k: number, n: number): tf.TensorInfo => {
  const byData = packs.get(backend) ?? watchFrees(backend)
  const copies = byData.get(w.dataId) ?? new Map<string, tf.TensorInfo>()
  const shape = `${k}×${n}`
  const known = copies.get(shape)
  if (known !== undefined) return known
  const panels = Math.ceil(n / 16)
  const copy = backend.makeOutput([panels * k * 16], 'float32')
  runSplit(backend, 'gemm', 'pack_panels', kernels.pack_panels, [dataOffset(backend, w), k, n, dataOffset(backend, copy)], panels, 1)
  copies.set(shape, copy)
  byData.set(w.dataId, copies)
  return copy
}

/** A backend's (empty) map of packed copies, whose copies go when their weight's data is freed. */
const watchFrees = (backend: WasmBackendLike): Map<tf.DataId, Map<string, tf.TensorInfo>> => {
  const byData = new Map<tf.DataId, Map<string, tf.TensorInfo>>()
  packs.set(backend, byData)
  onDataFreed(backend, (dataId) => {
    const copies = byData.get(dataId)
    if (copies === undefined) return
    byData.delete(dataId)
    for (const c of copies.values()) backend.disposeData(c.dataId)
  })
  return byData
}

/** A few-rows product's operands: x [m, k], W [k, n] row-major (untransposed), bias [n] or none. */
export interface GemvOperands {
  readonly x: tf.TensorInfo
  readonly w: tf.TensorInfo
  readonly bias?: tf.TensorInfo
  readonly m: number
  readonly k: number
  readonly n: number
}

/** Runs the product into a new output of the backend of shape `outShape` (m·n values; 1 ≤ m ≤ {@link GEMV_MAX_ROWS}, k ≥ 1). */
export const gemvOn = (backend: WasmBackendLike, kernels: GemmKernels, o: GemvOperands, outShape: readonly number[]): tf.TensorInfo => {
  const { m, k, n } = o
  const pw = packed(backend, kernels, o.w, k, n)
  const out = backend.makeOutput([...outShape], 'float32')
  const panels = Math.ceil(n / 16)
  const grain = Math.ceil(MIN_CHUNK_WORK / (16 * k * m))
  // 64 bytes of scratch a chunk, which only a last panel narrower than 16 columns goes through
  const tmp = n % 16 === 0 ? undefined : backend.makeOutput([16 * splitSlots(backend, panels, grain)], 'float32')
  const bias = o.bias === undefined ? 0 : dataOffset(backend, o.bias)
  const args = [dataOffset(backend, o.x), m, k, dataOffset(backend, pw), n, bias, dataOffset(backend, out), tmp === undefined ? 0 : dataOffset(backend, tmp)]
  runSplit(backend, 'gemm', 'gemv_panels', kernels.gemv_panels, args, panels, grain)
  if (tmp !== undefined) backend.disposeData(tmp.dataId)
  return out
}
