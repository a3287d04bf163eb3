/**
 * The pool of threads for the library's own kernels (src/backend/simd/pool.ts), on a shared
 * memory of its own: quant.wat's products split over 2, 3 and 4 threads, chunk by chunk, must
 * equal the same call on one thread bit for bit (each output channel is computed by the same
 * code whoever claims it); the workers must really take chunks; a trap on a worker is an error
 * on the caller and the pool goes on; without a shared memory or with one thread there is no pool.
 * Each chunk gets its index as its scratch slot: a kernel that records its calls sees slots
 * 0 … chunks − 1, each once, in the order of the chunks' ranges, as many as `poolSlots` says, and
 * each job's own arguments even when jobs alternate between two sets.
 * The same on the wasm backend's own pool, and across processes started with 1, 2 and 3 threads
 * (the built package): the same products, no idle pthread worker of tfjs-wasm's kept, and every
 * process exits by itself.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend, kernelPoolStats, kernelThreads } from '../../src/backend/index.js'
import { KERNELS_WASM_BASE64 } from '../../src/backend/simd/kernels-wasm.js'
import { activeQuantKernels, hasRelaxedSimd, kernelPool, type QuantKernels, type SimdKernels, type TrainKernels } from '../../src/backend/simd/module.js'
import { createKernelPool, type KernelPool, poolSlots } from '../../src/backend/simd/pool.js'
import { QUANT_RELAXED_WASM_BASE64 } from '../../src/backend/simd/quant-relaxed-wasm.js'
import { QUANT_WASM_BASE64 } from '../../src/backend/simd/quant-wasm.js'
import { TRAIN_WASM_BASE64 } from '../../src/backend/simd/train-wasm.js'
import { withSharedMemoryImport } from '../../src/backend/simd/shared-memory.js'
import { activeWasmBackend } from '../../src/core/tfjs-internals.js'
import { key, normal } from '../../src/core/key.js'
import { disposeQuantized, quantizedMatmul, uploadQuantized } from '../../src/quant/matrix.js'
import { int8Stride, q4Groups, quantizeRows, type QuantFormat } from '../../src/quant/quantize.js'
// @ts-expect-error: a build script without type declarations
import { assemble } from '../../scripts/kernels.mjs'

const sharedModule = (base64: string) => new WebAssembly.Module(withSharedMemoryImport(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))) as Uint8Array<ArrayBuffer>)

/** quant.wat (and its relaxed twin where the runtime has relaxed SIMD) on a shared memory of 64 MiB. */
const setup = () => {
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 4096, shared: true })
  const modules = [sharedModule(QUANT_WASM_BASE64), ...(hasRelaxedSimd() ? [sharedModule(QUANT_RELAXED_WASM_BASE64)] : [])]
  const kernels = new WebAssembly.Instance(modules[0] as WebAssembly.Module, { env: { memory } }).exports as unknown as QuantKernels
  return { memory, modules, kernels }
}

interface Problem {
  readonly format: QuantFormat
  readonly n: number
  readonly cols: number
  readonly outs: number
  readonly seed: number
}

/**
 * Writes x, a quantized W and a bias into the memory, quantizes x as the kernel wants it, and
 * returns the product's arguments (without o0, o1) and where y is.
 */
