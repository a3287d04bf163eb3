// The README's example: compose a model from layers, run it, take a gradient, update with AdamW.
//   npm run build && node examples/00-compose.mjs
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, split, sequential, linear, gelu, dropout, training, EVAL, valueAndGrad, optim, tree } from 'minigpt-fp'

await initBackend('wasm')
const mlp = sequential(linear(16, 64), gelu(), dropout(0.1), linear(64, 4))
const [kInit, kDrop] = split(key(0))
const params = mlp.init(kInit) // readonly [{weight, bias}, {}, {}, {weight, bias}]
const x = tf.randomNormal([8, 16], 0, 1, 'float32', 1)
const y = mlp.apply(params, x, EVAL) // [8, 4]: pure, same inputs → same output

const loss = (p) => tf.mean(tf.square(mlp.apply(p, x, training(kDrop))))
const opt = optim.adamw({ lr: 1e-3 })
const { value, grads } = valueAndGrad(loss)(params) // grads has the shape of params
const [updates] = opt.update(grads, opt.init(params), params)
const next = optim.applyUpdates(params, updates) // new parameters; nothing was mutated

console.log('output shape', y.shape)
console.log('loss', value.dataSync()[0].toFixed(4))
console.log('parameters', tree.count(next), [...tree.flatten(next).keys()])
