// The sharded-checkpoint reader's memory (src/io/hf-shards.ts: "at most one shard's bytes held
// at a time"), measured: a GPT-2 checkpoint in a preset's shapes (gpt2-medium by default, 1.4 GB
// of float32) with random weights is written at bench time as a Hugging Face sharded folder
// (model.safetensors.index.json + model-0000K-of-0000N.safetensors, tensors packed in the state
// dict's order into shards of at most --shard-mb, as save_pretrained(max_shard_size=…) does), for
// each shard size asked, and as one model.safetensors for comparison; then each folder is loaded
// by `loadGpt2Folder` in a fresh Node process (float32, and int8 quantized while loading) and the
// process's peak RSS is set against the largest shard, the total, and the wasm heap the weights
// end up in.
//
//   npm run build && node bench/shards.mjs                                # gpt2-medium, shards ≤ 128 and ≤ 512 MB
//   node bench/shards.mjs --config gpt2 --shard-mb 64,256 --formats f32   # smaller and quicker
//   node bench/shards.mjs --shard-mb 512 --write-only DIR                  # only write one folder (kept)
//
// "beyond the heap" = peak RSS − the wasm heap at the end − the process's RSS just before loading
// (its wasm heap then is small): the host memory the load needed on top of where the weights
// live (the shard's bytes, and for int8 the float copy of the tensor being quantized). The folders are written under the system's
// temporary directory and removed at the end.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { initBackend, gpt2, io, quant } from '../dist/index.js'
import { argv, opt, machine, table } from './util.mjs'

const configName = opt('config', 'gpt2-medium')
const config = gpt2.GPT2_PRESETS[configName]
if (config === undefined) throw new Error(`--config must be one of ${Object.keys(gpt2.GPT2_PRESETS).join(', ')}`)
const shardMbs = opt('shard-mb', '128,512').split(',').map(Number)
const formats = opt('formats', 'f32,int8').split(',')
const MB = 2 ** 20
const rssMb = () => process.resourceUsage().maxRSS / 1024

/** GPT-2's tensors in Hugging Face's names and layout (Conv1D weights [in, out]), in the state dict's order. */
const hfTensors = (c) => {
  const e = c.n_embd
  const inner = c.n_inner ?? 4 * e
  const out = [
    ['wte.weight', [c.vocab_size, e]],
    ['wpe.weight', [c.n_positions, e]],
  ]
  for (let l = 0; l < c.n_layer; l++) {
    const p = `h.${l}.`
    out.push(
      [`${p}ln_1.weight`, [e]],
      [`${p}ln_1.bias`, [e]],
      [`${p}attn.c_attn.weight`, [e, 3 * e]],
      [`${p}attn.c_attn.bias`, [3 * e]],
      [`${p}attn.c_proj.weight`, [e, e]],
      [`${p}attn.c_proj.bias`, [e]],
      [`${p}ln_2.weight`, [e]],
      [`${p}ln_2.bias`, [e]],
      [`${p}mlp.c_fc.weight`, [e, inner]],
      [`${p}mlp.c_fc.bias`, [inner]],
      [`${p}mlp.c_proj.weight`, [inner, e]],
      [`${p}mlp.c_proj.bias`, [e]],
    )
  }
  out.push(['ln_f.weight', [e]], ['ln_f.bias', [e]])
  return out
}

/** Uniform values in ±0.04 from a xorshift generator (cheap: a 1.4 GB checkpoint is written several times). */
const randomValues = (n, seed) => {
  const out = new Float32Array(n)
  let s = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.08
  }
  return out
}

/** Writes a safetensors file tensor by tensor (header, then each tensor's bytes): only one tensor in memory. */
const writeSafetensors = (path, tensors) => {
  let offset = 0
  const header = {}
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1)
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] }
    offset += bytes
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const fd = openSync(path, 'w')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeSync(fd, len)
  writeSync(fd, Buffer.from(json))
  for (const [name, shape] of tensors) {
    const v = randomValues(
      shape.reduce((a, b) => a * b, 1),
      name.length * 7919 + shape[0],
    )
    writeSync(fd, new Uint8Array(v.buffer))
  }
  closeSync(fd)
  return 8 + json.length + offset
}

