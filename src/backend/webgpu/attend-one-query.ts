/**
 * Attention of one query position over a key/value cache as one WGSL kernel on the webgpu
 * backend: `softmax(q·Kᵀ/√d)·V` per (batch, head) row over the cache's first `length`
 * positions (its buffers may have room for more: nn/kv-cache.ts), the counterpart of the wasm
 * SIMD kernel (backend/simd/attend.ts) for a decoding step.
 *
 * Why: with tfjs ops a decoding step's attention is, per layer, a batched product for the
 * scores, a softmax (max, subtract, exp, sum, divide) and a batched product for the weighted
 * sum — about eight dispatches and as many intermediate buffers. Here one workgroup per row
 * computes the scores into workgroup memory, reduces their maximum and sum, and writes the
 * weighted sum: one dispatch per layer, nothing allocated but the output.
 */
import * as tf from '@tensorflow/tfjs-core'

/** The kernel's name in tfjs's registry. */
export const ATTEND_ONE_QUERY = 'MinigptAttendOneQuery'

/** Threads per workgroup: one workgroup per (batch, head) row. */
const THREADS = 64
/** The most cached positions the kernel takes (its scores live in workgroup memory: 8 KB). */
export const MAX_POSITIONS = 2048

/** What the kernel needs of tfjs-webgpu's backend object (tfjs-backend-webgpu 4.x). */
interface WebGpuBackendLike {
  runWebGPUProgram: (program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: readonly { type: string; data: number[] }[]) => tf.TensorInfo
}

// tfjs-webgpu declares the inputs (q, k, v as array<f32>), `result`, the uniforms (each input's
// shape, `len`, `scale`) and the private ids (workgroupId, localIndex) around this code. A row's
// keys start at row · capacity · d (capacity = kShape[2]); the first `len` are read.
const SHADER = `
  var<workgroup> weights: array<f32, ${MAX_POSITIONS}>;
  var<workgroup> partial: array<f32, ${THREADS}>;

  fn main(index: i32) {
    let row = i32(workgroupId.x);
    let t = i32(localIndex);
    let d = uniforms.qShape[3];
    let capacity = uniforms.kShape[2];
    let n = uniforms.len;
    let qo = row * d;
    let base = row * capacity * d;

    var m = -uniforms.INFINITY;
    for (var j = t; j < n; j = j + ${THREADS}) {
      var s = 0.0;
      let ko = base + j * d;
      for (var f = 0; f < d; f = f + 1) { s = s + q[qo + f] * k[ko + f]; }
      s = s * uniforms.scale;
      weights[j] = s;
      m = max(m, s);
    }
    partial[t] = m;
    workgroupBarrier();
    for (var w = ${THREADS / 2}; w > 0; w = w / 2) {
      if (t < w) { partial[t] = max(partial[t], partial[t + w]); }
      workgroupBarrier();
    }
    let top = partial[0];
    workgroupBarrier();

    var sum = 0.0;
    for (var j = t; j < n; j = j + ${THREADS}) {
      let e = exp(weights[j] - top);
      weights[j] = e;
      sum = sum + e;
    }
    partial[t] = sum;
    workgroupBarrier();
    for (var w = ${THREADS / 2}; w > 0; w = w / 2) {
      if (t < w) { partial[t] = partial[t] + partial[t + w]; }
      workgroupBarrier();
    }
    let total = partial[0];

    for (var f = t; f < d; f = f + ${THREADS}) {
      var acc = 0.0;
      for (var j = 0; j < n; j = j + 1) { acc = acc + weights[j] * v[base + j * d + f]; }
      result[qo + f] = acc / total;
    }
  }
`

tf.registerKernel({
  kernelName: ATTEND_ONE_QUERY,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { q, k, v } = inputs as Record<string, tf.TensorInfo>
    const [b, h] = q.shape
    const program = {
      variableNames: ['q', 'k', 'v'],
      outputShape: [...q.shape],
      shaderKey: 'minigptAttendOneQuery',
      dispatchLayout: { x: [0] },
      dispatch: [b * h, 1, 1],
      workgroupSize: [THREADS, 1, 1],
      uniforms: 'len : i32, scale : f32,',
      getUserCode: () => SHADER,
    }
    const { length, scale } = attrs as { length: number; scale: number }
    const uniforms = [
      { type: 'int32', data: [length] },
      { type: 'float32', data: [scale] },
    ]
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [q, k, v], 'float32', uniforms)
  },
})

/**
 * `softmax(q·Kᵀ/√d)·V` for one query position, q [B, H, 1, d], over the first `length`
 * positions of keys and values k, v [B, H, capacity, d], by the WGSL kernel — or `undefined`
 * where it does not run (another backend than webgpu, more than {@link MAX_POSITIONS}
 * positions, not float32, shapes that do not fit): the caller then uses tfjs ops. No gradient:
 * callers use it only outside gradient recording.
 */
export const attendOneQueryWebGpu = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, length: number): tf.Tensor4D | undefined => {
  if (tf.getBackend() !== 'webgpu' || q.shape[2] !== 1 || [q, k, v].some((t) => t.dtype !== 'float32')) return undefined
  if (length < 1 || length > MAX_POSITIONS || length > k.shape[2] || !k.shape.every((n, i) => n === v.shape[i] && (i === 2 || n === q.shape[i]))) return undefined
  return tf.engine().runKernel(ATTEND_ONE_QUERY, { q, k, v }, { length, scale: 1 / Math.sqrt(q.shape[3]) }) as tf.Tensor4D
}
