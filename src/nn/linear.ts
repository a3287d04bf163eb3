/**
 * The affine layer y = x·W + b, with W stored as [in, out].
 *
 * PyTorch's `nn.Linear` keeps its weight as [out, in]; this library keeps [in, out] so the
 * forward pass needs no transpose, and converts at the file boundary (src/io). The default
 * initialisation is PyTorch's: weight and bias uniform in ±1/√in. The weight is declared a
 * `'dense'` matrix, so a quantizer knows how it is read; `apply` takes it float or quantized.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { uniform, split } from '../core/key.js'
import { param } from '../core/tree.js'
import { nameAt, type TensorLayer } from '../core/layer.js'
import { dense, type Matrix } from './matmul.js'

/** Parameters of {@link linear}: weight [in, out] and bias [out]; `apply` also reads the weight quantized (M = {@link Matrix}). */
export interface LinearParams<M = tf.Tensor2D> {
  readonly weight: M
  readonly bias: tf.Tensor1D
}

/** Parameters of a bias-free {@link linearNoBias}. */
export interface LinearNoBiasParams<M = tf.Tensor2D> {
  readonly weight: M
}

const checkDims = (inDim: number, outDim: number) => {
  for (const [n, v] of [
    ['in', inDim],
    ['out', outDim],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`linear: ${n} features must be a positive integer, got ${v}`)
  }
}

/** A linear layer from `inDim` to `outDim` features (PyTorch's nn.Linear, initialised the same way). */
export const linear = (inDim: number, outDim: number): TensorLayer<LinearParams, LinearParams<Matrix>> => {
  checkDims(inDim, outDim)
  const bound = 1 / Math.sqrt(inDim)
  return {
    name: 'linear',
    init: (k) => {
      const [kw, kb] = split(k)
      return Object.freeze({
        weight: param([inDim, outDim], () => uniform(kw, inDim * outDim, -bound, bound), 'dense'),
        bias: param([outDim], () => uniform(kb, outDim, -bound, bound)),
      })
    },
    apply: (p, x, ctx) => dense(x, p.weight, p.bias, nameAt(ctx, 'linear')),
  }
}

/** A linear layer without bias. */
export const linearNoBias = (inDim: number, outDim: number): TensorLayer<LinearNoBiasParams, LinearNoBiasParams<Matrix>> => {
  checkDims(inDim, outDim)
  const bound = 1 / Math.sqrt(inDim)
  return {
    name: 'linear',
    init: (k) => Object.freeze({ weight: param([inDim, outDim], () => uniform(k, inDim * outDim, -bound, bound), 'dense') }),
    apply: (p, x, ctx) => dense(x, p.weight, undefined, nameAt(ctx, 'linear')),
  }
}
