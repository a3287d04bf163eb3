/**
 * The training kernels (src/backend/simd/train.wat): the committed bytes are the assembly of the
 * committed text, and each kernel equals the tfjs ops it replaces, in values and in gradients,
 * leaving no tensors behind.
 */
import { readFileSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs-core'
import { fc, test } from '@fast-check/vitest'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { dropoutKernel } from '../../src/backend/simd/dropout-mask.js'
import { TRAIN_WASM_BASE64 } from '../../src/backend/simd/train-wasm.js'
// @ts-expect-error: a build script without type declarations
import { assemble, source } from '../../scripts/kernels.mjs'

describe('the training kernels module', () => {
  it('is the assembly of train.wat (run `npm run kernels` after editing it)', async () => {
    const wat = 'src/backend/simd/train.wat'
    const bytes: Buffer = await assemble(readFileSync(wat, 'utf8'), wat)
    expect(Buffer.from(TRAIN_WASM_BASE64, 'base64').equals(bytes)).toBe(true)
    expect(readFileSync('src/backend/simd/train-wasm.ts', 'utf8')).toBe(source(bytes, 'train.wat', 'TRAIN_WASM_BASE64'))
  })
})

describe('dropoutKernel', () => {
  beforeAll(async () => {
    await initBackend('wasm')
  })

  test.prop([fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 3 }), fc.constantFrom(0.1, 0.5, 0.9, 0.01), fc.integer({ min: 0, max: 2 ** 32 - 1 })], { numRuns: 60 })(
    "draws tf.randomUniform's mask bit for bit and applies it as the ops do",
    (shape, rate, seed) => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 7)
      const before = tf.memory().numTensors
      const got = dropoutKernel(x, rate, seed)!
      const [mask, want] = tf.tidy(() => {
        const m = tf.mul(tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), rate), 'float32'), 1 / (1 - rate))
        return [m, tf.mul(x, m)]
      })
      expect(Array.from(got.mask.dataSync())).toEqual(Array.from(mask.dataSync()))
      expect(Array.from(got.output.dataSync())).toEqual(Array.from(want.dataSync()))
      tf.dispose([got.output, got.mask, mask, want])
      expect(tf.memory().numTensors).toBe(before)
      x.dispose()
    },
  )
})
