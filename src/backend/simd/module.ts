/**
 * The SIMD kernels' WebAssembly modules (kernels.wat, quant.wat, quant-relaxed.wat, gemm.wat
 * and train.wat, assembled into *-wasm.ts), each instantiated on the memory of a tfjs wasm backend:
 * their functions read and write tensors where tfjs-wasm keeps them, by byte offset, with no copy.
 * One instance per backend object; `null` where it cannot be made (no WebAssembly SIMD or bulk
 * memory), and callers use tfjs ops. On the threaded build of tfjs-wasm (a shared memory) the
 * module's memory import is declared shared (shared-memory.ts), and the backend gets a pool of
 * threads (pool.ts, as many as its `threads`) that run a kernel's chunks on the other cores:
 * {@link runSplit}. kernels.wat also has a relaxed-SIMD build (kernels-relaxed-wasm.ts: the
 * attention kernel's multiply-adds fused), reachable through {@link simdKernelsOn} where the
 * runtime has relaxed SIMD; tfjs gets the plain build, which measured faster
 * (docs/benchmarks.md). quant-relaxed.wat's q4 product, which gives the plain one's numbers
 * with fewer instructions, is used wherever the runtime has relaxed SIMD.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeWasmBackend, asWasmBackend, wasmMemory, type WasmBackendLike } from '../../core/tfjs-internals.js'
import { KERNELS_RELAXED_WASM_BASE64 } from './kernels-relaxed-wasm.js'
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js'
import { withSharedMemoryImport } from './shared-memory.js'
import { QUANT_WASM_BASE64 } from './quant-wasm.js'
import { TRAIN_WASM_BASE64 } from './train-wasm.js'
import { GEMM_WASM_BASE64 } from './gemm-wasm.js'
import { QUANT_RELAXED_WASM_BASE64 } from './quant-relaxed-wasm.js'
import { createKernelPool, MAX_POOL_THREADS, poolSlots, type KernelPool, type PoolFunction } from './pool.js'

export type { WasmBackendLike }

/** The module's exports (pointers are byte offsets, sizes count floats unless named bytes). */
export interface SimdKernels {
  readonly attend: (
    q: number,
    k: number,
    v: number,
    cap: number,
    len: number,
    tq: number,
    causal: number,
    packed: number,
    blocks: number,
    d: number,
    scale: number,
    scratch: number,
    out: number,
  ) => void
  readonly add: (a: number, b: number, n: number, out: number) => void
  readonly gelu_tanh: (x: number, n: number, out: number) => void
  readonly copy_blocks: (src: number, srcStride: number, dst: number, dstStride: number, bytes: number, blocks: number) => void
  /** Float32 → bfloat16 (nearest even) for `blocks` blocks of `count` values (a multiple of 8); strides in bytes. */
  readonly pack_bf16: (src: number, srcStride: number, dst: number, dstStride: number, count: number, blocks: number) => void
  /** Bfloat16 → float32 for `blocks` blocks of `count` values (a multiple of 8); strides in bytes. */
  readonly unpack_bf16: (src: number, srcStride: number, dst: number, dstStride: number, count: number, blocks: number) => void
  readonly layer_norm: (x: number, rows: number, d: number, w: number, b: number, eps: number, out: number) => void
  /** `layer_norm` on rows [r0, r1) (a chunk of the kernel pool's; slot unused). */
  readonly layer_norm_chunk: (x: number, rows: number, d: number, w: number, b: number, eps: number, out: number, r0: number, r1: number, slot: number) => void
  readonly gather_rows: (src: number, rowBytes: number, rows: number, n: number, out: number) => void
  /** `attend` on blocks [b0, b1) in scratch slot `slot` (the chunk's index), `gelu_tanh` on values [1024·c0, 1024·c1) (module.ts's runSplit). */
  readonly attend_chunk: (...args: number[]) => void
  readonly gelu_tanh_chunk: (x: number, n: number, out: number, c0: number, c1: number) => void
  /** out [n, rows] = columns ids[0 … n) of src [rows, cols] (4-byte values; ids int32, checked by the caller). */
  readonly gather_columns: (src: number, rows: number, cols: number, ids: number, n: number, out: number) => void
  readonly transpose_2d: (src: number, rows: number, cols: number, dst: number) => void
  readonly column_softmax_stats: (x: number, rows: number, cols: number, out: number) => void
  readonly softmax_xent_grad_columns: (x: number, rows: number, cols: number, lse: number, targets: number, scale: number, out: number) => void
  /** gelu_new and its derivative on values [1024·c0, 1024·c1) (module.ts's runSplit). */
  readonly gelu_tanh_grad_chunk: (x: number, n: number, out: number, grad: number, c0: number, c1: number) => void
}