const prepare = (memory: WebAssembly.Memory, k: QuantKernels, p: Problem) => {
  const h = quantizeRows(p.format, Float32Array.from(normal(key(p.seed), p.outs * p.cols, 0.05)), p.outs, p.cols)
  const bytes = new Uint8Array(memory.buffer)
  let at = 1024
  const put = (data: Uint8Array) => {
    const start = at
    bytes.set(data, start)
    at = start + Math.ceil(data.length / 16) * 16 + 16
    return start
  }
  const x = put(new Uint8Array(Float32Array.from(normal(key(p.seed + 1), p.n * p.cols)).buffer))
  const w = put(h.bytes)
  const ws = put(new Uint8Array(h.scales.buffer))
  const bias = put(new Uint8Array(Float32Array.from(normal(key(p.seed + 2), p.outs)).buffer))
  const y = put(new Uint8Array(4 * p.n * p.outs))
  if (p.format === 'int8') {
    const stride = int8Stride(p.cols)
    const xq = put(new Uint8Array(2 * p.n * stride))
    const xs = put(new Uint8Array(4 * p.n))
    k.quantize_rows(x, p.n, p.cols, stride, xq, xs)
    const args = [xq, xs, p.n, stride, w, ws, p.outs, bias, y]
    return { args, relaxedArgs: args, y }
  }
  const groups = q4Groups(p.cols)
  const xq = put(new Uint8Array(32 * p.n * groups))
  const xs = put(new Uint8Array(4 * p.n * groups))
  const xc = put(new Uint8Array(4 * p.n * groups))
  const xw = put(new Uint8Array(64 * p.n * groups))
  const xd = put(new Uint8Array(4 * p.n * groups))
  k.quantize_blocks(x, p.n, p.cols, groups, xq, xs, xc)
  k.spread_blocks(xq, xc, p.n * groups, xw, xd)
  // quant.wat's q4 product reads the activations in spread_blocks's form, quant-relaxed.wat's as int8
  const rest = [p.n, groups, w, ws, p.outs, bias, y]
  return { args: [xw, xs, xd, ...rest], relaxedArgs: [xq, xs, xc, ...rest], y }
}

const problems = fc.record({
  format: fc.constantFrom<QuantFormat>('int8', 'q4'),
  n: fc.integer({ min: 1, max: 5 }),
  cols: fc.constantFrom(32, 100, 768, 2080),
  outs: fc.integer({ min: 1, max: 300 }),
  seed: fc.integer({ min: 0, max: 10_000 }),
})

