/**
 * IEEE 754 half precision (float16) and bfloat16 conversions, on bit patterns held in numbers
 * and Uint16Arrays, so that safetensors files written in F16 or BF16 can be read into float32 and
 * float32 weights written compactly.
 *
 * Encoding rounds the float32 value to the nearest representable value, ties to even, as the
 * hardware and numpy/PyTorch do: overflow gives ±infinity, tiny values give subnormals or ±0,
 * NaN stays NaN (quiet, sign kept). Inputs are first rounded to float32 (`Math.fround`), so
 * `float32ToFloat16Bits(x)` equals converting `new Float32Array([x])[0]`. Decoding is exact:
 * every float16 and bfloat16 value is a float32 value.
 */

const scratchF32 = new Float32Array(1)
const scratchU32 = new Uint32Array(scratchF32.buffer)

const float32Bits = (x: number): number => {
  scratchF32[0] = x
  return scratchU32[0]
}

/** The float16 bit pattern (0..0xFFFF) of `x` rounded to float32 then to float16, ties to even. */
export const float32ToFloat16Bits = (x: number): number => {
  const u = float32Bits(x)
  const sign = (u >>> 16) & 0x8000
  const exp = (u >>> 23) & 0xff
  const mant = u & 0x7fffff
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13) // inf, quiet NaN
  const e = exp - 127 + 15 // the float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00 // too large even before rounding
  if (e <= 0) {
    // A float16 subnormal (or zero): value = m16 * 2^-24.
    if (e < -10) return sign // below 2^-25: rounds to zero
    const m = mant | 0x800000 // exp > 0 here, so the float32 is normal with the implicit bit
    const shift = 14 - e // 14..24 bits to drop
    let m16 = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (m16 & 1) === 1)) m16++ // may carry into the smallest normal: still right
    return sign | m16
  }
  let mag = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (mag & 1) === 1)) mag++ // a carry into the exponent is right, up to infinity
  return sign | (mag >= 0x7c00 ? 0x7c00 : mag)
}

/** The value of a float16 bit pattern (the low 16 bits of `h`), exactly, as a number. */
export const float16BitsToFloat32 = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const e = (h >>> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return sign * m * 2 ** -24
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN
  return sign * (0x400 + m) * 2 ** (e - 25)
}

/** The bfloat16 bit pattern (0..0xFFFF) of `x` rounded to float32 then to bfloat16, ties to even. */
export const float32ToBfloat16Bits = (x: number): number => {
  const u = float32Bits(x)
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40 // quiet NaN, sign kept
  // Round to nearest even on the low 16 bits; a carry into the exponent gives infinity, as it should.
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 0x10000) & 0xffff
}

/** The value of a bfloat16 bit pattern (the low 16 bits of `b`), exactly, as a number. */
export const bfloat16BitsToFloat32 = (b: number): number => {
  scratchU32[0] = (b & 0xffff) << 16
  return scratchF32[0]
}

/** Encodes numbers as float16 bit patterns (see {@link float32ToFloat16Bits}). */
export const encodeFloat16 = (xs: ArrayLike<number>): Uint16Array => {
  const out = new Uint16Array(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = float32ToFloat16Bits(xs[i])
  return out
}

/** Decodes float16 bit patterns to float32 values. */
export const decodeFloat16 = (bits: ArrayLike<number>): Float32Array => {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsToFloat32(bits[i])
  return out
}

/** Encodes numbers as bfloat16 bit patterns (see {@link float32ToBfloat16Bits}). */
export const encodeBfloat16 = (xs: ArrayLike<number>): Uint16Array => {
  const out = new Uint16Array(xs.length)
  for (let i = 0; i < xs.length; i++) out[i] = float32ToBfloat16Bits(xs[i])
  return out
}

/**
 * Decodes bfloat16 bit patterns to float32 values. A Uint16Array is decoded by moving each
 * pattern into the high half of a 32-bit word, without a per-element function call.
 */
export const decodeBfloat16 = (bits: ArrayLike<number>): Float32Array => {
  const words = new Uint32Array(bits.length)
  for (let i = 0; i < bits.length; i++) words[i] = (bits[i] & 0xffff) << 16
  return new Float32Array(words.buffer)
}
