/**
 * webgpu in Node through the optional `webgpu` package: where Dawn finds no adapter the error
 * says so and how to get one, and the backend that was active stays active (no fallback, no
 * broken engine). Runs everywhere: the adapter asked for (`adapter=…`) exists on no machine.
 */
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { initBackend, useBackend, webgpuAdapter } from '../../src/backend/index.js'

const installed = (() => {
  try {
    createRequire(import.meta.url).resolve('webgpu')
    return true
  } catch {
    return false
  }
})()
if (!installed) console.warn('spec/backend/webgpu-node.spec.ts: skipped: the optional webgpu package is not installed')

describe.skipIf(!installed)('webgpu in Node without a matching adapter', () => {
  it('is an error naming what is missing and how to get it; cpu stays active', async () => {
    await initBackend('cpu')
    const r = await useBackend('webgpu', { webgpu: { dawnFlags: ['adapter=no-such-gpu-anywhere'] } })()
    expect(E.isLeft(r)).toBe(true)
    const message = E.isLeft(r) ? r.left.message : ''
    expect(message).toMatch(/^Dawn found no WebGPU adapter \(flags: adapter=no-such-gpu-anywhere; feature level core\)\. /)
    expect(message).toContain('libvulkan1')
    expect(message).toContain('mesa-vulkan-drivers')
    expect(E.isLeft(r) && r.left.backend).toBe('webgpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(Array.from(await tf.add(tf.scalar(2), tf.scalar(3)).data())).toEqual([5])
    expect(await webgpuAdapter()).toBeUndefined()
  })
})