describe('a kernel pool on a shared memory', () => {
  const { memory, modules, kernels } = setup()
  const pools: KernelPool[] = []
  beforeAll(async () => {
    for (const threads of [2, 3, 4]) pools.push(createKernelPool(memory, modules, threads, { spinMs: 0.05 }) as KernelPool)
    await Promise.all(pools.map((p) => p.started))
  })
  afterAll(() => pools.forEach((p) => p.close()))

  test.prop([problems], { numRuns: 30 })('splits a product over 2, 3 and 4 threads with the same result, bit for bit', (p) => {
    const { args, relaxedArgs, y } = prepare(memory, kernels, p)
    const read = () => new Float32Array(memory.buffer).slice(y / 4, y / 4 + p.n * p.outs)
    const name = p.format === 'int8' ? 'qmm_i8' : 'qmm_q4'
    kernels[name](...(args as [number, number, number, number, number, number, number, number, number, number]), 0, p.outs)
    const one = read()
    for (const pool of pools) {
      for (const module of modules.keys()) {
        new Float32Array(memory.buffer).fill(Number.NaN, y / 4, y / 4 + p.n * p.outs)
        const f = pool.lookup(module, name)
        if (f === undefined) continue // the relaxed module has only qmm_q4
        pool.run(f, module === 0 ? args : relaxedArgs, p.outs, 1)
        expect(read()).toEqual(one)
      }
    }
  })

  it('puts the workers to work, chunk by chunk', () => {
    const pool = pools[2] as KernelPool
    expect(pool.threads).toBe(4)
    expect(pool.running()).toBe(true)
    const { args } = prepare(memory, kernels, { format: 'int8', n: 1, cols: 768, outs: 4096, seed: 3 })
    const f = pool.lookup(0, 'qmm_i8')
    if (f === undefined) throw new Error('qmm_i8 is not in quant.wat')
    const before = pool.stats()
    const t0 = performance.now()
    for (let i = 0; i < 50; i++) pool.run(f, args, 4096, 16)
    const wall = performance.now() - t0
    const after = pool.stats()
    expect(after.jobs - before.jobs).toBe(50)
    expect(after.workerChunks).toBeGreaterThan(before.workerChunks) // 20 chunks a job, four threads claiming
    // the caller's waits for the workers' chunks are a part of the jobs' time
    expect(after.waitedMs).toBeGreaterThanOrEqual(before.waitedMs)
    expect(after.waitedMs - before.waitedMs).toBeLessThanOrEqual(wall)
  })

  it('says its workers are awake for half their spin time after a job, and not before a job, after that or once closed', async () => {
    const pool = createKernelPool(memory, modules, 2, { spinMs: 40 }) as KernelPool
    await pool.started
    const { args } = prepare(memory, kernels, { format: 'int8', n: 1, cols: 768, outs: 512, seed: 5 })
    const f = pool.lookup(0, 'qmm_i8')
    if (f === undefined) throw new Error('qmm_i8 is not in quant.wat')
    expect(pool.awake()).toBe(false)
    pool.run(f, args, 512, 16)
    const ended = performance.now()
    const awake = pool.awake()
    if (performance.now() - ended < 20) expect(awake).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 25))
    expect(pool.awake()).toBe(false)
    // a job that asks for no lingering: asleep right after it, with the same numbers
    const { y } = prepare(memory, kernels, { format: 'int8', n: 1, cols: 768, outs: 512, seed: 5 })
    const read = () => new Float32Array(memory.buffer).slice(y / 4, y / 4 + 512)
    pool.run(f, args, 512, 16)
    const lingered = read()
    pool.run(f, args, 512, 16, false)
    expect(pool.awake()).toBe(false)
    expect(read()).toEqual(lingered)
    pool.close()
    expect(pool.awake()).toBe(false)
  })

  it('runs a single chunk on the caller', () => {
    const pool = pools[0] as KernelPool
    const { args } = prepare(memory, kernels, { format: 'int8', n: 1, cols: 32, outs: 3, seed: 4 })
    const f = pool.lookup(0, 'qmm_i8')
    if (f === undefined) throw new Error('qmm_i8 is not in quant.wat')
    const before = pool.stats().jobs
    pool.run(f, args, 3, 16)
    expect(pool.stats().jobs).toBe(before)
  })

  it('reports a kernel that traps on a worker as an error, and goes on', () => {
    const pool = pools[0] as KernelPool
    const f = pool.lookup(0, 'qmm_i8')
    if (f === undefined) throw new Error('qmm_i8 is not in quant.wat')
    // weights far past the memory's end: every chunk traps, the workers' too
    const args = [0, 0, 1, 32, 2 ** 31 - 64, 0, 4000, 0, 0]
    expect(() => pool.run(f, args, 4000, 1)).toThrow()
    const { args: good, y } = prepare(memory, kernels, { format: 'int8', n: 2, cols: 100, outs: 64, seed: 5 })
    kernels.qmm_i8(...(good as [number, number, number, number, number, number, number, number, number]), 0, 64)
    const one = new Float32Array(memory.buffer).slice(y / 4, y / 4 + 128)
    pool.run(f, good, 64, 1)
    expect(new Float32Array(memory.buffer).slice(y / 4, y / 4 + 128)).toEqual(one)
  })

  it('is not made for one thread or a memory that is not shared', () => {
    expect(createKernelPool(memory, modules, 1)).toBeNull()
    const plain = new WebAssembly.Memory({ initial: 1 })
    expect(createKernelPool(plain, [], 2)).toBeNull()
    expect(() => createKernelPool(memory, modules, 9)).toThrow(/at most 8/)
  })
})

/** A kernel that records each call in slot `slot` of a log: start + 1, end, and the calls that had this slot. */
const RECORDER = `(module
  (import "env" "memory" (memory 1))
  (func (export "record") (param $log i32) (param $start i32) (param $end i32) (param $slot i32)
    (local $at i32)
    (local.set $at (i32.add (local.get $log) (i32.mul (local.get $slot) (i32.const 12))))
    (i32.store (local.get $at) (i32.add (local.get $start) (i32.const 1)))
    (i32.store offset=4 (local.get $at) (local.get $end))
    (i32.store offset=8 (local.get $at) (i32.add (i32.load offset=8 (local.get $at)) (i32.const 1)))))`

