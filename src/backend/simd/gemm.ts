/**
 * Float32 matrix products C = op(A)·op(B) (+ bias) by gemm.wat on the wasm backend, either
 * operand transposed in place (read through strides, never copied), C's columns split over the
 * backend's kernel pool in runs of 8-column panels or blocks of rows (module.ts's runSplit).
 *
 * Why: tfjs-wasm multiplies through XNNPACK, whose wasm SIMD kernels and thread pool reach
 * 42-62 GFLOP/s on two cores at GPT-2's shapes; gemm.wat's 5 × 8 tiles over panels packed into
 * the first-level cache run faster on the same cores (docs/benchmarks.md, `node bench/kernels.mjs
 * --only gemm`), and a transposed operand (a layer's backward products) costs XNNPACK a copy.
 * Products of four rows or fewer (a decoding step) go to gemv.ts, over a packed copy of the
 * weight; those between stay with XNNPACK (backend/wasm-dense.ts decides).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeGemmKernels, dataOffset, type GemmKernels, registerGemmKernel, runSplit, splitSlots, type WasmBackendLike } from './module.js'

/** The kernel's name in tfjs's registry. */
export const GEMM = 'MinigptGemm'

/**
 * Products of fewer rows than this are faster through XNNPACK (measured at GPT-2's shapes: at 8-32
 * rows gemm.wat's panel packing costs as much as the product; about even at 48, 1.2× faster at
 * 64). nn/matmul.ts and wasm-dense.ts pick by it.
 */
export const GEMM_MIN_ROWS = 48

/** Bytes of gemm.wat's scratch for n columns: a packed panel (256 × 8 floats) for each 8, then a bias row and a tile of C. */
const scratchBytes = (n: number): number => Math.ceil(n / 8) * 8192 + 192

/** Multiply-adds a run of panels takes at least, so that handing it to another thread pays. */
const MIN_RUN_WORK = 1 << 16

/** A product's operands, as gemm.wat reads them. */
export interface GemmOperands {
  /** A [m, k], or [k, m] when `transposeA`. */
  readonly a: tf.TensorInfo
  /** B [k, n], or [n, k] when `transposeB`. */
  readonly b: tf.TensorInfo
  /** [n], or undefined for none. */
  readonly bias?: tf.TensorInfo
  readonly m: number
  readonly k: number
  readonly n: number
  readonly transposeA: boolean
  readonly transposeB: boolean
}

/** Rows of the blocks `gemm_rows` splits a product into. */
const ROW_BLOCK = 40

/**
 * Runs the product into a new [m, n] output of the backend (k ≥ 1). Split over the kernel pool
 * by runs of column panels, or — with more rows than columns (a batch of short sequences, the
 * tied head's vocabulary) — by blocks of rows, each thread packing all of B (small then) for
 * itself, so that no thread reads all of A.
 */
export const gemmOn = (backend: WasmBackendLike, kernels: GemmKernels, o: GemmOperands, outShape: readonly number[] = [o.m, o.n]): tf.TensorInfo => {
  const { m, k, n } = o
  const out = backend.makeOutput([...outShape], 'float32')
  const panels = Math.ceil(n / 8)
  const [sai, sak] = o.transposeA ? [4, 4 * m] : [4 * k, 4]
  const [sbk, sbj] = o.transposeB ? [4, 4 * k] : [4 * n, 4]
  const bias = o.bias === undefined ? 0 : dataOffset(backend, o.bias)
  const operands = [dataOffset(backend, o.a), sai, sak, dataOffset(backend, o.b), sbk, sbj, bias, dataOffset(backend, out), m, k, n]
  // by blocks of rows (each chunk its own scratch slot, all of B packed) or by runs of panels (one scratch)
  const byRows = m >= 2 * n
  const count = byRows ? Math.ceil(m / ROW_BLOCK) : panels
  // runs of whole panels (blocks of rows) of some work each; the pool cuts them into chunks, a few a thread
  const grain = Math.ceil(MIN_RUN_WORK / (byRows ? ROW_BLOCK * k * n : 8 * m * k))
  const scratch = backend.makeOutput([((byRows ? splitSlots(backend, count, grain) : 1) * scratchBytes(n)) / 4], 'float32')
  const args = [...operands, dataOffset(backend, scratch)]
  runSplit(backend, 'gemm', byRows ? 'gemm_rows' : 'gemm', byRows ? kernels.gemm_rows : kernels.gemm, args, count, grain)
  backend.disposeData(scratch.dataId)
  return out
}

registerGemmKernel(GEMM, ({ inputs, backend, kernels, attrs }) => {
  const { a, b, bias } = inputs
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean }
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]]
  const n = transposeB ? b.shape[0] : b.shape[1]
  return gemmOn(backend, kernels, { a, b, bias, m, k, n, transposeA, transposeB })
})

/**
 * op(a) · op(b) (+ bias [n]) for float32 2-D tensors by the kernel, or `undefined` where it
 * does not run (not wasm, another dtype, an empty or mismatched product). No gradient.
 */
export const gemmKernel = (a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false, bias?: tf.Tensor1D): tf.Tensor2D | undefined => {
  const k = transposeA ? a.shape[0] : a.shape[1]
  const n = transposeB ? b.shape[0] : b.shape[1]
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || k !== (transposeB ? b.shape[1] : b.shape[0]) || k === 0 || a.size === 0 || n === 0) return undefined
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape[0] !== n)) return undefined
  if (activeGemmKernels() === null) return undefined
  const inputs: tf.NamedTensorMap = bias === undefined ? { a, b } : { a, b, bias }
  return tf.engine().runKernel(GEMM, inputs, { transposeA, transposeB }) as tf.Tensor2D
}
