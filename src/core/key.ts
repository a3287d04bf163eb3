/**
 * Explicit, splittable pseudo-random keys, in the style of JAX.
 *
 * A {@link Key} is a value (two 32-bit words). Every random draw in the library takes a key
 * and is a pure function of it: the same key gives the same numbers, in Node and in the
 * browser, on every tfjs backend, because the numbers are computed on the host with the
 * counter-based Threefry-2x32 generator (20 rounds, as in Random123 and JAX) rather than by a
 * backend's own random kernels. To draw twice, {@link split} the key first; never reuse one.
 *
 * @example
 * const [kInit, kData] = split(key(42))
 * const w = normal(kInit, 64 * 64)        // Float32Array, same on every machine
 * const order = permutation(kData, 5639)  // a shuffle of the data set
 */

/** A PRNG key: two unsigned 32-bit words. Immutable; make new keys with split/foldIn. */
export type Key = readonly [number, number] & { readonly __brand: 'Key' }

const asKey = (a: number, b: number): Key => Object.freeze([a >>> 0, b >>> 0]) as unknown as Key

/** Makes a key from an integer seed (any safe integer; the high bits feed the first word). */
export const key = (seed: number): Key => {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`key: seed must be a safe integer, got ${seed}`)
  const hi = Math.floor(seed / 2 ** 32)
  return asKey(hi, seed >>> 0)
}

/** True when the value is a key made by this module (or a structurally identical pair). */
export const isKey = (k: unknown): k is Key => Array.isArray(k) && k.length === 2 && k.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const
const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0

/**
 * The Threefry-2x32 block function with 20 rounds: encrypts the counter pair (c0, c1) under
 * the key (k0, k1). Exposed for tests against the published known-answer vectors.
 */
export const threefry2x32 = (k0: number, k1: number, c0: number, c1: number): [number, number] => {
  const ks = [k0 >>> 0, k1 >>> 0, (0x1bd11bda ^ k0 ^ k1) >>> 0]
  let x0 = (c0 + ks[0]) >>> 0
  let x1 = (c1 + ks[1]) >>> 0
  for (let r = 0; r < 20; r++) {
    x0 = (x0 + x1) >>> 0
    x1 = rotl(x1, ROTATIONS[r % 8]) ^ x0
    if (r % 4 === 3) {
      const s = (r + 1) / 4
      x0 = (x0 + ks[s % 3]) >>> 0
      x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0
    }
  }
  return [x0 >>> 0, x1 >>> 0]
}

// Domain separation: the second counter word says what the draw is for, so that split,
// foldIn and bits never feed the block function the same counter.
const DOMAIN_SPLIT = 0x5350_4c54 // 'SPLT'
const DOMAIN_FOLD = 0x464f_4c44 // 'FOLD'

/** Splits a key into `n` independent keys (default 2). The input key should not be used again. */
export function split(k: Key, n?: 2): [Key, Key]
export function split(k: Key, n: number): Key[]
export function split(k: Key, n = 2): Key[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`split: n must be a positive integer, got ${n}`)
  return Array.from({ length: n }, (_, i) => {
    const [a, b] = threefry2x32(k[0], k[1], i, DOMAIN_SPLIT)
    return asKey(a, b)
  })
}

/** Derives a new key from a key and an integer (a step number, a layer index, a batch index). */
export const foldIn = (k: Key, data: number): Key => {
  if (!Number.isInteger(data)) throw new RangeError(`foldIn: data must be an integer, got ${data}`)
  const [a, b] = threefry2x32(k[0], k[1], data >>> 0, (DOMAIN_FOLD ^ Math.floor(data / 2 ** 32)) >>> 0)
  return asKey(a, b)
}

/** `n` random 32-bit words from a key (counter mode). */
export const bits = (k: Key, n: number): Uint32Array => {
  checkCount('bits', n)
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry2x32(k[0], k[1], i >>> 1, Math.floor(i / 2 ** 33))
    out[i] = a
    if (i + 1 < n) out[i + 1] = b
  }
  return out
}

