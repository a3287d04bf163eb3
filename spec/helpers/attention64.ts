/** The attention kernels' reference in float64 (spec/backend/simd.spec.ts, bf16-cache.spec.ts). */

/**
 * softmax(scale·q·Kᵀ)·V in float64 on the host, for q [blocks, tq, d] and k, v [blocks, cap, d]
 * (as flat arrays) over the first `len` positions, query i seeing keys 0 … len − tq + i when causal.
 */
export const attention64 = (q: Float32Array, k: Float32Array, v: Float32Array, blocks: number, tq: number, cap: number, len: number, d: number, causal: boolean): Float64Array => {
  const out = new Float64Array(blocks * tq * d)
  const scale = 1 / Math.sqrt(d)
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < tq; i++) {
      const n = causal ? len - tq + i + 1 : len
      const s = Array.from({ length: n }, (_, t) => {
        let dot = 0
        for (let f = 0; f < d; f++) dot += q[(b * tq + i) * d + f] * k[(b * cap + t) * d + f]
        return dot * scale
      })
      const m = Math.max(...s)
      const e = s.map((x) => Math.exp(x - m))
      const z = e.reduce((a, x) => a + x, 0)
      for (let f = 0; f < d; f++) {
        let acc = 0
        for (let t = 0; t < n; t++) acc += e[t] * v[(b * cap + t) * d + f]
        out[(b * tq + i) * d + f] = acc / z
      }
    }
  }
  return out
}
