/**
 * GELU (exact, erf form) as tfjs kernels on the wasm backend, in WebAssembly SIMD (train.wat's
 * `gelu_erf`): ½x(1 + erf(x/√2)) with erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, the
 * formula of tfjs's cpu Erf). tfjs-wasm's Erf is a scalar loop, and GELU by ops is five kernels:
 * at Mini-GPT's decoding steps they were the largest cost after the matrix products
 * (docs/benchmarks.md). While a gradient is recorded the same pass also writes the derivative
 * Φ(x) + x·φ(x), so the backward pass is one product dy·gelu'(x), where by ops it goes back
 * through the five. Large tensors are split over the kernel pool's threads (module.ts's runSplit).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, registerTrainKernel, runSplit, splitSlots } from './module.js'

/** The kernels' names in tfjs's registry: GELU, and GELU with its derivative. */
export const GELU_ERF = 'MinigptGeluErf'
export const GELU_ERF_WITH_DERIVATIVE = 'MinigptGeluErfWithDerivative'

/** Groups of 8 values a thread's chunk takes at least (some 16K values: microseconds of work). */
const GRAIN = 2048

const gelu = (withDerivative: boolean) =>
  registerTrainKernel(withDerivative ? GELU_ERF_WITH_DERIVATIVE : GELU_ERF, ({ inputs, backend, kernels }) => {
    const { x } = inputs
    const out = backend.makeOutput([...x.shape], 'float32')
    const grad = withDerivative ? backend.makeOutput([...x.shape], 'float32') : undefined
    // groups of 8 values, split over the kernel pool, each chunk with 8 floats of scratch
    const groups = Math.ceil(tf.util.sizeFromShape(x.shape) / 8)
    const grain = Math.max(GRAIN, Math.ceil(groups / 8))
    const scratch = backend.makeOutput([8 * splitSlots(backend, groups, grain)], 'float32')
    const args = [
      dataOffset(backend, x),
      tf.util.sizeFromShape(x.shape),
      dataOffset(backend, out),
      grad === undefined ? 0 : dataOffset(backend, grad),
      dataOffset(backend, scratch),
    ]
    runSplit(backend, 'train', 'gelu_erf_chunk', kernels.gelu_erf_chunk, args, groups, grain)
    backend.disposeData(scratch.dataId)
    return grad === undefined ? out : [out, grad]
  })
gelu(false)
gelu(true)

const applies = (x: tf.Tensor): boolean => x.dtype === 'float32' && x.size > 0 && activeTrainKernels() !== null

/** GELU (erf) of a float32 tensor by the SIMD kernel, or `undefined` where it does not run. No gradient. */
export const geluErfKernel = (x: tf.Tensor): tf.Tensor | undefined => (applies(x) ? (tf.engine().runKernel(GELU_ERF, { x }, {}) as tf.Tensor) : undefined)

/**
 * An elementwise function with its gradient from a kernel that writes the value and the
 * derivative in one pass (`kernel`: x → [value, derivative]): backward is dy·derivative, and only
 * the derivative is kept. The GELU kernels of both forms (erf here, tanh in gelu-tanh.ts) use it.
 */
export const withKernelDerivative = (kernel: string): ((x: tf.Tensor) => tf.Tensor) =>
  tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const [out, derivative] = tf.engine().runKernel(kernel, { x }, {}) as tf.Tensor[]
    save([derivative])
    return { value: out, gradFunc: (dy: tf.Tensor, [d]: tf.Tensor[]) => tf.mul(dy, d) }
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor

const withGrad = withKernelDerivative(GELU_ERF_WITH_DERIVATIVE)

/**
 * GELU (erf) of a float32 tensor with its gradient, by the kernel (the same values as
 * {@link geluErfKernel}), or `undefined` where it does not run. For use while a gradient is recorded.
 */
export const geluErfWithGradKernel = (x: tf.Tensor): tf.Tensor | undefined => (applies(x) ? withGrad(x) : undefined)
