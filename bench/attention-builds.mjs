// A decoding step's attention (kernels.wat's `attend`, one query row per head) in two builds of
// the kernels side by side: this checkout's dist and another build's (--base), both modules on one
// memory, on this thread, alternating; then the step's GELU (`gelu_tanh`) the same way. For
// judging a change to kernels.wat; not part of `npm run bench` (it needs the other build).
//
//   git worktree add /tmp/base <rev> && (cd /tmp/base && ln -s "$PWD/node_modules" . && npm run build)
//   npm run build && node bench/attention-builds.mjs --base /tmp/base/dist [--contexts 64,512] [--reps 30]
//   node bench/attention-builds.mjs --base dist --bf16     # this build over a bfloat16 cache vs float32
//
// --bf16: this build reads the keys and values as a bfloat16 cache (nn/kv-cache.ts's compact
// form, packed by this build's pack_bf16) where the base reads float32; the difference column is
// then bfloat16's rounding.
//
// Shapes: GPT-2 124M's step, 12 layers × 12 heads of 64 features, each layer's keys and values in
// a buffer of its own with 64 positions to spare (as nn/kv-cache.ts keeps them). "cold": after a
// 64 MB sweep, so that the caches come from memory as in a real step (between a step's layers the
// weights stream through the CPU's caches); "warm": the same call again at once.
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { flag, opt, median, table } from './util.mjs'

const base = opt('base', undefined)
if (base === undefined) throw new Error('--base DIR: the dist folder of the build to compare against')
const contexts = opt('contexts', '64,512').split(',').map(Number)
const reps = Number(opt('reps', '30'))
const kernelsOf = async (dist) => (await import(pathToFileURL(resolve(dist, 'backend/simd/kernels-wasm.js')).href)).KERNELS_WASM_BASE64
const sources = { base: await kernelsOf(base), this: await kernelsOf(new URL('../dist', import.meta.url).pathname) }

const bf16 = flag('bf16')
const [L, H, d, room] = [12, 12, 64, 64]
const rows = []
for (const len of contexts) {
  const cap = len + room
  const layerBytes = H * cap * d * 4
  const K = 1 << 20
  const V = K + L * layerBytes
  const Q = V + L * layerBytes
  const S = Q + 65536
  const O = { base: S + 65536, this: S + 2 * 65536 }
  // --bf16: the keys and values packed, half the bytes (after the float32 ones' sweep region)
  const KB = S + 3 * 65536
  const VB = KB + (L * layerBytes) / 2
  const SWEEP = bf16 ? VB + (L * layerBytes) / 2 : S + 3 * 65536
  const memory = new WebAssembly.Memory({ initial: Math.ceil((SWEEP + (64 << 20)) / 65536) })
  const build = (b64) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory } }).exports
  const builds = { base: build(sources.base), this: build(sources.this) }
  const f = new Float32Array(memory.buffer)
  for (let i = K / 4; i < Q / 4 + H * d; i++) f[i] = Math.sin(i * 0.37)
  if (bf16)
    for (const [from, to] of [
      [K, KB],
      [V, VB],
    ])
      builds.this.pack_bf16(from, 0, to, 0, (L * layerBytes) / 4, 1)
  // builds before the bfloat16 cache have no `packed` argument
  const attend = (b, k, v, out) => {
    const packed = bf16 && b === 'this'
    const args = [cap, len, 1, 1, ...(builds[b].attend.length === 13 ? [packed ? 1 : 0] : []), H, d, 1 / Math.sqrt(d), S, out]
    builds[b].attend(Q, k, v, ...args)
  }
  const step = (b) => {
    const [k, v, bytes] = bf16 && b === 'this' ? [KB, VB, layerBytes / 2] : [K, V, layerBytes]
    for (let l = 0; l < L; l++) attend(b, k + l * bytes, v + l * bytes, O[b] + l * H * d * 4)
  }
  const sweep = () => {
    let s = 0
    for (let i = SWEEP / 4; i < SWEEP / 4 + (16 << 20); i += 16) s += f[i]
    return s
  }
  step('base')
  step('this')
  let diff = 0
  for (let i = 0; i < L * H * d; i++) diff = Math.max(diff, Math.abs(f[O.base / 4 + i] - f[O.this / 4 + i]))
  const ms = { base: { cold: [], warm: [] }, this: { cold: [], warm: [] } }
  for (let r = 0; r < reps; r++) {
    for (const b of ['base', 'this']) {
      sweep()
      let t = performance.now()
      step(b)
      ms[b].cold.push(performance.now() - t)
      t = performance.now()
      step(b)
      ms[b].warm.push(performance.now() - t)
    }
  }
  const m = (b, k) => median(ms[b][k])
  rows.push({
    positions: len,
    'base cold / warm (ms)': `${m('base', 'cold').toFixed(3)} / ${m('base', 'warm').toFixed(3)}`,
    'this cold / warm (ms)': `${m('this', 'cold').toFixed(3)} / ${m('this', 'warm').toFixed(3)}`,
    'speed-up cold / warm': `${(m('base', 'cold') / m('this', 'cold')).toFixed(2)}× / ${(m('base', 'warm') / m('this', 'warm')).toFixed(2)}×`,
    'max |difference|': diff.toExponential(1),
  })
}
console.log(
  `\n## A decoding step's attention, two builds (12 layers × 12 heads of 64, one thread; medians of ${reps}${bf16 ? '; this build over a bfloat16 cache' : ''})\n\n${table(rows)}\n`,
)

// The step's other kernels.wat function with a loop of its own: gelu_new on a row of 3,072 (GPT-2's
// MLP), the two builds alternated, 200 calls a round.
{
  const memory = new WebAssembly.Memory({ initial: 4 })
  const build = (b64) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory } }).exports
  const builds = { base: build(sources.base), this: build(sources.this) }
  const n = 3072
  const [X, O] = [0, { base: 4 * n, this: 8 * n }]
  const f = new Float32Array(memory.buffer)
  for (let i = 0; i < n; i++) f[i] = 3 * Math.sin(i)
  const us = { base: [], this: [] }
  for (let r = 0; r < 2 * reps; r++) {
    for (const b of ['base', 'this']) {
      const t = performance.now()
      for (let i = 0; i < 200; i++) builds[b].gelu_tanh(X, n, O[b])
      us[b].push(((performance.now() - t) / 200) * 1000)
    }
  }
  const same = f.subarray(n, 2 * n).every((v, i) => Object.is(v, f[2 * n + i]))
  const [mb, mt] = [median(us.base), median(us.this)]
  const row = { values: n, 'base (µs)': mb.toFixed(2), 'this (µs)': mt.toFixed(2), 'speed-up': `${(mb / mt).toFixed(2)}×`, 'same bits': String(same) }
  console.log(`## gelu_new on one row, two builds (one thread; medians of ${2 * reps} rounds of 200 calls)\n\n${table([row])}\n`)
}
