// train.wat's whole-sequence attention (the `attention` entry point behind MinigptAttention) of two
// or more builds side by side in one process: each build's module instantiated over one shared
// memory, called on the same q, k, v (and causal mask, P, dropout mask) in turn, one thread, so
// that every build sees the same machine; the median and least time a call, each as a ratio to
// the first build's, and the largest difference of their outputs. For an A/B of a kernel change:
// build the other commit in a folder of its own (`git archive <commit> | tar -x -C /tmp/base`,
// node_modules linked, `npm run build`), then
//
//   npm run build && node bench/attention-ab.mjs /tmp/base/dist dist [--shape 64,26,4,16] [--probs] [--drop] [--nomask] [--reps 300]
//
// --shape is batch, T, heads, head size (Mini-GPT's eval pass by default; GPT-2 fine-tuning is
// 8,32,12,64); --probs keeps P, --drop applies a dropout mask, --nomask drops the causal mask;
// --backward times `attention_backward` instead (on the first build's forward pass, P kept).
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { argv, opt, median } from './util.mjs'

const valued = new Set(['--shape', '--reps'])
const dists = argv.filter((a, i) => !a.startsWith('--') && !valued.has(argv[i - 1]))
if (dists.length === 0) throw new Error('bench/attention-ab: name one or more dist folders')
const [B, T, H, D] = opt('shape', '64,26,4,16').split(',').map(Number)
const [backward, drop, nomask] = ['backward', 'drop', 'nomask'].map((f) => argv.includes(`--${f}`))
const probs = backward || argv.includes('--probs')
const reps = Number(opt('reps', '300'))

const memory = new WebAssembly.Memory({ initial: 2048 })
const builds = []
for (const dist of dists) {
  const { TRAIN_WASM_BASE64 } = await import(pathToFileURL(resolve(dist, 'backend/simd/train-wasm.js')).href)
  const { instance } = await WebAssembly.instantiate(Buffer.from(TRAIN_WASM_BASE64, 'base64'), { env: { memory } })
  builds.push({ dist, attention: instance.exports.attention, attentionBackward: instance.exports.attention_backward })
}

// the tensors, 64-byte aligned in the shared memory (the first 1 KB left alone)
const E = H * D
const n = B * T * E
let top = 1024
const alloc = (floats) => {
  const at = top
  top = (top + floats * 4 + 127) & ~63
  if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536))
  return at
}
const [q, k, v] = [0, 1, 2].map(() => alloc(n))
const mask = alloc(T * T)
const dropMask = alloc(B * H * T * T)
const p = alloc(B * H * T * T)
// room for either pass of any build: dS and P ⊙ drop [T, T + 3] each, four rows' interleaved vectors
const scratch = alloc(2 * T * (T + 3) + 4 * (T + 4))
const outs = builds.map(() => alloc(n))
const dout = alloc(n)
const grads = builds.map(() => [0, 1, 2].map(() => alloc(n)))
const f32 = new Float32Array(memory.buffer)
let s = 1
const rand = () => {
  s = (s * 1103515245 + 12345) % 2 ** 31
  return s / 2 ** 30 - 1
}
for (const x of [q, k, v, dout]) for (let i = 0; i < n; i++) f32[x / 4 + i] = rand()
for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) f32[mask / 4 + i * T + j] = j > i ? -Infinity : 0
for (let i = 0; i < B * H * T * T; i++) f32[dropMask / 4 + i] = rand() < -0.8 ? 0 : 1 / 0.9

const forward = (b, out) => b.attention(q, k, v, B, T, H, D, 1 / Math.sqrt(D), nomask ? 0 : mask, drop ? dropMask : 0, probs ? p : 0, scratch, out)
const call = backward
  ? (b, i) => b.attentionBackward(dout, q, k, v, outs[0], p, drop ? dropMask : 0, B, T, H, D, 1 / Math.sqrt(D), scratch, ...grads[i])
  : (b, i) => forward(b, outs[i])
if (backward) forward(builds[0], outs[0])
const times = builds.map(() => [])
for (let r = 0; r < reps; r++)
  builds.forEach((b, i) => {
    const t0 = performance.now()
    call(b, i)
    times[i].push(performance.now() - t0)
  })
// what each build wrote: the output, or the three gradients
const results = backward ? grads : outs.map((o) => [o])
let diff = 0
for (const r of results.slice(1))
  r.forEach((x, g) => {
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(f32[x / 4 + i] - f32[results[0][g] / 4 + i]))
  })
const least = (a) => Math.min(...a)
console.log(
  `${backward ? 'attention_backward' : 'attention'} [${B}, ${T}, ${H}·${D}]${nomask ? '' : ', causal mask'}${probs ? ', P kept' : ''}${drop ? ', dropout mask' : ''}; ${reps} calls each, one thread`,
)
for (const [i, b] of builds.entries())
  console.log(
    `  ${b.dist}: median ${median(times[i]).toFixed(3)} ms (${(median(times[i]) / median(times[0])).toFixed(2)}×), least ${least(times[i]).toFixed(3)} ms (${(least(times[i]) / least(times[0])).toFixed(2)}×)`,
  )
console.log(`  largest |difference| of the ${backward ? 'gradients' : 'outputs'} from the first build's: ${diff.toExponential(2)}`)
