// The SIMD kernels of src/backend/simd against the tfjs-wasm ops they replace, each in
// isolation at the shapes of a decoding step, interleaved (kernel, ops, kernel, ops …) so that
// both see the same machine: the median time of a call, and the largest difference of their
// results.
//
//   npm run build && node bench/kernels.mjs [--reps 60] [--only gemm] [--json]
//
// Shapes: GPT-2 124M decoding at 64 and 512 positions (1 row, 12 heads of 64, a cache buffer with
// room to spare as nn/kv-cache.ts keeps it) and a prefill chunk of 64 causal queries; Mini-GPT's
// 1,000 names at a middle step (~700 rows, 4 heads of 16, 10 positions, 256 hidden features).
//
// The matrix product (gemm.wat, both threads) against tf.matMul (XNNPACK, both threads) at
// GPT-2's prefill and fine-tuning shapes, transposed operands included (a layer's backward
// products), and Mini-GPT's training batch; with GFLOP/s. `--only S` keeps the kernels whose
// name contains S.
//
// Then the attention kernel of kernels.wat's two builds, relaxed SIMD (fused multiply-adds)
// against plain SIMD, called directly on a memory of their own, interleaved — where the
// runtime has relaxed SIMD (Node 22+; Node 20 with --experimental-wasm-relaxed-simd).
//
// Then the kernel pool's own cost (`--only pool` alone): tiny jobs — quant.wat's int8 product of
// one activation row by a 128×768 and a 768×768 matrix, a decoding step's smallest and a middle
// one — split over a pool of the backend's thread count (pool.ts's `run`, in chunks of the grain
// quant-matmul.ts uses) against the same call on one thread, alternated, on a shared memory of
// their own: the median µs per job. Where the split is not faster, the hand-over costs more than
// the other thread saves.
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, normal, simdKernelsActive } from '../dist/index.js'
import { attendKernel } from '../dist/backend/simd/attend.js'
import { geluErfKernel } from '../dist/backend/simd/gelu-erf.js'
import { layerNormKernel } from '../dist/backend/simd/layer-norm.js'
import { writeInPlace } from '../dist/backend/simd/cache-blocks.js'
import { causalMask } from '../dist/mask/index.js'
import { gatherRowsKernel } from '../dist/backend/simd/gather-rows.js'
import { gemmKernel } from '../dist/backend/simd/gemm.js'
import { transposeNoGrad } from '../dist/backend/simd/transpose.js'
import { hasRelaxedSimd, simdKernelsOn } from '../dist/backend/simd/module.js'
import { createKernelPool, poolSlots } from '../dist/backend/simd/pool.js'
import { QUANT_WASM_BASE64 } from '../dist/backend/simd/quant-wasm.js'
import { withSharedMemoryImport } from '../dist/backend/simd/shared-memory.js'
import { kernelThreads } from '../dist/backend/index.js'
import { int8Stride, quantizeRows } from '../dist/quant/quantize.js'
import { machine, median, table } from './util.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const reps = Number(arg('reps', '60'))
await initBackend('wasm')
if (!simdKernelsActive()) throw new Error('bench/kernels: the SIMD kernels do not run on this wasm backend')

let seed = 0
const randn = (shape, scale = 1) =>
  tf.tensor(
    normal(
      key(seed++),
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  )

// The tfjs ops each kernel replaces (as src/nn writes them).
const ops = {
  // softmax(q·Kᵀ/√d + mask)·V over the first `length` positions of the buffers k, v.
  attend: (q, k, v, length, causal) => {
    const [b, h, , d] = k.shape
    const [kk, vv] = [k, v].map((t) => (length === t.shape[2] ? t : tf.slice(t, [0, 0, 0, 0], [b, h, length, d])))
    const s = tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(d))
    return tf.matMul(tf.softmax(causal ? tf.add(s, causalMask(q.shape[2], length)) : s, -1), vv)
  },
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
  layerNorm: (x, w, b, eps) => {
    const centred = tf.sub(x, tf.mean(x, -1, true))
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps))), w), b)
  },
}

