import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { leaves } from '../../src/core/tree.js'
import { clipByGlobalNorm, globalNorm } from '../../src/optim/index.js'
import { tidy } from './helpers.js'

beforeAll(async () => {
  await initBackend('cpu')
})

/** A random tree: a record of 1–4 leaves, vectors or 2-row matrices, float32 values in [-50, 50]. */
const leafValues = fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 2, maxLength: 12 })
const treeValues = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), leafValues, { minKeys: 1, maxKeys: 4 })

const build = (values: Record<string, number[]>): Record<string, tf.Tensor> =>
  Object.fromEntries(Object.entries(values).map(([k, xs]) => [k, xs.length % 2 === 0 ? tf.tensor2d(xs, [2, xs.length / 2]) : tf.tensor1d(xs)]))

/** The global norm in float64 from the float32 values actually stored. */
const jsNorm = (tree: unknown): number => Math.sqrt(leaves(tree).reduce((s, t) => s + Array.from(t.dataSync()).reduce((a, x) => a + x * x, 0), 0))

describe('clipByGlobalNorm', () => {
  test.prop([treeValues, fc.double({ min: 1e-3, max: 100, noNaN: true })])('after clipping the global norm is at most maxNorm, and the direction is kept', (values, maxNorm) => {
    const grads = build(values)
    const clip = clipByGlobalNorm(maxNorm)
    const [out] = clip.update(grads, clip.init(grads))
    const before = jsNorm(grads)
    const after = jsNorm(out)
    expect(after).toBeLessThanOrEqual(maxNorm * (1 + 1e-6))
    // Every leaf is scaled by the same factor min(1, maxNorm / (norm + 1e-6)).
    const factor = Math.min(1, maxNorm / (before + 1e-6))
    for (const k of Object.keys(grads)) {
      const g = Array.from(grads[k].dataSync())
      const o = Array.from(out[k].dataSync())
      g.forEach((x, i) => expect(Math.abs(o[i] - x * factor)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x))))
    }
    tf.dispose([...Object.values(grads), ...Object.values(out)])
  })

  test.prop([treeValues, fc.double({ min: 1.001, max: 10, noNaN: true })])('leaves updates unchanged (bit for bit) when their norm is already below maxNorm', (values, ratio) => {
    const grads = build(values)
    const maxNorm = jsNorm(grads) * ratio + 1e-3
    const clip = clipByGlobalNorm(maxNorm)
    const [out] = clip.update(grads, clip.init(grads))
    for (const k of Object.keys(grads)) expect(Array.from(out[k].dataSync())).toEqual(Array.from(grads[k].dataSync()))
    tf.dispose([...Object.values(grads), ...Object.values(out)])
  })

  it('uses PyTorch clip_grad_norm_ rule: factor = maxNorm / (norm + 1e-6)', () => {
    // norm of {a: [3, 4]} is 5; maxNorm 1 gives factor 1 / (5 + 1e-6)
    const grads = { a: tf.tensor1d([3, 4]) }
    const clip = clipByGlobalNorm(1)
    const [out] = clip.update(grads, clip.init(grads))
    const f = 1 / (5 + 1e-6)
    const o = Array.from(out.a.dataSync())
    expect(o[0]).toBeCloseTo(3 * f, 7)
    expect(o[1]).toBeCloseTo(4 * f, 7)
    tf.dispose([grads.a, out.a])
  })

  it('globalNorm is the norm of all leaves together, and 0 for an empty tree', () => {
    const [n, z] = tidy(() => {
      const t = { a: tf.tensor1d([3]), b: [tf.tensor2d([[4]]), tf.tensor1d([12])] }
      return [globalNorm(t).dataSync()[0], globalNorm({}).dataSync()[0]]
    })
    expect(n).toBeCloseTo(13, 6)
    expect(z).toBe(0)
  })
})