const checkCount = (what: string, n: number): void => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: count must be a non-negative integer, got ${n}`)
}

const TWO32 = 2 ** 32

/** `n` uniform draws in [minval, maxval) (default [0, 1)), as float32. */
export const uniform = (k: Key, n: number, minval = 0, maxval = 1): Float32Array => {
  const w = bits(k, n)
  const out = new Float32Array(n)
  const span = maxval - minval
  for (let i = 0; i < n; i++) {
    // 24 high bits: exactly representable in float32, so the result never rounds up to maxval.
    out[i] = minval + span * ((w[i] >>> 8) / 2 ** 24)
  }
  return out
}

/** Uniform draws in the open interval (0, 1) as float64, for transforms that take a log. */
/** A 32-bit word as a uniform in the open interval (0, 1). */
const openUnit = (w: number): number => (w + 0.5) / TWO32

const openUniform64 = (k: Key, n: number): Float64Array => {
  const w = bits(k, n)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = openUnit(w[i])
  return out
}

/** `n` standard normal draws (Box–Muller), scaled by `std` and shifted by `mean`, as float32. */
export const normal = (k: Key, n: number, std = 1, mean = 0): Float32Array => {
  checkCount('normal', n)
  const m = n + (n % 2)
  const u = openUniform64(k, m)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u[i]))
    const t = 2 * Math.PI * u[i + 1]
    out[i] = mean + std * r * Math.cos(t)
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(t)
  }
  return out
}

/**
 * `n` draws of a standard normal truncated to [lower, upper] (default ±2, as in Flax and
 * PyTorch's trunc_normal_), scaled by `std`. Rejection sampling with keys folded per round,
 * so the result stays a pure function of the key.
 */
export const truncatedNormal = (k: Key, n: number, std = 1, lower = -2, upper = 2): Float32Array => {
  checkCount('truncatedNormal', n)
  if (!(lower < upper)) throw new RangeError(`truncatedNormal: lower (${lower}) must be < upper (${upper})`)
  const out = new Float32Array(n)
  let filled = 0
  for (let round = 0; filled < n; round++) {
    if (round > 1000) throw new RangeError(`truncatedNormal: interval [${lower}, ${upper}] has too little mass`)
    const z = normal(foldIn(k, round), 2 * (n - filled) + 8)
    for (let i = 0; i < z.length && filled < n; i++) if (z[i] >= lower && z[i] <= upper) out[filled++] = z[i] * std
  }
  return out
}

/** A categorical distribution ready to draw from: a draw with a key gives the token and its log-probability. */
export type CategoricalDraw = (k: Key) => { readonly token: number; readonly logprob: number }

/**
 * The categorical distribution given by unnormalised log-probabilities (`-Infinity` marks an
 * impossible outcome), prepared once for any number of draws: its cumulative sums are computed
 * here (in float64), each draw inverts them with a single uniform from its key (a binary
 * search) — so a draw is identical on every backend, costs one block of the generator whatever
 * the vocabulary size, and rows that share logits share the preparation. The drawn token's
 * log-probability is `logits[token] - max - log(Σ exp(logits - max))`, from the same sums.
 * Throws if every logit is -Infinity or any is NaN.
 */
export const prepareCategorical = (logits: ArrayLike<number>): CategoricalDraw => {
  const n = logits.length
  let max = -Infinity
  for (let i = 0; i < n; i++) {
    const l = logits[i]
    if (Number.isNaN(l)) throw new RangeError(`categorical: logit ${i} is NaN`)
    if (l > max) max = l
  }
  if (max === -Infinity) throw new RangeError('categorical: every logit is -Infinity, nothing can be drawn')
  const cumulative = new Float64Array(n)
  let total = 0
  let last = -1 // the last possible outcome
  for (let i = 0; i < n; i++) {
    const p = Math.exp(logits[i] - max)
    total += p
    cumulative[i] = total
    if (p > 0) last = i
  }
  const logTotal = Math.log(total)
  return (k) => {
    const target = openUnit(threefry2x32(k[0], k[1], 0, 0)[0]) * total // = openUniform64(k, 1)[0] * total, without its arrays
    // The first outcome whose cumulative sum passes the target (it has a non-zero weight:
    // a zero-weight entry repeats the sum before it); rounding may leave the target at the
    // very top, and then the last possible outcome is drawn.
    let lo = 0
    let hi = last
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cumulative[mid] > target) hi = mid
      else lo = mid + 1
    }
    return { token: lo, logprob: logits[lo] - max - logTotal }
  }
}

/** One draw from the categorical distribution given by unnormalised log-probabilities ({@link prepareCategorical}). */
export const categorical = (k: Key, logits: ArrayLike<number>): number => prepareCategorical(logits)(k).token

/** A uniformly random permutation of 0..n-1 (Fisher–Yates driven by the key). */
export const permutation = (k: Key, n: number): Int32Array => {
  checkCount('permutation', n)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  const u = openUniform64(k, n)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}
