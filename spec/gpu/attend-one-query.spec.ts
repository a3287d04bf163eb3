/**
 * The WGSL attention kernel (backend/webgpu/attend-one-query.ts) against the tfjs ops it replaces,
 * on webgpu, for random shapes: batch, heads, head sizes that are and are not multiples of the
 * workgroup's 64 threads, up to a few hundred positions, in buffers with room to spare.
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

/** softmax(q·Kᵀ/√d)·V over the first `len` positions, in tfjs ops. */
const reference = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, len: number): tf.Tensor => {
  const [b, h, , d] = k.shape as number[]
  const [kk, vv] = [k, v].map((t) => tf.slice(t, [0, 0, 0, 0], [b, h, len, d]))
  return tf.matMul(tf.softmax(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(d)), -1), vv)
}

describe('the WGSL attention kernel', () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 130 }),
      fc.integer({ min: 1, max: 300 }), // positions
      fc.integer({ min: 0, max: 70 }), // room to spare
      fc.integer({ min: 0, max: 1e6 }),
    ],
    { numRuns: 25 },
  )('agrees with the tfjs ops to 1e-5 relative', async (b, h, d, len, room, seed) => {
    const scale = 3 // sharp enough weights that a wrong maximum or sum shows
    const q = tensor(seed, [b, h, 1, d], scale)
    const k = tensor(seed + 1, [b, h, len + room, d]) as tf.Tensor4D
    const v = tensor(seed + 3, [b, h, len + room, d]) as tf.Tensor4D
    const got = attendOneQueryWebGpu(q as tf.Tensor4D, k, v, len)
    expect(got).toBeDefined()
    const want = reference(q, k, v, len)
    const [x, y] = await Promise.all([got!.data(), want.data()])
    let err = 0
    let norm = 0
    for (let i = 0; i < y.length; i++) {
      err += (x[i] - y[i]) ** 2
      norm += y[i] ** 2
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-5)
    tf.dispose([q, k, v, got!, want])
  })

  it('declines what it does not take: more than MAX_POSITIONS positions, a length past the room, several queries', () => {
    const q = tensor(1, [1, 1, 1, 8]) as tf.Tensor4D
    const long = tensor(2, [1, 1, MAX_POSITIONS + 1, 8]) as tf.Tensor4D
    expect(attendOneQueryWebGpu(q, long, long, MAX_POSITIONS + 1)).toBeUndefined()
    expect(attendOneQueryWebGpu(q, long, long, MAX_POSITIONS + 2)).toBeUndefined()
    const q2 = tensor(3, [1, 1, 2, 8]) as tf.Tensor4D
    expect(attendOneQueryWebGpu(q2, q2, q2, 2)).toBeUndefined()
    tf.dispose([q, long, q2])
  })
})
