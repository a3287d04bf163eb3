import * as tf from '@tensorflow/tfjs-core'
import * as wasm from '@tensorflow/tfjs-backend-wasm'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker as NodeWorker } from 'node:worker_threads'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
const require = createRequire(import.meta.url)
const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
const src = readFileSync(join(dist, 'tf-backend-wasm.node.js'), 'utf8')
const m = src.match(/var wasmWorkerContents = ("(?:[^"\\]|\\.)*");/)
const workerJs = JSON.parse(m[1]).replace(/\n/g, '\\n')
const dir = mkdtempSync(join(tmpdir(), 'tfjs-wasm-threads-'))
const workerFile = join(dir, 'worker.js')
writeFileSync(workerFile, workerJs)
const mainFile = join(dir, 'main.js')
let mainWritten = null
class PThreadWorker {
  constructor(url) {
    this.real = new NodeWorker(String(url).startsWith('blob:') ? workerFile : url)
    this.chain = Promise.resolve()
  }
  postMessage(msg, transfer) {
    if (msg && msg.cmd === 'load' && typeof msg.urlOrBlob !== 'string') {
      if (!mainWritten) { writeFileSync(mainFile, `var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os'), commonjsGlobal = globalThis;\n${msg.urlOrBlob.parts.join('')}`); mainWritten = true }
      this.real.postMessage({ ...msg, urlOrBlob: mainFile }, transfer)
    } else this.real.postMessage(msg, transfer)
  }
  on(...a) { this.real.on(...a); return this }
  once(...a) { this.real.once(...a); return this }
  off(...a) { this.real.off(...a); return this }
  terminate() { return this.real.terminate() }
  unref() { this.real.unref() }
  ref() { this.real.ref() }
}
Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PThreadWorker, set: () => {} })
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
if (process.argv[2]) wasm.setThreadsCount(Number(process.argv[2]))
import os from 'node:os'
const realCpus = os.cpus
const RealBlob = globalThis.Blob
globalThis.Blob = class extends RealBlob { constructor(parts, o) { super(parts, o); this.parts = parts } }
os.cpus = () => { const c = realCpus(); return [...c, ...c] }
await tf.setBackend('wasm'); await tf.ready()
os.cpus = realCpus
globalThis.Blob = RealBlob
console.log('threads', wasm.getThreadsCount(), Object.keys(tf.backend().wasm).filter(k=>/thread|PThread|pthread/i.test(k)), tf.backend().wasm.PThread && [tf.backend().wasm.PThread.unusedWorkers.length, tf.backend().wasm.PThread.runningWorkers.length], typeof SharedArrayBuffer, tf.backend().wasm.HEAPU8.buffer.constructor.name)
{ const w = tf.backend().wasm; w._init_with_threads_count(2); console.log('buffer', w.HEAPU8.buffer.constructor.name, await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')); console.log('again', w._get_threads_count(), w.PThread.unusedWorkers.length, w.PThread.runningWorkers.length) }
const a = tf.randomNormal([512, 768]), b = tf.randomNormal([768, 3072])
for (let i=0;i<6;i++){ const t=performance.now(); const y=tf.matMul(a,b); await y.data(); y.dispose(); console.log(((2*512*768*3072)/((performance.now()-t)/1000)/1e9).toFixed(1),'GFLOP/s') }
console.log('done')
