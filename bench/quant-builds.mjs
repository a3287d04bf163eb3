// The quantized matrix-vector products (quant.wat's `qmm_q4` and `qmm_i8`, one activation row) of
// two builds side by side: this checkout's dist and another build's (--base), both modules on one
// memory, on this thread, alternating, on GPT-2 124M's five matrix shapes with the same weights
// and activations. For judging a change to quant.wat; not part of `npm run bench` (it needs the
// other build).
//
//   git worktree add /tmp/base <rev> && (cd /tmp/base && ln -s "$PWD/node_modules" . && npm run build)
//   npm run build && node bench/quant-builds.mjs --base /tmp/base/dist [--rounds 25]
//
// Each call quantizes the activations first, as the tfjs kernel does (and, for q4 in a build that
// has it, spreads them to 16 bits with `spread_blocks`); "same" says whether the two builds'
// outputs are equal bit for bit.
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { opt, median, table } from './util.mjs'

const base = opt('base', undefined)
if (base === undefined) throw new Error('--base DIR: the dist folder of the build to compare against')
const rounds = Number(opt('rounds', '25'))
const quantOf = async (dist) => (await import(pathToFileURL(resolve(dist, 'backend/simd/quant-wasm.js')).href)).QUANT_WASM_BASE64
const sources = { base: await quantOf(base), this: await quantOf(new URL('../dist', import.meta.url).pathname) }

const SHAPES = [
  [768, 2304],
  [768, 768],
  [768, 3072],
  [3072, 768],
  [768, 50257],
]
const most = Math.max(...SHAPES.map(([k, n]) => k * n))
const memory = new WebAssembly.Memory({ initial: Math.ceil((3 * most + (8 << 20)) / 65536) })
const build = (b64) => new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')), { env: { memory } }).exports
const builds = { base: build(sources.base), this: build(sources.this) }
const bytes = new Uint8Array(memory.buffer)

const rows = []
for (const [k, n] of SHAPES) {
  let top = 1024
  const alloc = (size) => {
    const at = top
    top += Math.ceil(size / 64) * 64
    return at
  }
  const groups = k / 32
  const x = alloc(4 * k)
  new Float32Array(memory.buffer, x, k).forEach((_, i, a) => (a[i] = Math.sin(i * 1.3)))
  const scales = alloc(4 * n * groups)
  new Float32Array(memory.buffer, scales, n * groups).forEach((_, i, a) => (a[i] = 0.01 + (i % 7) * 0.001))
  const w = alloc(n * k)
  for (let i = 0; i < n * k; i++) bytes[w + i] = ((i * 2654435761) >>> 13) & 255
  const [xq, xs, xc, xw, xd] = [alloc(2 * k), alloc(4 * groups), alloc(4 * groups), alloc(2 * k), alloc(4 * groups)]
  const y = { base: alloc(4 * n), this: alloc(4 * n) }
  const calls = (b) => {
    const e = builds[b]
    return {
      q4: () => {
        e.quantize_blocks(x, 1, k, groups, xq, xs, xc)
        if (e.spread_blocks === undefined) e.qmm_q4(xq, xs, xc, 1, groups, w, scales, n, 0, y[b], 0, n)
        else if (e.spread_blocks.length === 3) {
          // (a build before spread_blocks gave xd)
          e.spread_blocks(xq, groups, xw)
          e.qmm_q4(xw, xs, xc, 1, groups, w, scales, n, 0, y[b], 0, n)
        } else {
          e.spread_blocks(xq, xc, groups, xw, xd)
          e.qmm_q4(xw, xs, xd, 1, groups, w, scales, n, 0, y[b], 0, n)
        }
      },
      int8: () => {
        e.quantize_rows(x, 1, k, k, xq, xs)
        e.qmm_i8(xq, xs, 1, k, w, scales, n, 0, y[b], 0, n)
      },
    }
  }
  const run = { base: calls('base'), this: calls('this') }
  const reps = Math.max(3, Math.round(1e8 / (k * n)))
  for (const format of ['q4', 'int8']) {
    run.base[format]()
    run.this[format]()
    const same = Buffer.compare(Buffer.from(memory.buffer, y.base, 4 * n), Buffer.from(memory.buffer, y.this, 4 * n)) === 0
    const ms = { base: [], this: [] }
    for (let r = 0; r < rounds; r++) {
      for (const b of ['base', 'this']) {
        const t = performance.now()
        for (let i = 0; i < reps; i++) run[b][format]()
        ms[b].push((performance.now() - t) / reps)
      }
    }
    const [mb, mt] = [median(ms.base), median(ms.this)]
    rows.push({ matrix: `${k}→${n}`, format, 'base ms': mb.toFixed(4), 'this ms': mt.toFixed(4), 'speed-up': `${(mb / mt).toFixed(2)}×`, same: String(same) })
  }
}
console.log(`\n## Quantized matrix-vector products, two builds (one row, one thread; medians of ${rounds} alternated rounds)\n\n${table(rows)}\n`)
