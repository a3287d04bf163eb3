/**
 * remat (src/core/remat.ts): the same value and gradients as the plain function, on cpu and
 * wasm, with an aux tensor and keyed dropout inside.
 */
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { valueAndGrad } from '../../src/core/grad.js'
import { key } from '../../src/core/key.js'
import { training } from '../../src/core/layer.js'
import { remat } from '../../src/core/remat.js'
import * as tree from '../../src/core/tree.js'
import { dropoutOp } from '../../src/nn/dropout.js'

interface P {
  readonly w: tf.Tensor2D
  readonly b: tf.Tensor1D
}
const block = (x: tf.Tensor, p: P, aux: { readonly mask: tf.Tensor }) =>
  tf.add(x, dropoutOp(tf.tanh(tf.add(tf.add(tf.matMul(x as tf.Tensor2D, p.w), p.b), aux.mask)), 0.3, training(key(5))))

describe.each(['cpu', 'wasm'])('remat on %s', (backend) => {
  it('gives the plain function its value and gradients exactly', async () => {
    await initBackend(backend)
    const p: P = {
      w: tf.tensor2d([
        [0.3, -0.2, 0.1],
        [0.5, 0.4, -0.6],
        [-0.1, 0.2, 0.7],
      ]),
      b: tf.tensor1d([0.1, -0.1, 0.05]),
    }
    const mask = tf.tensor2d([
      [0, 1, 0],
      [0.5, 0, -1],
    ])
    const loss = (f: typeof block) => (q: { p: P; x: tf.Tensor2D }) => {
      const h = f(f(q.x, q.p, { mask }), q.p, { mask })
      return tf.sum(tf.mul(h, h)) as tf.Scalar
    }
    const x = tf.tensor2d([
      [1, -1, 0.5],
      [0.2, 0.3, -2],
    ])
    const plain = valueAndGrad(loss(block))({ p, x })
    const before = tf.memory().numTensors
    const re = valueAndGrad(loss(remat(block) as typeof block))({ p, x })
    expect(re.value.dataSync()[0]).toBe(plain.value.dataSync()[0])
    for (const [path, g] of tree.flatten(plain.grads)) {
      expect(Array.from(tree.flatten(re.grads).get(path)!.dataSync()), path).toEqual(Array.from(g.dataSync()))
    }
    tf.dispose([re.value, ...tree.leaves(re.grads)])
    expect(tf.memory().numTensors).toBe(before)
  })
})