/** A Hugging Face folder for the config: one model.safetensors (shardMb 0) or shards of at most shardMb. */
const writeFolder = (dir, shardMb) => {
  writeFileSync(join(dir, 'config.json'), io.hfConfigJson(config))
  const tensors = hfTensors(config)
  if (shardMb === 0) return { files: [writeSafetensors(join(dir, 'model.safetensors'), tensors)] }
  const shards = []
  let current = []
  let size = 0
  for (const t of tensors) {
    const bytes = 4 * t[1].reduce((a, b) => a * b, 1)
    if (current.length > 0 && size + bytes > shardMb * MB) {
      shards.push(current)
      current = []
      size = 0
    }
    current.push(t)
    size += bytes
  }
  shards.push(current)
  const n = shards.length
  const name = (k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`
  const weightMap = {}
  const files = shards.map((s, k) => {
    for (const [t] of s) weightMap[t] = name(k)
    return writeSafetensors(join(dir, name(k)), s)
  })
  const total = tensors.reduce((a, [, shape]) => a + 4 * shape.reduce((x, y) => x * y, 1), 0)
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2))
  return { files }
}

/** --child DIR FORMAT: loads the folder, prints peak RSS before and after and the wasm heap. */
const child = async (dir, format) => {
  await initBackend('wasm')
  // what a process holds before it reads any weights: the backend started, a kernel run once
  tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync())
  const before = process.memoryUsage().rss / MB
  const t0 = performance.now()
  const r = await io.loadGpt2Folder(dir, format === 'f32' ? {} : { weights: format })()
  if (E.isLeft(r)) throw new Error(r.left.message)
  const seconds = (performance.now() - t0) / 1000
  const peak = rssMb()
  const heap = tf.backend().wasm.HEAPU8.buffer.byteLength / MB
  quant.disposeQuantTree(r.right.params)
  process.stdout.write(JSON.stringify({ before, peak, heap, seconds }))
}

if (argv.includes('--child')) {
  const i = argv.indexOf('--child')
  await child(argv[i + 1], argv[i + 2])
} else if (opt('write-only', undefined) !== undefined) {
  // --write-only DIR: the folder for the first --shard-mb (0: one file), kept, for loading by hand
  const dir = opt('write-only', '')
  execFileSync('mkdir', ['-p', dir])
  const { files } = writeFolder(dir, shardMbs[0])
  console.error(`${dir}: ${files.length} file(s), ${(files.reduce((a, b) => a + b, 0) / MB).toFixed(0)} MB`)
} else {
  const root = mkdtempSync(join(os.tmpdir(), 'minigpt-shards-'))
  const rows = []
  try {
    for (const shardMb of [0, ...shardMbs]) {
      const dir = join(root, shardMb === 0 ? 'single' : `shards-${shardMb}`)
      rmSync(dir, { recursive: true, force: true })
      execFileSync('mkdir', ['-p', dir])
      const t0 = performance.now()
      const { files } = writeFolder(dir, shardMb)
      console.error(`${dir}: ${files.length} file(s), ${(files.reduce((a, b) => a + b, 0) / MB).toFixed(0)} MB written in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      for (const format of formats) {
        const out = JSON.parse(
          execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, format], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 }),
        )
        const largest = Math.max(...files) / MB
        const beyond = out.peak - out.heap - out.before
        rows.push({
          checkpoint: shardMb === 0 ? 'one model.safetensors' : `${files.length} shards of ≤ ${shardMb} MB`,
          weights: format,
          'total MB': (files.reduce((a, b) => a + b, 0) / MB).toFixed(0),
          'largest file MB': largest.toFixed(0),
          'RSS before MB': out.before.toFixed(0),
          'peak RSS MB': out.peak.toFixed(0),
          'wasm heap MB': out.heap.toFixed(0),
          'beyond the heap MB': beyond.toFixed(0),
          'beyond ÷ largest file': `${(beyond / largest).toFixed(2)}×`,
          'load s': out.seconds.toFixed(1),
        })
        console.error(JSON.stringify(rows.at(-1)))
      }
      rmSync(dir, { recursive: true, force: true })
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  console.log(`\n## Loading a sharded checkpoint (${configName} shapes, random float32 weights; one process per row)\n\n${machine()}\n\n${table(rows)}\n`)
}
