/**
 * Kernel traces (src/backend/kernel-trace.ts): a plan is made only of two runs that made the
 * same calls, attributes equal or one apart; a replay binds new inputs and shifts those
 * attributes, gives what running the function there gives, bit for bit, and leaks nothing.
 */
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { planKernels, replayKernels, traceKernels, type TracedRun } from '../../src/backend/kernel-trace.js'

/** A function of a position and an input x [3]: x·w + (pos, pos+1, pos+2), then its exponential and the sum. */
const f = (w: tf.Tensor, pos: number, x: tf.Tensor): tf.Tensor[] => {
  const y = tf.add(tf.mul(x, w), tf.range(pos, pos + 3, 1, 'float32'))
  return [tf.exp(y), tf.sum(y)]
}

/** A traced run of `g` at `pos` on x, its results kept (the caller disposes them and x). */
const run = (g: typeof f, w: tf.Tensor, pos: number, values: number[]): { readonly traced: TracedRun; readonly x: tf.Tensor; readonly out: tf.Tensor[] } => {
  const x = tf.tensor1d(values)
  let calls: TracedRun['calls'] = []
  // (the intermediates are freed as the run ends, as a decoding step's are)
  const out = tf.tidy(() => {
    const t = traceKernels(() => g(w, pos, x))
    calls = t.calls
    return t.result
  })
  return { traced: { calls, inputs: new Map([[x.dataId, 'x']]), results: out }, x, out }
}

describe('kernel traces on wasm', () => {
  let w: tf.Tensor
  beforeAll(async () => {
    await initBackend('wasm')
    w = tf.tensor1d([0.5, -2, 3])
  })

  it('record the outermost kernel calls in order, and leave the engine as it was', () => {
    const engine = tf.engine()
    const { traced, x, out } = run(f, w, 2, [1, 2, 3])
    expect(traced.calls.map((c) => c.kernel)).toEqual(['Multiply', 'Range', 'Add', 'Exp', 'Sum'])
    expect(traced.calls[1]?.attrs).toMatchObject({ start: 2, stop: 5, step: 1 })
    expect(Object.hasOwn(engine, 'runKernel')).toBe(false)
    tf.dispose([x, ...out])
  })

  it('replay a plan of two runs one position apart at another position, with another input: what running there gives, bit for bit', () => {
    const [a, b] = [run(f, w, 2, [1, 2, 3]), run(f, w, 3, [4, 5, 6])]
    const plan = planKernels(a.traced, b.traced, 'wasm')
    expect(plan).toBeDefined()
    if (plan === undefined) return
    const tensors = tf.memory().numTensors
    const backend = tf.backend()
    const ids = backend.numDataIds()
    const x = tf.tensor1d([-1, 0.25, 7])
    const want = tf.tidy(() => f(w, 12, x))
    const got = replayKernels(plan, new Map([['x', x]]), 10)
    expect(got?.map((t) => Array.from(t.dataSync()))).toEqual(want.map((t) => Array.from(t.dataSync())))
    tf.dispose([x, ...want, ...(got ?? [])])
    expect([tf.memory().numTensors, backend.numDataIds()]).toEqual([tensors, ids])
    tf.dispose([a.x, b.x, ...a.out, ...b.out])
  })

  it('make no plan of runs that differ otherwise: two positions apart, other kernels, another attribute one apart, a tensor made on the host at each run', () => {
    const twoApart = [run(f, w, 2, [1, 2, 3]), run(f, w, 4, [1, 2, 3])]
    expect(planKernels(twoApart[0].traced, twoApart[1].traced, 'wasm')).toBeUndefined()
    const other: typeof f = (w, pos, x) => [tf.exp(tf.add(tf.mul(x, w), tf.range(pos, pos + 3, 1, 'float32'))), tf.max(x)]
    const kernels = [run(f, w, 2, [1, 2, 3]), run(other, w, 3, [1, 2, 3])]
    expect(planKernels(kernels[0].traced, kernels[1].traced, 'wasm')).toBeUndefined()
    // an attribute one apart that is not a position (a cumulative sum's axis, the shapes alike): it could depend on the position in any way
    const axis: typeof f = (w, pos, x) => [tf.cumsum(tf.mul(tf.reshape(x, [3, 1]), tf.reshape(w, [1, 3])), pos - 2)]
    const axes = [run(axis, w, 2, [1, 2, 3]), run(axis, w, 3, [1, 2, 3])]
    expect(axes.map((r) => r.out[0]?.shape)).toEqual([
      [3, 3],
      [3, 3],
    ])
    expect(planKernels(axes[0].traced, axes[1].traced, 'wasm')).toBeUndefined()
    // a constant made on the host inside the function: another tensor at each run, which a replay could not know
    const host: typeof f = (w, pos, x) => [tf.add(tf.mul(x, w), tf.tensor1d([pos, pos, pos]))]
    const leaves = [run(host, w, 2, [1, 2, 3]), run(host, w, 3, [1, 2, 3])]
    expect(planKernels(leaves[0].traced, leaves[1].traced, 'wasm')).toBeUndefined()
    for (const r of [...twoApart, ...kernels, ...axes, ...leaves]) tf.dispose([r.x, ...r.out])
  })

  it('replay nothing once data the plan reads besides its inputs is gone', () => {
    const w2 = tf.tensor1d([1, 1, 1])
    const [a, b] = [run(f, w2, 0, [1, 2, 3]), run(f, w2, 1, [1, 2, 3])]
    const plan = planKernels(a.traced, b.traced, 'wasm')
    expect(plan).toBeDefined()
    w2.dispose()
    const x = tf.tensor1d([1, 2, 3])
    if (plan !== undefined) expect(replayKernels(plan, new Map([['x', x]]), 5)).toBeUndefined()
    tf.dispose([x, a.x, b.x, ...a.out, ...b.out])
  })
})
