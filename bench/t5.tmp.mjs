import * as tf from '@tensorflow/tfjs-core'
import { initBackend, wasmThreadCount } from '../dist/index.js'
import { wasmMatmulGflops } from './util.mjs'
await initBackend('wasm', { threads: Number(process.argv[2]) })
const r = await wasmMatmulGflops(tf, [[64, 768, 3072], [512, 768, 3072], [256, 768, 3072], [1664, 64, 256], [1664, 64, 64], [1, 768, 50257]])
console.log(wasmThreadCount(), r.map((x) => `${x.shape.join('x')}: ${x.gflop_s.toFixed(1)}`).join(', '))
process.exit(0)