/** Slots a log has room for: more than any pool makes (5 chunks a thread, 8 threads). */
const LOG_SLOTS = 64

describe("a job's chunks and their slots", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true })
  const words = new Int32Array(memory.buffer)
  const logs = [256, 2048] // byte offsets of two logs
  const pools: KernelPool[] = []
  let record: (...a: number[]) => void = () => undefined
  beforeAll(async () => {
    const bytes = withSharedMemoryImport(await assemble(RECORDER, 'recorder.wat'))
    if (bytes === null) throw new Error('the recorder imports no memory')
    const module = new WebAssembly.Module(bytes)
    record = (new WebAssembly.Instance(module, { env: { memory } }).exports as { record: (...a: number[]) => void }).record
    for (const threads of [2, 3, 4]) pools.push(createKernelPool(memory, [module], threads, { spinMs: 0.05 }) as KernelPool)
    await Promise.all(pools.map((p) => p.started))
  })
  afterAll(() => pools.forEach((p) => p.close()))

  /** Runs the recorder over [0, count) on `pool` (or on the caller with none) and returns the calls it logged, by slot. */
  const calls = (pool: KernelPool | null, log: number, count: number, grain: number) => {
    for (const l of logs) words.fill(0, l / 4, l / 4 + 3 * LOG_SLOTS)
    if (pool === null) record(log, 0, count, 0)
    else {
      const f = pool.lookup(0, 'record')
      if (f === undefined) throw new Error('record is not in the recorder')
      pool.run(f, [log], count, grain)
    }
    const other = logs.find((l) => l !== log) as number
    expect(words.subarray(other / 4, other / 4 + 3 * LOG_SLOTS).every((w) => w === 0)).toBe(true) // nothing in the other job's log
    return Array.from({ length: LOG_SLOTS }, (_, slot) => ({
      slot,
      start: (words[log / 4 + 3 * slot] as number) - 1,
      end: words[log / 4 + 3 * slot + 1] as number,
      calls: words[log / 4 + 3 * slot + 2] as number,
    }))
  }

  /** The slots that logged calls must be 0 … n − 1, each called once, their ranges tiling [0, count) in slot order, starting at multiples of grain. */
  const expectSlotsTile = (logged: ReturnType<typeof calls>, count: number, grain: number): number => {
    const used = logged.filter((c) => c.calls > 0)
    expect(used.map((c) => c.slot)).toEqual(used.map((_, i) => i))
    expect(used.every((c) => c.calls === 1)).toBe(true)
    expect(used[0]?.start).toBe(0)
    used.forEach((c, i) => {
      expect(c.start % grain).toBe(0)
      expect(c.end).toBeGreaterThan(c.start)
      expect(c.end).toBe(i + 1 < used.length ? used[i + 1]?.start : count)
    })
    return used.length
  }

  /** The most indices one of `threads` threads runs when they take the chunks in turn. */
  const busiest = (sizes: readonly number[], threads: number): number =>
    Math.max(...Array.from({ length: threads }, (_, t) => sizes.filter((_, i) => i % threads === t).reduce((a, b) => a + b, 0)))

  test.prop([fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 300 })], { numRuns: 60 })(
    'gives the chunks slots 0 … chunks − 1, each once, as many as poolSlots says',
    (count, grain) => {
      for (const pool of pools) {
        const logged = calls(pool, logs[0] as number, count, grain)
        const n = expectSlotsTile(logged, count, grain)
        expect(n).toBe(poolSlots(count, grain, pool.threads))
        // the cut leaves the busiest thread (chunks taken in turn) no more than the plain cut into the most chunks would
        const sizes = logged.filter((c) => c.calls > 0).map((c) => c.end - c.start)
        const units = Math.ceil(count / grain)
        const plain = grain * Math.ceil(units / Math.min(units, 4 * pool.threads))
        const plainSizes = Array.from({ length: Math.ceil(count / plain) }, (_, i) => Math.min(plain, count - i * plain))
        expect(busiest(sizes, pool.threads)).toBeLessThanOrEqual(busiest(plainSizes, pool.threads))
        expect(n).toBeLessThanOrEqual(5 * pool.threads)
        // where the tail was cut (more than four chunks a thread), the job ends on chunks at most half the longest (rounded up to a grain)
        const longest = Math.max(...sizes)
        if (n > 4 * pool.threads) expect(Math.max(...sizes.slice(-pool.threads))).toBeLessThanOrEqual(grain * Math.ceil(longest / grain / 2))
        if (count > grain)
          expect(n).toBeGreaterThanOrEqual(2) // more than one grain: split
        else expect(n).toBe(1) // one chunk: slot 0, on the caller
      }
      // no pool: the whole range on the caller in slot 0, the one slot poolSlots counts
      expect(expectSlotsTile(calls(null, logs[0] as number, count, grain), count, grain)).toBe(1)
      expect(poolSlots(count, grain, 1)).toBe(1)
    },
  )

  it('cuts 42 units for two threads into 6 chunks of 7 (21 each), not 7 of 6 (24 for one thread), and the last two in halves', () => {
    const pool = pools[0] as KernelPool
    expect(pool.threads).toBe(2)
    const sizes = (count: number, grain: number) =>
      calls(pool, logs[0] as number, count, grain)
        .filter((c) => c.calls > 0)
        .map((c) => c.end - c.start)
    // taken in turn, each thread still runs 21: 7 + 7 + 4 + 3
    expect(sizes(42, 1)).toEqual([7, 7, 7, 7, 4, 4, 3, 3])
    expect(poolSlots(42, 1, 2)).toBe(8)
    expect(poolSlots(42 * 40, 40, 2)).toBe(8)
    // two balanced chunks are halved too
    expect(sizes(10, 1)).toEqual([3, 3, 2, 2])
    // 23 units go as 3 3 3 3 3 3 3 2 (12 and 11 in turn), their last two as 2 1 and 1 1: 12 and 11 still
    expect(sizes(23, 1)).toEqual([3, 3, 3, 3, 3, 3, 2, 1, 1, 1])
    // in grains, the last one partial: the same cut of 23 grains of 4
    expect(sizes(91, 4)).toEqual([12, 12, 12, 12, 12, 12, 8, 4, 4, 3])
    // a last chunk of one unit cannot be halved, so the tail is not cut
    expect(sizes(11, 1)).toEqual([2, 2, 2, 2, 2, 1])
  })

  it('runs each job with its own arguments when consecutive jobs differ only in them', () => {
    for (const pool of pools) {
      const before = pool.stats().workerChunks
      // (a recorder's chunk takes nanoseconds: the caller may claim them all before a worker wakes,
      // so the jobs go on until the workers have taken part, up to 20,000 of them)
      for (let i = 0; i < 100 || (pool.stats().workerChunks === before && i < 20_000); i++) {
        const log = logs[i % 2] as number
        expect(expectSlotsTile(calls(pool, log, 4000, 10), 4000, 10)).toBe(poolSlots(4000, 10, pool.threads))
      }
      expect(pool.stats().workerChunks).toBeGreaterThan(before) // the workers took part
    }
  })
})

