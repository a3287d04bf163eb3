/**
 * globalNorm over many leaves: the sum of the leaves' squares is added in groups (tfjs-webgpu's
 * AddN takes at most 7 inputs on common devices); every leaf counts once, for any number of leaves.
 */
import { fc, test } from '@fast-check/vitest'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, expect } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { globalNorm } from '../../src/optim/index.js'

beforeAll(async () => {
  await initBackend('cpu')
})

test.prop([fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 60 })], { numRuns: 40 })(
  'is √(Σ x²) over every element of every leaf',
  async (leaves) => {
    const tree = Object.fromEntries(leaves.map((xs, i) => [`w${i}`, tf.tensor1d(xs)]))
    const n = globalNorm(tree)
    const want = Math.sqrt(leaves.flat().reduce((s, x) => s + x * x, 0))
    expect(Math.abs((await n.data())[0] - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, want))
    tf.dispose([n, ...Object.values(tree)])
  },
)
