/**
 * tfjs-wasm's threaded build (src/backend/wasm-threads-node.ts, the `threads` option) and the
 * SIMD kernels on its shared memory (src/backend/simd/shared-memory.ts).
 *
 * The first start of wasm fixes a process's thread count, so the comparison across thread
 * counts runs the built package (dist/) in child processes: the same training run (forward,
 * backward, clipping, AdamW; XNNPACK's matmuls on the pool) and a large matmul with its
 * gradients must agree across 1, 2 and 3 threads to float32 rounding, and each process must
 * exit by itself (the pool's worker threads do not hold it).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { KERNELS_WASM_BASE64 } from '../../src/backend/simd/kernels-wasm.js'
import { withSharedMemoryImport } from '../../src/backend/simd/shared-memory.js'
import type { SimdKernels, TrainKernels } from '../../src/backend/simd/module.js'
import { TRAIN_WASM_BASE64 } from '../../src/backend/simd/train-wasm.js'
import { key, normal } from '../../src/core/key.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const plain = Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0))
const plainTrain = Uint8Array.from(atob(TRAIN_WASM_BASE64), (c) => c.charCodeAt(0))

/** GELU (train.wat's) and LayerNorm (kernels.wat's) by the kernels on `memory`, over the same inputs. */
const runKernels = (bytes: Uint8Array<ArrayBuffer>, trainBytes: Uint8Array<ArrayBuffer>, memory: WebAssembly.Memory): Float32Array => {
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as SimdKernels
  const t = new WebAssembly.Instance(new WebAssembly.Module(trainBytes), { env: { memory } }).exports as unknown as TrainKernels
  const n = 4 * 96
  const f = new Float32Array(memory.buffer)
  f.set(normal(key(3), n, 2), 0)
  f.set(normal(key(4), 96, 1), n)
  f.set(normal(key(5), 96, 1), n + 96)
  t.gelu_erf(0, n, 4 * (n + 192), 0, 4 * (3 * n + 192))
  k.layer_norm(0, 4, 96, 4 * n, 4 * (n + 96), 1e-5, 4 * (2 * n + 192))
  return new Float32Array(memory.buffer).slice(n + 192, 3 * n + 192)
}

describe('the kernels module on a shared memory', () => {
  it('imports a shared memory once its import is declared shared, and computes what it computes on a plain one', () => {
    const shared = withSharedMemoryImport(plain)
    const sharedTrain = withSharedMemoryImport(plainTrain)
    expect(shared).not.toBeNull()
    expect(sharedTrain).not.toBeNull()
    const sharedMemory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true })
    expect(() => new WebAssembly.Module(plain) && new WebAssembly.Instance(new WebAssembly.Module(plain), { env: { memory: sharedMemory } })).toThrow()
    const a = runKernels(shared as Uint8Array<ArrayBuffer>, sharedTrain as Uint8Array<ArrayBuffer>, sharedMemory)
    const b = runKernels(plain, plainTrain, new WebAssembly.Memory({ initial: 2 }))
    expect(a.some((x) => x !== 0)).toBe(true)
    expect(Array.from(a)).toEqual(Array.from(b))
  })

  it('leaves a module that already imports a shared memory alone', () => {
    const shared = withSharedMemoryImport(plain) as Uint8Array
    expect(withSharedMemoryImport(shared)).toBeNull()
  })
})

const script = (threads: number) => `
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, useBackend, wasmThreadCount, simdKernelsActive, key, data, minigpt, train, tree } from 'minigpt-fp'
await initBackend('wasm', { threads: ${threads} })
const names = ['Aria', 'Bren', 'Cael', 'Dorn', 'Elwyn', 'Faye', 'Gorim', 'Hale', 'Isolde', 'Jory', 'Kest', 'Lira', 'Morn', 'Nyx', 'Orin', 'Pell']
const vocab = data.buildVocab(names)
const config = { ...minigpt.SEED_CONFIG(vocab.tokens.length, vocab.pad), max_len: 8, num_layers: 2 }
const params = minigpt.miniGpt(config).init(key(1))
const optimizer = train.seedOptimizer()
const run = { config, epochs: 2, batchSize: 8, key: key(2), optimizer, train: minigpt.namesExamples(vocab, names, config) }
const events = train.trainNames(run, { params, opt: optimizer.init(params) })
const losses = []
let final
for (;;) { const n = await events.next(); if (n.done) { final = n.value; break } if (n.value.type === 'epoch') losses.push(n.value.trainLoss) }
const leaves = []
for (const t of tree.leaves(final.params)) leaves.push(...(await t.data()))
const a = tf.randomNormal([300, 200], 0, 1, 'float32', 7), b = tf.randomNormal([200, 500], 0, 1, 'float32', 8)
const [ga, gb] = tf.grads((x, y) => tf.sum(tf.square(tf.matMul(x, y))))([a, b])
const again = await useBackend('wasm', { threads: ${threads === 1 ? 2 : 1} })()
const bad = await useBackend('wasm', { threads: 0 })()
process.stdout.write(JSON.stringify({ threads: wasmThreadCount(), kernels: simdKernelsActive(), losses, leaves, ga: Array.from(await ga.data()), gb: Array.from(await gb.data()), again: again._tag === 'Left' ? again.left.message : 'restarted', bad: bad._tag === 'Left' ? bad.left.message : 'accepted' }))
// no process.exit: the pool's threads must not keep the process alive
`

interface Run {
  threads: number
  kernels: boolean
  losses: number[]
  leaves: number[]
  ga: number[]
  gb: number[]
  again: string
  bad: string
}

const maxRelative = (a: readonly number[], b: readonly number[]): number => {
  expect(a.length).toBe(b.length)
  const scale = Math.max(...b.map(Math.abs))
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number)) / scale), 0)
}

describe('wasm with threads (the built package, one process per thread count)', () => {
  it.skipIf(!existsSync(`${root}/dist/index.js`))('trains and differentiates alike on 1, 2 and 3 threads', () => {
    const runs = [1, 2, 3].map(
      (n) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script(n)], { cwd: root, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 })) as Run,
    )
    const [one, ...more] = runs as [Run, ...Run[]]
    expect(runs.map((r) => r.threads)).toEqual([1, 2, 3])
    expect(runs.every((r) => r.kernels)).toBe(true)
    expect(one.again).toBe('wasm was started with 1 thread(s) in this process; it cannot restart with 2')
    expect(one.bad).toBe('threads must be an integer from 1 to 8, got 0')
    expect(one.losses).toHaveLength(2)
    for (const r of more) {
      // XNNPACK splits a matmul's output tiles among the threads; each element keeps its sums' order.
      expect(maxRelative(r.losses, one.losses)).toBeLessThanOrEqual(1e-6)
      expect(maxRelative(r.leaves, one.leaves)).toBeLessThanOrEqual(1e-5)
      expect(maxRelative(r.ga, one.ga)).toBeLessThanOrEqual(1e-6)
      expect(maxRelative(r.gb, one.gb)).toBeLessThanOrEqual(1e-6)
    }
  })
})
