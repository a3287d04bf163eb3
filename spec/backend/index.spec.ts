import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { initBackend, useBackend } from '../../src/backend/index.js'

describe('useBackend', () => {
  afterAll(() => vi.restoreAllMocks())

  it('leaves the previous backend active when a backend fails to start (a browser without a WebGPU adapter)', async () => {
    await initBackend('cpu')
    // What tfjs-backend-webgpu registers in a browser whose navigator.gpu has no adapter: a
    // factory that rejects. tfjs's setBackend records the name first, so without the restore
    // the next op throws "The highest priority backend 'webgpu' has not yet been initialized".
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    tf.registerBackend('webgpu', () => Promise.reject(new Error('No available adapters.')), 3)
    try {
      const r = await useBackend('webgpu')()
      expect(E.isLeft(r) && r.left.message).toMatch(/^the webgpu backend failed to start/)
      expect(tf.getBackend()).toBe('cpu')
      expect(Array.from(tf.add(1, 2).dataSync())).toEqual([3])
    } finally {
      tf.removeBackend('webgpu')
    }
  })

  it('names the backend and the valid names for an unknown one', async () => {
    const r = await useBackend('tpu')()
    expect(E.isLeft(r) && r.left.message).toBe("unknown backend 'tpu': choose one of cpu, wasm, webgl, webgpu")
  })
})