const cases = []
const attendCase = (kernel, name, rows, heads, queries, length, room, d) => {
  const q = randn([rows, heads, queries, d])
  const [k, v] = [0, 1].map(() => randn([rows, heads, length + room, d]))
  const causal = queries > 1
  cases.push({ kernel, shape: name, simd: () => attendKernel(q, k, v, length, causal), ops: () => ops.attend(q, k, v, length, causal) })
}
attendCase('attention, one query', 'GPT-2 @ 64: 12 heads × 64 positions (+ 16 room) × 64', 1, 12, 1, 64, 16, 64)
attendCase('attention, one query', 'GPT-2 @ 512: 12 heads × 512 positions (+ 64 room) × 64', 1, 12, 1, 512, 64, 64)
attendCase('attention, one query', 'Mini-GPT: 700 rows × 4 heads × 10 positions (+ 8 room) × 16', 700, 4, 1, 10, 8, 16)
attendCase('attention, 64 causal queries', 'GPT-2 prefill chunk: 12 heads × 64 queries over 512 positions × 64', 1, 12, 64, 512, 64, 64)
{
  const x = randn([700, 1, 256], 2)
  cases.push({ kernel: 'GELU (erf)', shape: 'Mini-GPT: 700 × 256', simd: () => geluErfKernel(x), ops: () => ops.gelu(x) })
  const big = randn([1, 1, 3072], 2)
  cases.push({ kernel: 'GELU (erf)', shape: 'one row of 3,072', simd: () => geluErfKernel(big), ops: () => ops.gelu(big) })
}
for (const [shape, rows, d] of [
  ['Mini-GPT: 700 × 64', 700, 64],
  ['GPT-2: 1 × 768', 1, 768],
]) {
  const x = randn([rows, 1, d], 3)
  const w = randn([d])
  const b = randn([d])
  cases.push({ kernel: 'LayerNorm', shape, simd: () => layerNormKernel(x, w, b, 1e-5), ops: () => ops.layerNorm(x, w, b, 1e-5) })
}
{
  const cache = randn([700, 4, 10, 16])
  const buffer = randn([700, 4, 18, 16])
  const step = randn([700, 4, 1, 16])
  // The in-place write returns a handle on the buffer, which `once` disposes (the buffer stays).
  cases.push({ kernel: 'cache append', shape: 'Mini-GPT: 700 × 4 × (10 + 1) × 16', simd: () => writeInPlace(buffer, step, 10), ops: () => tf.concat([cache, step], 2) })
  const gpt = randn([1, 12, 40, 64])
  const gptBuffer = randn([1, 12, 60, 64])
  const one = randn([1, 12, 1, 64])
  cases.push({ kernel: 'cache append', shape: 'GPT-2: 12 × (40 + 1) × 64', simd: () => writeInPlace(gptBuffer, one, 40), ops: () => tf.concat([gpt, one], 2) })
  const rows = Array.from({ length: 350 }, (_, i) => (i * 7) % 700)
  const ids = tf.tensor1d(rows, 'int32')
  cases.push({
    kernel: 'row gather (compaction)',
    shape: 'Mini-GPT: 350 of 700 rows of 4 × 10 × 16',
    simd: () => gatherRowsKernel(cache, rows),
    ops: () => tf.gather(cache, ids, 0),
  })
}

// Against the explicit SIMD transpose + XNNPACK product the
// library ran before gemm.wat (tfjs's own transposed matMul is a scalar loop 25-95x slower:
// the last two rows).
for (const [shape, m, k, n, ta, tb, flags] of [
  ['GPT-2 prefill @ 64: 64×768 · 768×3072', 64, 768, 3072, false, false],
  ['GPT-2 prefill @ 512: 512×768 · 768×3072', 512, 768, 3072, false, false],
  ['GPT-2 fine-tune, forward: 256×768 · 768×3072', 256, 768, 3072, false, false],
  ['GPT-2 fine-tune, forward: 256×3072 · 3072×768', 256, 3072, 768, false, false],
  ['GPT-2 fine-tune, dX = dY·Wᵀ: 256×3072 · (768×3072)ᵀ', 256, 3072, 768, false, true],
  ['GPT-2 fine-tune, dW = Xᵀ·dY: (256×768)ᵀ · 256×3072', 768, 256, 3072, true, false],
  ['GPT-2 tied head, logitsᵀ = E·hᵀ: 50257×768 · (256×768)ᵀ', 50257, 768, 256, false, true],
  ['GPT-2 tied head, dE = G·h: 50257×256 · 256×768', 50257, 256, 768, false, false],
  ['GPT-2 tied head, dh = Gᵀ·E: (50257×256)ᵀ · 50257×768', 256, 50257, 768, true, false],
  ['Mini-GPT training batch: 1664×64 · 64×256', 1664, 64, 256, false, false],
  ['48 rows: 48×768 · 768×2304', 48, 768, 2304, false, false],
  ['dX = dY·Wᵀ, tfjs transpose flag', 256, 3072, 768, false, true, true],
  ['dW = Xᵀ·dY, tfjs transpose flag', 768, 256, 3072, true, false, true],
]) {
  const a = randn(ta ? [k, m] : [m, k])
  const b = randn(tb ? [n, k] : [k, n])
  const viaOps = flags ? () => tf.matMul(a, b, ta, tb) : () => tf.tidy(() => tf.matMul(ta ? transposeNoGrad(a) : a, tb ? transposeNoGrad(b) : b))
  cases.push({ kernel: 'matrix product', shape, flops: 2 * m * k * n, simd: () => gemmKernel(a, b, ta, tb), ops: viaOps, reps: flags ? 3 : undefined })
}

