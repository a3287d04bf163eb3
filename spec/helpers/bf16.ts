/** float32 → bfloat16 → float32 on the host, the IEEE way: nearest, ties to even; NaN stays a (quiet) NaN. The reference the bfloat16 cache's specs compare with. */
export const roundBf16 = (xs: Float32Array): Float32Array => {
  const out = Float32Array.from(xs)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]
    bits[i] = Number.isNaN(out[i]) ? ((u >>> 16) | 0x40) << 16 : (((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16) >>> 0
  }
  return out
}