/**
 * The quantized-weight kernels' exports (quant.wat; pointers are byte offsets). The matrix
 * products compute output channels [o0, o1) only, so that threads can share one (runSplit).
 */
export interface QuantKernels {
  readonly quantize_rows: (x: number, rows: number, n: number, stride: number, q: number, scales: number) => void
  readonly quantize_blocks: (x: number, rows: number, n: number, groups: number, q: number, scales: number, sums: number) => void
  readonly qmm_i8: (xq: number, xs: number, rows: number, stride: number, w: number, ws: number, outs: number, bias: number, y: number, o0: number, o1: number) => void
  /** quantize_blocks's xq and xc → xw (16 bits) and xd, the form quant.wat's qmm_q4 reads. */
  readonly spread_blocks: (xq: number, xc: number, blocks: number, xw: number, xd: number) => void
  /** q4 weights times activations in spread_blocks's form (xw, xc ← xd); quant-relaxed.wat's reads quantize_blocks's int8 and sums (xw ← xq, xc). */
  readonly qmm_q4: (xw: number, xs: number, xc: number, rows: number, groups: number, w: number, ws: number, outs: number, bias: number, y: number, o0: number, o1: number) => void
  readonly rows_i8: (w: number, ws: number, stride: number, n: number, ids: number, count: number, out: number) => void
  readonly rows_q4: (w: number, ws: number, groups: number, n: number, ids: number, count: number, out: number) => void
}

/** The training kernels' exports (train.wat; pointers are byte offsets, sizes count floats). */
export interface TrainKernels {
  readonly dropout: (states: number, q: number, r: number, rate: number, scale: number, x: number, out: number, mask: number) => void
  readonly attention: (
    q: number,
    k: number,
    v: number,
    batch: number,
    t: number,
    heads: number,
    d: number,
    scale: number,
    mask: number,
    probs: number,
    scratch: number,
    out: number,
  ) => void
  readonly attention_backward: (
    dout: number,
    q: number,
    k: number,
    v: number,
    o: number,
    probs: number,
    batch: number,
    t: number,
    heads: number,
    d: number,
    scale: number,
    scratch: number,
    dq: number,
    dk: number,
    dv: number,
  ) => void
  /** `attention` on sequences [b0, b1), in scratch slot `slot` (the chunk's index); `attention_backward` and `gelu_erf` likewise (module.ts's runSplit). */
  readonly attention_chunk: (...args: number[]) => void
  readonly attention_backward_chunk: (...args: number[]) => void
  readonly gelu_erf_chunk: (x: number, n: number, out: number, grad: number, scratch: number, g0: number, g1: number, slot: number) => void
  /** `adam` on elements [4096·k0, 4096·k1) (module.ts's runSplit). */
  readonly adam_chunk: (...args: number[]) => void
  readonly column_sums: (x: number, rows: number, cols: number, out: number) => void
  readonly scatter_add_rows: (x: number, ids: number, rows: number, width: number, vocab: number, skip: number, out: number) => void
  readonly layer_norm_stats: (x: number, rows: number, d: number, w: number, b: number, eps: number, out: number, stats: number) => void
  /** `layer_norm_stats` on rows [r0, r1) (a chunk of the kernel pool's; slot unused). */
  readonly layer_norm_stats_chunk: (x: number, rows: number, d: number, w: number, b: number, eps: number, out: number, stats: number, r0: number, r1: number, slot: number) => void
  readonly layer_norm_backward: (x: number, dy: number, rows: number, d: number, w: number, stats: number, dx: number, dw: number, db: number) => void
  readonly gelu_erf: (x: number, n: number, out: number, grad: number, scratch: number) => void
  readonly cross_entropy: (logits: number, targets: number, n: number, v: number, ignore: number, lse: number, loss: number) => void
  readonly cross_entropy_backward: (logits: number, targets: number, n: number, v: number, ignore: number, lse: number, dy: number, dlogits: number) => void
  readonly sum_squares: (x: number, n: number) => number
  readonly adam: (
    g: number,
    p: number,
    m: number,
    v: number,
    n: number,
    clip: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    step: number,
    epsHat: number,
    decay: number,
    wd: number,
    negLr: number,
    pOut: number,
    mOut: number,
    vOut: number,
    scratch: number,
  ) => void
}

