/**
 * Softmax cross-entropy with its gradient as tfjs kernels on the wasm backend (train.wat's
 * `cross_entropy` and `cross_entropy_backward`): the mean of log Σ e^logits − logits[target]
 * over the rows whose target is not ignored, and its gradient (softmax − one-hot)·g/count.
 * By tfjs ops it is a log-softmax, a one-hot, a product and sums, forward and backward.
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel } from './module.js'

/** The kernels' names in tfjs's registry. */
export const CROSS_ENTROPY = 'MinigptCrossEntropy'
export const CROSS_ENTROPY_BACKWARD = 'MinigptCrossEntropyBackward'

registerTrainKernel(CROSS_ENTROPY, ({ inputs, backend, kernels, attrs }) => {
  const { logits, targets } = inputs
  const [n, v] = logits.shape
  const loss = backend.makeOutput([], 'float32')
  const lse = backend.makeOutput([n], 'float32')
  kernels.cross_entropy(dataOffset(backend, logits), dataOffset(backend, targets), n, v, (attrs as { ignore: number }).ignore, dataOffset(backend, lse), dataOffset(backend, loss))
  return [loss, lse]
})

registerTrainKernel(CROSS_ENTROPY_BACKWARD, ({ inputs, backend, kernels, attrs }) => {
  const { logits, targets, lse, dy } = inputs
  const [n, v] = logits.shape
  const dlogits = backend.makeOutput([n, v], 'float32')
  const { ignore } = attrs as { ignore: number }
  kernels.cross_entropy_backward(
    dataOffset(backend, logits),
    dataOffset(backend, targets),
    n,
    v,
    ignore,
    dataOffset(backend, lse),
    dataOffset(backend, dy),
    dataOffset(backend, dlogits),
  )
  return dlogits
})

const withGrad = (logits: tf.Tensor2D, targets: tf.Tensor1D, ignore: number): tf.Scalar => {
  const f = tf.customGrad(((l: tf.Tensor, save: tf.GradSaveFunc) => {
    const [loss, lse] = tf.engine().runKernel(CROSS_ENTROPY, { logits: l, targets }, { ignore }) as tf.Tensor[]
    save([l, lse])
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, [sl, slse]: tf.Tensor[]) => tf.engine().runKernel(CROSS_ENTROPY_BACKWARD, { logits: sl, targets, lse: slse, dy }, { ignore }) as tf.Tensor,
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  return f(logits) as tf.Scalar
}

/**
 * The mean cross-entropy of logits [n, v] against int32 targets [n], rows whose target is
 * `ignoreIndex` left out (0 when all are) — PyTorch's CrossEntropyLoss(ignore_index) — with its
 * gradient with respect to the logits while one is recorded, by the kernels; `undefined` where
 * they do not run (not wasm, not float32 logits and int32 targets).
 */
export const crossEntropyKernel = (logits: tf.Tensor2D, targets: tf.Tensor1D, ignoreIndex: number): tf.Scalar | undefined => {
  if (logits.dtype !== 'float32' || targets.dtype !== 'int32' || logits.shape[0] !== targets.shape[0] || activeTrainKernels() === null) return undefined
  if (tf.engine().isTapeOn()) return withGrad(logits, targets, ignoreIndex)
  const [loss, lse] = tf.engine().runKernel(CROSS_ENTROPY, { logits, targets }, { ignore: ignoreIndex }) as tf.Tensor[]
  lse.dispose()
  return loss as tf.Scalar
}