/**
 * The first index where two float arrays differ in their bits (-1: none). toEqual walks large
 * typed arrays element by element through its generic equality, seconds for the half-million
 * values of a 700 × 768 case: this compares their bytes in place.
 */
const firstBitDifference = (a: Float32Array, b: Float32Array): number => {
  if (a.length !== b.length) return Math.min(a.length, b.length)
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return -1
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)]
  return x.findIndex((v, i) => v !== y[i])
}

describe('LayerNorm on a kernel pool (kernels.wat, and train.wat with its statistics)', () => {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true })
  const modules = [sharedModule(KERNELS_WASM_BASE64), sharedModule(TRAIN_WASM_BASE64)]
  const k = new WebAssembly.Instance(modules[0] as WebAssembly.Module, { env: { memory } }).exports as unknown as SimdKernels
  const t = new WebAssembly.Instance(modules[1] as WebAssembly.Module, { env: { memory } }).exports as unknown as TrainKernels
  const pools: KernelPool[] = []
  beforeAll(async () => {
    for (const threads of [2, 3]) pools.push(createKernelPool(memory, modules, threads, { spinMs: 0.05 }) as KernelPool)
    await Promise.all(pools.map((p) => p.started))
  })
  afterAll(() => pools.forEach((p) => p.close()))

  test.prop(
    [fc.integer({ min: 1, max: 700 }), fc.constantFrom(4, 12, 16, 64, 68, 768), fc.integer({ min: 1, max: 90 }), fc.constantFrom(0.1, 1, 300), fc.integer({ min: 0, max: 10_000 })],
    { numRuns: 25 },
  )('splits rows over 2 and 3 threads with the values of one call, and the statistics kernel gives the same values, bit for bit', (rows, d, grain, scale, seed) => {
    const f = new Float32Array(memory.buffer)
    const n = rows * d
    // x, w, b, then the outputs: inference, training, stats (one thread), and the split runs'
    const [x, w, b, one, oneT, oneS, out, outS] = [0, n, n + d, n + 2 * d, 2 * n + 2 * d, 3 * n + 2 * d, 3 * n + 2 * d + 2 * rows, 4 * n + 2 * d + 2 * rows]
    f.set(normal(key(seed), n, scale), x)
    f.set(normal(key(seed + 1), d, 1), w)
    f.set(normal(key(seed + 2), d, 1), b)
    const args = [4 * x, rows, d, 4 * w, 4 * b, 1e-5]
    k.layer_norm(...(args as [number, number, number, number, number, number]), 4 * one)
    t.layer_norm_stats(...(args as [number, number, number, number, number, number]), 4 * oneT, 4 * oneS)
    expect(firstBitDifference(f.subarray(oneT, oneT + n), f.subarray(one, one + n))).toBe(-1)
    for (const pool of pools) {
      f.fill(Number.NaN, out, out + n + 2 * rows)
      pool.run(pool.lookup(0, 'layer_norm_chunk') as NonNullable<ReturnType<KernelPool['lookup']>>, [...args, 4 * out], rows, grain)
      expect(firstBitDifference(f.subarray(out, out + n), f.subarray(one, one + n))).toBe(-1)
      f.fill(Number.NaN, out, out + n + 2 * rows)
      pool.run(pool.lookup(1, 'layer_norm_stats_chunk') as NonNullable<ReturnType<KernelPool['lookup']>>, [...args, 4 * out, 4 * outS], rows, grain)
      expect(firstBitDifference(f.subarray(out, out + n), f.subarray(one, one + n))).toBe(-1)
      expect(firstBitDifference(f.subarray(outS, outS + 2 * rows), f.subarray(oneS, oneS + 2 * rows))).toBe(-1)
    }
  })
})