/** gemm.wat's export (pointers are byte offsets, strides bytes): C = A·B (+ bias) on C's column panels [p0, p1) of 8. */
export interface GemmKernels {
  readonly gemm: (
    a: number,
    sai: number,
    sak: number,
    b: number,
    sbk: number,
    sbj: number,
    bias: number,
    c: number,
    m: number,
    k: number,
    n: number,
    scratch: number,
    p0: number,
    p1: number,
  ) => void
  /** The same on C's rows [40·q0, 40·q1), all columns, in scratch slot `slot` (the chunk's index, after q1). */
  readonly gemm_rows: (...args: number[]) => void
  /** W [k, n] packed into panels [p0, p1) of 16 columns at dst (k · 64 bytes a panel; gemv.ts). */
  readonly pack_panels: (w: number, k: number, n: number, dst: number, p0: number, p1: number, slot: number) => void
  /** y [m, n] = x [m, k] · W (+ bias) on panels [p0, p1) of the packed W; tmp: 64 bytes a slot, used only when n is not a multiple of 16 (0 otherwise). */
  readonly gemv_panels: (x: number, m: number, k: number, pw: number, n: number, bias: number, y: number, tmp: number, p0: number, p1: number, slot: number) => void
}

/** quant-relaxed.wat's exports: quant.wat's q4 product with relaxed SIMD (the same numbers). */
export interface QuantRelaxedKernels {
  readonly qmm_q4: QuantKernels['qmm_q4']
}

const decodeBase64 = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

const isShared = (memory: WebAssembly.Memory): boolean => typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer

/** Compiled modules by base64 source and memory kind: compiled once, instantiated per memory (and per pool thread). */
const compiled = new Map<string, WebAssembly.Module | null>()

/** A module (base64 bytes) compiled to import a plain or (tfjs-wasm's threaded build) a shared memory; null where it cannot be. */
const compile = (base64: string, shared: boolean): WebAssembly.Module | null => {
  const id = `${shared ? 's' : 'p'}${base64}`
  const known = compiled.get(id)
  if (known !== undefined) return known
  let m: WebAssembly.Module | null = null
  try {
    const plain = decodeBase64(base64)
    const bytes = shared ? withSharedMemoryImport(plain) : plain
    m = bytes === null ? null : new WebAssembly.Module(bytes)
  } catch {
    m = null
  }
  compiled.set(id, m)
  return m
}

/** A module (base64 bytes) instantiated on a memory; null where it cannot be. */
const instantiateOn = <K>(base64: string, memory: WebAssembly.Memory): K | null => {
  const m = compile(base64, isShared(memory))
  if (m === null) return null
  try {
    return new WebAssembly.Instance(m, { env: { memory } }).exports as unknown as K
  } catch {
    return null
  }
}

/** A module (base64 bytes) instantiated once per backend on its memory; null where it cannot be. */
const perBackend = <K>(base64: string) => {
  const instances = new WeakMap<object, K | null>()
  return (backend: WasmBackendLike): K | null => {
    const known = instances.get(backend)
    if (known !== undefined) return known
    const memory = wasmMemory(backend)
    const kernels = memory === undefined ? null : instantiateOn<K>(base64, memory)
    instances.set(backend, kernels)
    return kernels
  }
}

// (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11])

/**
 * Whether this runtime has WebAssembly relaxed SIMD (it validates a module using
 * `f32x4.relaxed_madd`): Node 22 and later, Chromium 114 and later; Node 20 only with
 * `--experimental-wasm-relaxed-simd`.
 */
export const hasRelaxedSimd = (): boolean => typeof WebAssembly !== 'undefined' && WebAssembly.validate(RELAXED_PROBE)