const only = arg('only', '')
if (only !== '') cases.splice(0, cases.length, ...cases.filter((c) => c.kernel.includes(only) || (only === 'gemm' && c.kernel === 'matrix product')))

const once = (f) => {
  const t0 = performance.now()
  const y = f() // wasm runs kernels synchronously: the result is there when the call returns
  const ms = performance.now() - t0
  y.dispose()
  return ms
}

const results = []
for (const c of cases) {
  const a = c.simd()
  const b = c.ops()
  // (A cache append's result is the buffer, with room past the positions: no element-wise comparison.)
  let diff = a.size === b.size ? 0 : Number.NaN
  const av = a.dataSync()
  const bv = b.dataSync()
  for (let i = 0; i < av.length && a.size === b.size; i++) diff = Math.max(diff, Math.abs(av[i] - bv[i]))
  tf.dispose([a, b])
  const simd = []
  const viaOps = []
  for (let r = 0; r < (c.reps ?? reps); r++) {
    simd.push(once(c.simd))
    viaOps.push(once(c.ops))
  }
  const s = median(simd)
  const o = median(viaOps)
  results.push({
    kernel: c.kernel,
    shape: c.shape,
    'SIMD kernel (ms)': s.toFixed(3),
    'tfjs ops (ms)': o.toFixed(3),
    'speed-up': `${(o / s).toFixed(c.flops === undefined ? 1 : 2)}×`,
    'GFLOP/s kernel / ops': c.flops === undefined ? '—' : `${(c.flops / s / 1e6).toFixed(1)} / ${(c.flops / o / 1e6).toFixed(1)}`,
    'max |difference|': Number.isNaN(diff) ? '—' : diff.toExponential(1),
  })
  process.stderr.write(`${c.kernel}, ${c.shape}: ${s.toFixed(3)} vs ${o.toFixed(3)} ms\n`)
}

// Relaxed vs plain: the same inputs in one memory, each build's call timed in turn.
const relaxedResults = []
if (hasRelaxedSimd() && only !== 'pool') {
  const memory = new WebAssembly.Memory({ initial: 256 })
  const builds = { relaxed: simdKernelsOn(memory, 'relaxed'), plain: simdKernelsOn(memory, 'plain') }
  const f32 = new Float32Array(memory.buffer)
  for (const [shape, blocks, tq, len, d] of [
    ['GPT-2 @ 64: 12 heads × 64 positions × 64', 12, 1, 64, 64],
    ['GPT-2 @ 512: 12 heads × 512 positions × 64', 12, 1, 512, 64],
    ['GPT-2 prefill chunk: 12 heads × 64 causal queries over 512 positions × 64', 12, 64, 512, 64],
    ['Mini-GPT: 700 rows × 4 heads × 10 positions × 16', 2800, 1, 10, 16],
  ]) {
    let at = 0
    const put = (n) => {
      f32.set(normal(key(seed++), n), at)
      const offset = at * 4
      at += n + 4
      return offset
    }
    const [q, k, v, scratch] = [blocks * tq * d, blocks * len * d, blocks * len * d, 4 * (len + 4)].map(put)
    const outs = { relaxed: put(blocks * tq * d), plain: put(blocks * tq * d) }
    const call = (b) => builds[b].attend(q, k, v, len, len, tq, tq > 1 ? 1 : 0, blocks, d, 1 / Math.sqrt(d), scratch, outs[b])
    const time = (b) => {
      const t0 = performance.now()
      for (let i = 0; i < 10; i++) call(b)
      return (performance.now() - t0) / 10
    }
    call('relaxed')
    call('plain')
    let diff = 0
    for (let i = 0; i < blocks * tq * d; i++) diff = Math.max(diff, Math.abs(f32[outs.relaxed / 4 + i] - f32[outs.plain / 4 + i]))
    const ms = { relaxed: [], plain: [] }
    for (let r = 0; r < reps; r++) {
      ms.relaxed.push(time('relaxed'))
      ms.plain.push(time('plain'))
    }
    const [rm, pm] = [median(ms.relaxed), median(ms.plain)]
    relaxedResults.push({
      shape,
      'relaxed SIMD (ms)': rm.toFixed(4),
      'plain SIMD (ms)': pm.toFixed(4),
      'speed-up': `${(pm / rm).toFixed(2)}×`,
      'max |difference|': diff.toExponential(1),
    })
    process.stderr.write(`attention relaxed vs plain, ${shape}: ${rm.toFixed(4)} vs ${pm.toFixed(4)} ms\n`)
  }
}

