/** Without the optional `webgpu` package, asking for webgpu in Node is an error that says how to install it. */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { expect, it, vi } from 'vitest'
import { initBackend, useBackend } from '../../src/backend/index.js'

vi.mock('webgpu', () => {
  throw new Error("Cannot find package 'webgpu' imported from minigpt-fp")
})

it('names the package and the install command; wasm stays active', async () => {
  await initBackend('wasm')
  const r = await useBackend('webgpu')()
  expect(E.isLeft(r) && r.left.message).toMatch(/^the webgpu package could not be loaded \(.+\): install it with `npm install webgpu`/)
  expect(tf.getBackend()).toBe('wasm')
})
