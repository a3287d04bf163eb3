/**
 * An Adam(W) step over a whole parameter tree as one tfjs kernel on the wasm backend
 * (train.wat's `sum_squares` and `adam`): the gradients' global norm and the clip factor, then
 * per parameter the moments and the new value, each element read and written once.
 *
 * By the optimizer's transformations (optim/transforms.ts) a step is about twenty tfjs ops per
 * parameter — clip, Adam's moments and direction, decay, learning rate, the addition to the
 * parameter — a thousand small kernels for Mini-GPT's 53 parameters, each costing more in
 * bookkeeping than in arithmetic. The kernel does the same float32 operations in the same order
 * (optim/fused.ts says which chains it runs), the clip factor included, so its results equal
 * the ops' on wasm.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel, runSplit } from './module.js'

/** The kernel's name in tfjs's registry. */
export const ADAM_TREE = 'MinigptAdamTree'

/** The step's numbers (the kernel rounds each to float32 once, as tf.scalar does). */
export interface AdamTreeScalars {
  /** Clip the gradients to this global norm first (PyTorch's clip_grad_norm_ rule); 0: no clipping. */
  readonly maxNorm: number
  /**
   * How the ops add the leaves' sums of squares: one addN (a sum in order) of up to this many,
   * a tree of them beyond (optim/transforms.ts's globalNorm); followed here, the factor is the ops'.
   */
  readonly addNInputs: number
  readonly b1: number
  /** 1 − b1, computed in float64 (as the ops' scalar is). */
  readonly oneMinusB1: number
  readonly b2: number
  readonly oneMinusB2: number
  /** √(1 − b2ᵗ)/(1 − b1ᵗ) at this step t. */
  readonly stepSize: number
  /** eps·√(1 − b2ᵗ). */
  readonly epsHat: number
  readonly weightDecay: number
  /** The learning rate of this step. */
  readonly lr: number
}

interface Attrs extends AdamTreeScalars {
  readonly leaves: number
  /** 1 where a leaf decays, 0 where not. */
  readonly decay: readonly number[]
}

const f32 = Math.fround

/** The sum of float32 numbers as globalNorm's addAll makes it: addN (in order) of up to `n`, a tree of them beyond. */
const addAll = (xs: readonly number[], n: number): number =>
  xs.length <= n
    ? xs.reduce((a, b) => f32(a + b))
    : addAll(
        Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => addAll(xs.slice(i * n, (i + 1) * n), n)),
        n,
      )

/**
 * PyTorch's clip factor min(1, maxNorm / (norm + 1e-6)) from the leaves' sums of squares, in the
 * float32 operations of optim/transforms.ts's `clipFactor` and `globalNorm`.
 */
const clipFactorOf = (sums: readonly number[], maxNorm: number, addNInputs: number): number =>
  Math.min(f32(f32(maxNorm) / f32(f32(Math.sqrt(addAll(sums, addNInputs))) + f32(1e-6))), 1)

registerTrainKernel(ADAM_TREE, ({ inputs, backend, kernels, attrs }) => {
  const a = attrs as unknown as Attrs
  const n = a.leaves
  const at = (name: string, i: number) => dataOffset(backend, inputs[`${name}${i}`])
  const sizes = Array.from({ length: n }, (_, i) => tf.util.sizeFromShape(inputs[`p${i}`].shape))
  let clip = 1
  if (a.maxNorm > 0) {
    const sums = sizes.map((size, i) => kernels.sum_squares(at('g', i), size))
    clip = clipFactorOf(sums, a.maxNorm, a.addNInputs)
  }
  const outputs = ['p', 'm', 'v'].map(() => Array.from({ length: n }, (_, i) => backend.makeOutput([...inputs[`p${i}`].shape], 'float32')))
  const scratch = backend.makeOutput([12], 'float32')
  for (let i = 0; i < n; i++) {
    // blocks of 4096 values, split over the kernel pool (a leaf of GPT-2 is up to 38.6M)
    const args = [
      at('g', i),
      at('p', i),
      at('m', i),
      at('v', i),
      sizes[i],
      clip,
      a.b1,
      a.oneMinusB1,
      a.b2,
      a.oneMinusB2,
      a.stepSize,
      a.epsHat,
      a.decay[i],
      a.weightDecay,
      -a.lr,
      dataOffset(backend, outputs[0][i]),
      dataOffset(backend, outputs[1][i]),
      dataOffset(backend, outputs[2][i]),
      dataOffset(backend, scratch),
    ]
    runSplit(backend, 'train', 'adam_chunk', kernels.adam_chunk, args, Math.ceil(sizes[i] / 4096), 16)
  }
  backend.disposeData(scratch.dataId)
  return outputs.flat()
})

/** One parameter's tensors for {@link adamTreeKernel}. */
export interface AdamLeaf {
  readonly grad: tf.Tensor
  readonly param: tf.Tensor
  readonly mu: tf.Tensor
  readonly nu: tf.Tensor
  readonly decay: boolean
}

/**
 * The Adam(W) step (clipped first when `maxNorm` > 0) of every leaf by the kernel: the new
 * parameters, first and second moments, in the leaves' order — or `undefined` where it does
 * not run (not wasm, a tensor that is not float32 or of another shape than its parameter).
 */
export const adamTreeKernel = (
  leaves: readonly AdamLeaf[],
  scalars: AdamTreeScalars,
): { readonly params: tf.Tensor[]; readonly mu: tf.Tensor[]; readonly nu: tf.Tensor[] } | undefined => {
  const fits = leaves.every((l) => [l.grad, l.param, l.mu, l.nu].every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, l.param.shape)))
  if (!fits || leaves.length === 0 || activeTrainKernels() === null) return undefined
  const inputs: tf.NamedTensorMap = {}
  leaves.forEach((l, i) => {
    inputs[`g${i}`] = l.grad
    inputs[`p${i}`] = l.param
    inputs[`m${i}`] = l.mu
    inputs[`v${i}`] = l.nu
  })
  const attrs: Attrs = { ...scalars, leaves: leaves.length, decay: leaves.map((l) => (l.decay ? 1 : 0)) }
  const out = tf.engine().runKernel(ADAM_TREE, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]
  const n = leaves.length
  return { params: out.slice(0, n), mu: out.slice(n, 2 * n), nu: out.slice(2 * n) }
}