describe.runIf(hasRelaxedSimd())('quant-relaxed.wat', () => {
  const { memory, modules, kernels } = setup()
  let relaxed: Pick<QuantKernels, 'qmm_q4'>
  beforeAll(() => {
    relaxed = new WebAssembly.Instance(modules[1] as WebAssembly.Module, { env: { memory } }).exports as unknown as Pick<QuantKernels, 'qmm_q4'>
  })

  test.prop([problems.map((p) => ({ ...p, format: 'q4' as const }))], { numRuns: 30 })("computes quant.wat's q4 products bit for bit", (p) => {
    const { args, relaxedArgs, y } = prepare(memory, kernels, p)
    type Args = Parameters<QuantKernels['qmm_q4']> extends [...infer A, number, number] ? A : never
    kernels.qmm_q4(...(args as Args), 0, p.outs)
    const plain = new Float32Array(memory.buffer).slice(y / 4, y / 4 + p.n * p.outs)
    new Float32Array(memory.buffer).fill(Number.NaN, y / 4, y / 4 + p.n * p.outs)
    relaxed.qmm_q4(...(relaxedArgs as Args), 0, p.outs)
    expect(new Float32Array(memory.buffer).slice(y / 4, y / 4 + p.n * p.outs)).toEqual(plain)
  })
})

