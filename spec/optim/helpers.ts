/** Test helpers for spec/optim: small parameter trees and plain-number comparisons. */
import * as tf from '@tensorflow/tfjs-core'
import { expect } from 'vitest'
import { flatten } from '../../src/core/tree.js'

/** The test tree: a matrix and a vector, as plain numbers. */
export interface Plain {
  readonly w: readonly (readonly number[])[]
  readonly b: readonly number[]
}

/** The tensor tree of a {@link Plain} tree (float32). */
export interface Params {
  readonly w: tf.Tensor2D
  readonly b: tf.Tensor1D
}

/** Makes the tensor tree (float32, so the inputs are rounded as PyTorch rounds them). */
export const tensors = (p: Plain): Params => ({
  w: tf.tensor2d(p.w.map((r) => [...r])),
  b: tf.tensor1d([...p.b]),
})

/** Reads a tree back as numbers, by dotted path, flattened per leaf. */
export const read = (tree: unknown): Record<string, number[]> => Object.fromEntries([...flatten<tf.Tensor>(tree)].map(([k, t]) => [k, Array.from(t.dataSync())]))

/** Flattens a plain tree the same way as {@link read}. */
export const plainFlat = (p: Plain): Record<string, number[]> => ({ w: p.w.flat(), b: [...p.b] })

/** Rounds to float32 (what a tensor holds), for hand computations that start from tensor values. */
export const f32 = (xs: readonly number[]): number[] => xs.map((x) => Math.fround(x))

/** Asserts two per-leaf number records agree within `tol` (absolute), naming the leaf and index. */
export const expectClose = (actual: Record<string, number[]>, expected: Record<string, number[]>, tol = 2e-6): void => {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort())
  for (const k of Object.keys(expected)) {
    expect(actual[k].length, `leaf ${k}`).toBe(expected[k].length)
    expected[k].forEach((e, i) => {
      const a = actual[k][i]
      if (!(Math.abs(a - e) <= tol)) expect.fail(`${k}[${i}]: got ${a}, expected ${e} (±${tol})`)
    })
  }
}

/** Runs `f` in tf.tidy, typed for results that hold trees and numbers. */
export const tidy = <R>(f: () => R): R => tf.tidy(f as unknown as () => tf.TensorContainer) as unknown as R
