/**
 * Attention of one query position over a key/value cache as one WGSL kernel on the webgpu
 * backend: `softmax(q·Kᵀ/√d)·V` per (batch, head) row, the counterpart of the wasm SIMD kernel
 * (backend/simd/attend-one-query.ts), registered under the same kernel name.
 *
 * Why: with tfjs ops a decoding step's attention is, per layer and cache part, a batched product
 * for the scores, their concatenation, a softmax (max, subtract, exp, sum, divide), a split and a
 * batched product per part — about ten dispatches and as many intermediate buffers. Here one
 * workgroup per row computes the scores into workgroup memory, reduces their maximum and sum, and
 * writes the weighted sum of both parts: one dispatch per layer, nothing allocated but the output.
 */
import * as tf from '@tensorflow/tfjs-core'

/** The kernel's name in tfjs's registry (the wasm kernel's name: one operation, one name per backend). */
export const ATTEND_ONE_QUERY = 'MinigptAttendOneQuery'

/** Threads per workgroup: one workgroup per (batch, head) row. */
const THREADS = 64
/** The most cached positions the kernel takes (its scores live in workgroup memory: 8 KB). */
export const MAX_POSITIONS = 2048

/** What the kernel needs of tfjs-webgpu's backend object (tfjs-backend-webgpu 4.x). */
interface WebGpuBackendLike {
  runWebGPUProgram: (program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: readonly { type: string; data: number[] }[]) => tf.TensorInfo
}

// tfjs-webgpu declares the inputs (q, k1, v1, k2, v2 as array<f32>), `result`, the uniforms (each
// input's shape, `len2`, `scale`) and the private ids (workgroupId, localIndex) around this code.
const SHADER = `
  var<workgroup> weights: array<f32, ${MAX_POSITIONS}>;
  var<workgroup> partial: array<f32, ${THREADS}>;

  fn main(index: i32) {
    let row = i32(workgroupId.x);
    let t = i32(localIndex);
    let d = uniforms.qShape[3];
    let len1 = uniforms.k1Shape[2];
    let len2 = uniforms.len2;
    let n = len1 + len2;
    let qo = row * d;

    var m = -uniforms.INFINITY;
    for (var j = t; j < n; j = j + ${THREADS}) {
      var s = 0.0;
      if (j < len1) {
        let ko = (row * len1 + j) * d;
        for (var f = 0; f < d; f = f + 1) { s = s + q[qo + f] * k1[ko + f]; }
      } else {
        let ko = (row * len2 + j - len1) * d;
        for (var f = 0; f < d; f = f + 1) { s = s + q[qo + f] * k2[ko + f]; }
      }
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
      for (var j = 0; j < len1; j = j + 1) { acc = acc + weights[j] * v1[(row * len1 + j) * d + f]; }
      for (var j = 0; j < len2; j = j + 1) { acc = acc + weights[len1 + j] * v2[(row * len2 + j) * d + f]; }
      result[qo + f] = acc / total;
    }
  }
`

tf.registerKernel({
  kernelName: ATTEND_ONE_QUERY,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { q, k1, v1, k2, v2 } = inputs as Record<string, tf.TensorInfo>
    const [b, h] = q.shape
    const program = {
      variableNames: ['q', 'k1', 'v1', 'k2', 'v2'],
      outputShape: [...q.shape],
      shaderKey: 'minigptAttendOneQuery',
      dispatchLayout: { x: [0] },
      dispatch: [b * h, 1, 1],
      workgroupSize: [THREADS, 1, 1],
      uniforms: 'len2 : i32, scale : f32,',
      getUserCode: () => SHADER,
    }
    const len2 = k2 === undefined ? 0 : k2.shape[2]
    const uniforms = [
      { type: 'int32', data: [len2] },
      { type: 'float32', data: [(attrs as { scale: number }).scale] },
    ]
    // One part: the second is bound to the first again with length 0 (one pipeline for both cases).
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [q, k1, v1, k2 ?? k1, v2 ?? v1], 'float32', uniforms)
  },
})

/**
 * `softmax(q·Kᵀ/√d)·V` for one query position, q [B, H, 1, d], over keys/values in one or two
 * consecutive parts ([B, H, Tᵢ, d] each), by the WGSL kernel — or `undefined` where it does not
 * run (another backend than webgpu, more than {@link MAX_POSITIONS} positions, not float32): the
 * caller then uses tfjs ops. No gradient: callers use it only outside gradient recording.
 */
export const attendOneQueryWebGpu = (q: tf.Tensor4D, parts: readonly { readonly k: tf.Tensor; readonly v: tf.Tensor }[]): tf.Tensor4D | undefined => {
  const [p1, p2] = parts
  if (tf.getBackend() !== 'webgpu' || p1 === undefined || parts.length > 2 || q.shape[2] !== 1 || q.dtype !== 'float32') return undefined
  const n = parts.reduce((s, { k }) => s + (k.shape[2] ?? 0), 0)
  if (n === 0 || n > MAX_POSITIONS) return undefined
  const inputs: tf.NamedTensorMap = p2 === undefined ? { q, k1: p1.k, v1: p1.v } : { q, k1: p1.k, v1: p1.v, k2: p2.k, v2: p2.v }
  return tf.engine().runKernel(ATTEND_ONE_QUERY, inputs, { scale: 1 / Math.sqrt(q.shape[3]) }) as tf.Tensor4D
}