describe('the wasm backend', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  it("splits the quantized products over its pool, with the host fallback's numbers", async () => {
    const backend = activeWasmBackend()
    const pool = backend === undefined ? null : kernelPool(backend)
    expect(activeQuantKernels()).not.toBeNull()
    // this process started wasm with its default threads: one per core (a pool from two cores)
    if (pool === null) {
      expect(kernelThreads()).toBe(1)
      return
    }
    expect(kernelThreads()).toBe(pool.threads)
    for (const format of ['int8', 'q4'] as const) {
      const [outs, cols] = [1000, 200]
      const m = uploadQuantized(quantizeRows(format, Float32Array.from(normal(key(8), outs * cols, 0.05)), outs, cols))
      const x = tf.tensor2d(Float32Array.from(normal(key(9), 3 * cols)), [3, cols])
      const jobs = pool.stats().jobs
      const y = quantizedMatmul(x, m)
      const got = y.dataSync().slice()
      expect(pool.stats().jobs).toBe(jobs + 1)
      expect(kernelPoolStats()).toEqual(pool.stats())
      await initBackend('cpu')
      expect(kernelPoolStats()).toBeUndefined() // no pool off wasm
      const cpuM = uploadQuantized(quantizeRows(format, Float32Array.from(normal(key(8), outs * cols, 0.05)), outs, cols))
      const cpuX = tf.tensor2d(Float32Array.from(normal(key(9), 3 * cols)), [3, cols])
      const want = quantizedMatmul(cpuX, cpuM).dataSync().slice()
      tf.dispose([cpuX])
      disposeQuantized(cpuM)
      await initBackend('wasm')
      expect(Array.from(got)).toEqual(Array.from(want))
      tf.dispose([x, y])
      disposeQuantized(m)
    }
  })
})

const root = fileURLToPath(new URL('../..', import.meta.url))
const script = (threads: number) => `
import { initBackend, kernelThreads, quant, key, normal } from 'minigpt-fp'
import * as tf from '@tensorflow/tfjs-core'
await initBackend('wasm', { threads: ${threads} })
const out = { threads: kernelThreads(), idle: tf.backend().wasm.PThread?.unusedWorkers.length ?? null, running: tf.backend().wasm.PThread?.runningWorkers.length ?? null }
for (const format of ['int8', 'q4']) {
  const m = quant.uploadQuantized(quant.quantizeRows(format, Float32Array.from(normal(key(1), 3000 * 160, 0.05)), 3000, 160))
  const y = quant.quantizedMatmul(tf.tensor2d(Float32Array.from(normal(key(2), 2 * 160)), [2, 160]), m)
  out[format] = Array.from(y.dataSync())
}
process.stdout.write(JSON.stringify(out))
// no process.exit: the kernel pool's threads must not keep the process alive
`

describe('the built package on 1, 2 and 3 threads', () => {
  it.skipIf(!existsSync(`${root}/dist/index.js`))('gives the same quantized products and exits by itself', () => {
    const runs = [1, 2, 3].map((n) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script(n)], { cwd: root, encoding: 'utf8', timeout: 120_000 })))
    expect(runs.map((r) => r.threads)).toEqual([1, 2, 3])
    // Emscripten's pre-started pthread workers that XNNPACK did not take are stopped (memory)
    expect(runs.map((r) => [r.idle, r.running])).toEqual([
      [null, null],
      [0, 1],
      [0, 2],
    ])
    expect(runs[1].int8).toEqual(runs[0].int8)
    expect(runs[2].int8).toEqual(runs[0].int8)
    expect(runs[1].q4).toEqual(runs[0].q4)
    expect(runs[2].q4).toEqual(runs[0].q4)
  })
})