/**
 * kernels.wat's plain or relaxed build instantiated on a memory of one's own (for tests and
 * benchmarks that compare the two); null where it cannot run (`relaxed` without relaxed SIMD).
 */
export const simdKernelsOn = (memory: WebAssembly.Memory, variant: 'relaxed' | 'plain'): SimdKernels | null =>
  variant === 'relaxed' && !hasRelaxedSimd() ? null : instantiateOn<SimdKernels>(variant === 'relaxed' ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64, memory)

/**
 * The kernels on this backend's memory, made on first use; null where they cannot run. The
 * plain SIMD build: the relaxed one's fused multiply-adds lengthen the accumulation chains
 * (an FMA's latency is longer than an add's) and measured 0.92-1.00x its speed in Node 22/24
 * on a 2-core AMD EPYC (docs/benchmarks.md).
 */
export const simdKernels: (backend: WasmBackendLike) => SimdKernels | null = perBackend<SimdKernels>(KERNELS_WASM_BASE64)

/** The quantized-weight kernels (quant.wat) on this backend's memory, made on first use; null where they cannot run. */
export const quantKernels: (backend: WasmBackendLike) => QuantKernels | null = perBackend<QuantKernels>(QUANT_WASM_BASE64)

/** The training kernels (train.wat) on this backend's memory, made on first use; null where they cannot run. */
export const trainKernels: (backend: WasmBackendLike) => TrainKernels | null = perBackend<TrainKernels>(TRAIN_WASM_BASE64)

/** The training kernels when the active backend is wasm and they run there, else null. */
export const activeTrainKernels = (): TrainKernels | null => {
  const backend = activeWasmBackend()
  return backend === undefined ? null : trainKernels(backend)
}

/** quant-relaxed.wat on this backend's memory, made on first use; null where it cannot run (no relaxed SIMD). */
export const quantRelaxedKernels: (backend: WasmBackendLike) => QuantRelaxedKernels | null = perBackend<QuantRelaxedKernels>(QUANT_RELAXED_WASM_BASE64)

/** The float32 matrix product (gemm.wat) on this backend's memory, made on first use; null where it cannot run. */
export const gemmKernels: (backend: WasmBackendLike) => GemmKernels | null = perBackend<GemmKernels>(GEMM_WASM_BASE64)

/** The kernel modules, by name. */
const SOURCES = { kernels: KERNELS_WASM_BASE64, quant: QUANT_WASM_BASE64, 'quant-relaxed': QUANT_RELAXED_WASM_BASE64, gemm: GEMM_WASM_BASE64, train: TRAIN_WASM_BASE64 } as const

/** A kernel module's name: kernels.wat, quant.wat, quant-relaxed.wat, gemm.wat or train.wat. */
export type KernelModule = keyof typeof SOURCES

interface BackendPool {
  readonly pool: KernelPool | null
  /** The modules the pool runs, in the pool's order (those that compile here). */
  readonly modules: readonly KernelModule[]
  readonly functions: Map<string, PoolFunction | undefined>
}

const pools = new WeakMap<object, BackendPool>()

/**
 * The pool of threads of this backend's kernels, made on first use: as many threads as the
 * backend runs XNNPACK on (its `threads` option), where its memory is shared (the threaded
 * build); null otherwise. Its workers start in the background: until they run, jobs run on the
 * caller (`started` resolves when they run).
 */
export const kernelPool = (backend: WasmBackendLike): KernelPool | null => backendPool(backend).pool

/**
 * Whether this backend's pool has workers spinning after a job that ended a moment ago (the
 * pool's `awake`): a short job handed to them then pays microseconds, not a wake-up. False
 * without a pool.
 */
export const poolAwake = (backend: WasmBackendLike): boolean => backendPool(backend).pool?.awake() ?? false

const backendPool = (backend: WasmBackendLike): BackendPool => {
  const known = pools.get(backend)
  if (known !== undefined) return known
  const memory = wasmMemory(backend)
  const threads = Math.min(MAX_POOL_THREADS, backend.wasm?._get_threads_count?.() ?? 1)
  let entry: BackendPool = { pool: null, modules: [], functions: new Map() }
  if (memory !== undefined && isShared(memory) && threads > 1) {
    const modules = (Object.keys(SOURCES) as KernelModule[]).filter((k) => compile(SOURCES[k], true) !== null)
    const pool = createKernelPool(
      memory,
      modules.map((k) => compile(SOURCES[k], true) as WebAssembly.Module),
      threads,
    )
    entry = { pool, modules, functions: new Map() }
  }
  pools.set(backend, entry)
  return entry
}