// The kernel pool on tiny jobs: pool.run against one thread's call of the same product.
const poolResults = []
const poolThreads = kernelThreads()
if (only === 'pool' && poolThreads < 2) process.stderr.write('bench/kernels --only pool: one thread here, no pool to time\n')
if (only === 'pool' && poolThreads >= 2) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256, shared: true })
  const module = new WebAssembly.Module(withSharedMemoryImport(Uint8Array.from(atob(QUANT_WASM_BASE64), (c) => c.charCodeAt(0))))
  const quant = new WebAssembly.Instance(module, { env: { memory } }).exports
  const pool = createKernelPool(memory, [module], poolThreads)
  await pool.started
  const qmm = pool.lookup(0, 'qmm_i8')
  const bytes = new Uint8Array(memory.buffer)
  let at = 1024
  const put = (data) => {
    const start = at
    bytes.set(data, start)
    at = start + Math.ceil(data.length / 64) * 64 + 64
    return start
  }
  for (const [outs, cols] of [
    [128, 768],
    [768, 768],
  ]) {
    // one activation row, quantized as quant-matmul.ts does; the weights int8 per row
    const h = quantizeRows('int8', Float32Array.from(normal(key(seed++), outs * cols, 0.05)), outs, cols)
    const stride = int8Stride(cols)
    const x = put(new Uint8Array(Float32Array.from(normal(key(seed++), cols)).buffer))
    const [w, ws, bias, y, xq, xs] = [
      h.bytes,
      new Uint8Array(h.scales.buffer),
      new Uint8Array(4 * outs),
      new Uint8Array(4 * outs),
      new Uint8Array(2 * stride),
      new Uint8Array(4),
    ].map(put)
    quant.quantize_rows(x, 1, cols, stride, xq, xs)
    const args = [xq, xs, 1, stride, w, ws, outs, bias, y]
    const grain = Math.max(1, Math.ceil(32768 / cols)) // quant-matmul.ts's grain for one row
    const batch = 20 // jobs a sample
    const time = (f) => {
      const t0 = performance.now()
      for (let i = 0; i < batch; i++) f()
      return ((performance.now() - t0) * 1000) / batch
    }
    const split = () => pool.run(qmm, args, outs, grain)
    const whole = () => quant.qmm_i8(...args, 0, outs)
    for (let i = 0; i < 200; i++) {
      split()
      whole()
    }
    const ms = { split: [], whole: [] }
    for (let r = 0; r < Math.max(reps, 200); r++) {
      ms.split.push(time(split))
      ms.whole.push(time(whole))
    }
    const [sp, wh] = [median(ms.split), median(ms.whole)]
    poolResults.push({
      job: `int8 product, 1 row × ${outs}×${cols}`,
      chunks: poolSlots(outs, grain, poolThreads),
      [`pool of ${poolThreads} (µs/job)`]: sp.toFixed(2),
      'one thread (µs/job)': wh.toFixed(2),
      'speed-up': `${(wh / sp).toFixed(2)}×`,
    })
    process.stderr.write(`pool, int8 1×${outs}×${cols}: ${sp.toFixed(2)} vs ${wh.toFixed(2)} µs\n`)
  }
  pool.close()
}

if (process.argv.includes('--json')) console.log(JSON.stringify({ machine: machine(), reps, results, relaxed: relaxedResults, pool: poolResults }))
else {
  if (results.length > 0) {
    console.log(`\n## SIMD kernels vs tfjs-wasm ops (${machine()}; median of ${reps} calls each, interleaved)\n`)
    console.log(table(results))
  }
  if (poolResults.length > 0) {
    console.log(`\n## The kernel pool on tiny jobs (${machine()}; median of samples of 20 jobs, alternated)\n`)
    console.log(table(poolResults))
  }
  if (relaxedResults.length > 0) {
    console.log(`\n## The attention kernel, relaxed SIMD vs plain SIMD (median of ${reps} × 10 calls each, interleaved)\n`)
    console.log(table(relaxedResults))
  } else if (only !== 'pool') console.log('\n(no relaxed SIMD in this runtime: the relaxed vs plain comparison needs Node 22+ or --experimental-wasm-relaxed-simd)')
}
