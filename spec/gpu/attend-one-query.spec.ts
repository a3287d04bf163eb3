/**
 * The WGSL attention kernel (backend/webgpu/attend-one-query.ts) against the tfjs ops it replaces,
 * on webgpu, for random shapes: batch, heads, head sizes that are and are not multiples of the
 * workgroup's 64 threads, one or two cache parts, up to a few hundred positions.
 */
import { fc, test } from '@fast-check/vitest'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { attendOneQueryWebGpu, MAX_POSITIONS } from '../../src/backend/webgpu/attend-one-query.js'
import { key, normal } from '../../src/core/key.js'
import { webgpuOptionsFromEnv } from './env.js'

beforeAll(async () => {
  await initBackend('webgpu', { webgpu: webgpuOptionsFromEnv() })
})

const tensor = (seed: number, shape: number[], std = 1) =>
  tf.tensor(
    normal(
      key(seed),
      shape.reduce((a, b) => a * b, 1),
      std,
    ),
    shape,
    'float32',
  )

/** softmax(q·Kᵀ/√d)·V over the concatenated parts, in tfjs ops. */
const reference = (q: tf.Tensor, ks: tf.Tensor[], vs: tf.Tensor[]): tf.Tensor => {
  const k = ks.length === 1 ? ks[0] : tf.concat(ks, 2)
  const v = vs.length === 1 ? vs[0] : tf.concat(vs, 2)
  return tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(q.shape[3]!)), -1), v)
}

describe('the WGSL attention kernel', () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 130 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 0, max: 70 }),
      fc.integer({ min: 0, max: 1e6 }),
    ],
    { numRuns: 25 },
  )('agrees with the tfjs ops to 1e-5 relative', async (b, h, d, len1, len2, seed) => {
    const scale = 3 // sharp enough weights that a wrong maximum or sum shows
    const q = tensor(seed, [b, h, 1, d], scale)
    const ks = [tensor(seed + 1, [b, h, len1, d]), ...(len2 > 0 ? [tensor(seed + 2, [b, h, len2, d])] : [])]
    const vs = [tensor(seed + 3, [b, h, len1, d]), ...(len2 > 0 ? [tensor(seed + 4, [b, h, len2, d])] : [])]
    const got = attendOneQueryWebGpu(
      q as tf.Tensor4D,
      ks.map((k, i) => ({ k, v: vs[i] })),
    )
    expect(got).toBeDefined()
    const want = reference(q, ks, vs)
    const [x, y] = await Promise.all([got!.data(), want.data()])
    let err = 0
    let norm = 0
    for (let i = 0; i < y.length; i++) {
      err += (x[i] - y[i]) ** 2
      norm += y[i] ** 2
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-5)
    tf.dispose([q, ...ks, ...vs, got!, want])
  })

  it('declines what it does not take: more than MAX_POSITIONS positions, several queries', () => {
    const q = tensor(1, [1, 1, 1, 8])
    const long = tensor(2, [1, 1, MAX_POSITIONS + 1, 8])
    expect(attendOneQueryWebGpu(q as tf.Tensor4D, [{ k: long, v: long }])).toBeUndefined()
    const q2 = tensor(3, [1, 1, 2, 8])
    expect(attendOneQueryWebGpu(q2 as tf.Tensor4D, [{ k: q2, v: q2 }])).toBeUndefined()
    tf.dispose([q, long, q2])
  })
})