/**
 * Runs kernel `name` of `module` over indices [0, count): `f(...args, start, end, slot)` for
 * chunks of a multiple of `grain` indices, slot being the chunk's index, split over the
 * backend's pool of threads where it has one, else `call(...args, 0, count, 0)` on the caller
 * (`call` is the caller's own instance of the function). The kernel must compute the same
 * values for an index whatever chunk it falls in, and write disjoint outputs for disjoint
 * chunks; one that needs scratch memory takes slot `slot` of {@link splitSlots} slots.
 * `linger` false sends the workers to sleep when the job is done (the pool's `run`).
 */
export const runSplit = (
  backend: WasmBackendLike,
  module: KernelModule,
  name: string,
  call: (...a: number[]) => unknown,
  args: readonly number[],
  count: number,
  grain: number,
  linger = true,
): void => {
  const { pool, modules, functions } = backendPool(backend)
  const id = `${module}.${name}`
  if (pool !== null && !functions.has(id)) functions.set(id, modules.includes(module) ? pool.lookup(modules.indexOf(module), name) : undefined)
  const f = functions.get(id)
  if (pool === null || f === undefined) call(...args, 0, count, 0)
  else pool.run(f, args, count, grain, linger)
}

/**
 * How many slots {@link runSplit}'s chunks of a job of `count` indices in multiples of `grain`
 * use on this backend (slots 0 … n − 1): as many as its pool cuts the job into, 1 where it has
 * no pool. A kernel that keeps scratch per chunk makes room for this many.
 */
export const splitSlots = (backend: WasmBackendLike, count: number, grain: number): number => poolSlots(count, grain, backendPool(backend).pool?.threads ?? 1)

/** The quantized-weight kernels when the active backend is wasm and they run there, else null. */
export const activeQuantKernels = (): QuantKernels | null => {
  const backend = activeWasmBackend()
  return backend === undefined ? null : quantKernels(backend)
}

/** The matrix product kernel when the active backend is wasm and it runs there, else null. */
export const activeGemmKernels = (): GemmKernels | null => {
  const backend = activeWasmBackend()
  return backend === undefined ? null : gemmKernels(backend)
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
export const registerSimdKernel = (name: string, run: (args: SimdKernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void => registerOn(simdKernels, name, run)

/** {@link registerSimdKernel} for a kernel of quant.wat (callers check {@link activeQuantKernels}). */
export const registerQuantKernel = (name: string, run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: QuantKernels }) => tf.TensorInfo): void =>
  registerOn(quantKernels, name, run)

/** {@link registerSimdKernel} for a kernel of gemm.wat (callers check {@link activeGemmKernels}). */
export const registerGemmKernel = (name: string, run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: GemmKernels }) => tf.TensorInfo): void =>
  registerOn(gemmKernels, name, run)

/** {@link registerSimdKernel} for a kernel of train.wat (callers check {@link activeTrainKernels}); `run` may return several outputs. */
export const registerTrainKernel = (name: string, run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: TrainKernels }) => tf.TensorInfo | tf.TensorInfo[]): void =>
  registerOn(trainKernels, name, run)

/**
 * A view of `count` 32-bit words of the backend's memory at a byte offset (to write a kernel's
 * small host-made inputs into a scratch buffer): valid until the next allocation there.
 */
export const heapWords = (backend: WasmBackendLike, offset: number, count: number): Uint32Array => {
  const memory = wasmMemory(backend)
  if (memory === undefined) throw new Error('simd kernels: this wasm backend exposes no memory')
  return new Uint32Array(memory.buffer, offset, count)
}

const registerOn = <K>(
  instance: (b: WasmBackendLike) => K | null,
  name: string,
  run: (args: Omit<SimdKernelArgs, 'kernels'> & { readonly kernels: K }) => tf.TensorInfo | tf.TensorInfo[],
): void => {
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
