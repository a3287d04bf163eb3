/**
 * LayerNorm with its gradient as tfjs kernels on the wasm backend (train.wat's
 * `layer_norm_stats` and `layer_norm_backward`). The forward pass is layer-norm.ts's arithmetic,
 * also keeping each row's mean and 1/√(var + eps); the backward pass computes dx, dweight and
 * dbias in one sweep over the rows. By tfjs ops the backward pass of LayerNorm's eight ops is
 * about twenty kernels, and its two means' gradients each fill a tensor of ones on the host.
 */
import * as tf from '@tensorflow/tfjs-core'
import { layerNormGrain } from './layer-norm.js'
import { activeTrainKernels, dataOffset, registerTrainKernel, runSplit } from './module.js'

/** The kernels' names in tfjs's registry. */
export const LAYER_NORM_STATS = 'MinigptLayerNormStats'
export const LAYER_NORM_BACKWARD = 'MinigptLayerNormBackward'

registerTrainKernel(LAYER_NORM_STATS, ({ inputs, backend, kernels, attrs }) => {
  const { x, weight, bias } = inputs
  const d = x.shape[x.shape.length - 1]
  const rows = tf.util.sizeFromShape(x.shape) / d
  const out = backend.makeOutput([...x.shape], 'float32')
  const stats = backend.makeOutput([rows, 2], 'float32')
  const eps = (attrs as { eps: number }).eps
  const args = [dataOffset(backend, x), rows, d, dataOffset(backend, weight), dataOffset(backend, bias), eps, dataOffset(backend, out), dataOffset(backend, stats)]
  runSplit(backend, 'train', 'layer_norm_stats_chunk', kernels.layer_norm_stats_chunk, args, rows, layerNormGrain(d))
  return [out, stats]
})

registerTrainKernel(LAYER_NORM_BACKWARD, ({ inputs, backend, kernels }) => {
  const { x, dy, weight, stats } = inputs
  const d = x.shape[x.shape.length - 1]
  const rows = tf.util.sizeFromShape(x.shape) / d
  const dx = backend.makeOutput([...x.shape], 'float32')
  const dw = backend.makeOutput([d], 'float32')
  const db = backend.makeOutput([d], 'float32')
  kernels.layer_norm_backward(
    dataOffset(backend, x),
    dataOffset(backend, dy),
    rows,
    d,
    dataOffset(backend, weight),
    dataOffset(backend, stats),
    dataOffset(backend, dx),
    dataOffset(backend, dw),
    dataOffset(backend, db),
  )
  return [dx, dw, db]
})

const withGrad = (x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor => {
  const f = tf.customGrad(((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor, save: tf.GradSaveFunc) => {
    const [out, stats] = tf.engine().runKernel(LAYER_NORM_STATS, { x: xi, weight: wi, bias: bi }, { eps }) as tf.Tensor[]
    save([xi, wi, stats])
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, [sx, sw, ss]: tf.Tensor[]) => tf.engine().runKernel(LAYER_NORM_BACKWARD, { x: sx, dy, weight: sw, stats: ss }, {}) as tf.Tensor[],
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return f(x, weight, bias) as tf.Tensor
}

/**
 * LayerNorm of x over its last axis (of d features, a multiple of 4) with weight and bias [d],
 * with its gradient with respect to all three, by the kernels — or `undefined` where they do
 * not run (not wasm, d not a multiple of 4, not float32). For use while a gradient is recorded;
 * layer-norm.ts's kernel is the same forward pass without the bookkeeping.
 */
export const layerNormWithGradKernel = (x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor | undefined => {
  const d = x.shape[x.rank - 1]
  const fits = x.rank >= 1 && x.size > 0 && d % 4 === 0 && [x, weight, bias].every((t) => t.dtype === 'float32') && weight.size === d && bias.size === d
  return !fits || activeTrainKernels() === null ? undefined : withGrad(x, weight, bias, eps)
}
