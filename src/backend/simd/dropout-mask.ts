/**
 * Dropout as one tfjs kernel on the wasm backend (train.wat's `dropout`): the mask drawn,
 * compared and applied in one pass, with the *same* draws as the ops it replaces.
 *
 * nn/dropout.ts draws its mask with `tf.randomUniform(shape, 0, 1, 'float32', seed)`: tfjs
 * fills a host array from seedrandom's Alea generator, one JavaScript call per value, and
 * copies it to the backend; then GreaterEqual, Cast and two Muls. Per Mini-GPT training step
 * that is 2.3 million draws, the largest host cost of the step. Alea is a lag-3
 * multiply-with-carry generator (x ← (a·x₋₃ + c) mod 2³², c the carry, a = 2,091,639, in
 * doubles), which is an LCG modulo m = a·2⁹⁶ − 1 in disguise: the state after k draws is the
 * initial one times 2⁻³²ᵏ mod m. So the host jumps ahead (a few BigInt products) to eight
 * evenly spaced points of the stream, and the kernel runs the eight pieces side by side, each
 * draw bit for bit what Alea gives (spec/backend/simd-train.spec.ts compares them with
 * tf.randomUniform).
 */
import * as tf from '@tensorflow/tfjs-core'
import { activeTrainKernels, dataOffset, heapWords, registerTrainKernel } from './module.js'

/** The kernel's name in tfjs's registry. */
export const DROPOUT = 'MinigptDropout'

/** The pieces of the stream the kernel runs side by side. */
const LANES = 8

const A = 2091639n
const B = 2n ** 32n
const M = A * B ** 3n - 1n
/** 2⁻³² mod m: one draw forward. */
const STEP = (A * B * B) % M

const powMod = (base: bigint, e: number): bigint => {
  let r = 1n
  let b = base % M
  for (let k = e; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) r = (r * b) % M
    b = (b * b) % M
  }
  return r
}

/** seedrandom's Mash, the hash Alea seeds itself with (the same double arithmetic). */
const mash = () => {
  let n = 0xefc8249d
  return (data: string): number => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i)
      let h = 0.02519603282416938 * n
      n = h >>> 0
      h -= n
      h *= n
      n = h >>> 0
      h -= n
      n += h * 0x100000000
    }
    return n >>> 0
  }
}

/** Alea's initial state for a seed (what `tf.randomUniform(…, seed)` passes it: the seed as a string), as words. */
const aleaInit = (seed: string): { readonly x: readonly [number, number, number]; readonly c: number } => {
  const m = mash()
  const blank = [m(' '), m(' '), m(' ')]
  const word = (i: number) => {
    const s = blank[i] - m(seed)
    return s < 0 ? s + 2 ** 32 : s
  }
  return { x: [word(0), word(1), word(2)], c: 1 }
}

/**
 * The kernel's lane states for `n` draws from Alea seeded with `seed`: lane j starts at draw
 * j·⌊n/8⌋. 32 words: the oldest of the three last draws of each lane ×2³² [8], the middle [8],
 * the newest [8], the carries [8] (train.wat's layout).
 */
export const aleaLanes = (seed: string, n: number): Uint32Array => {
  const init = aleaInit(seed)
  // The LCG value of a state: c + a·(x₋₂ + x₋₁·2³² + x₀·2⁶⁴), and back.
  let v = BigInt(init.c) + A * (BigInt(init.x[0]) + BigInt(init.x[1]) * B + BigInt(init.x[2]) * B * B)
  const jump = powMod(STEP, Math.floor(n / LANES))
  const out = new Uint32Array(4 * LANES)
  for (let j = 0; j < LANES; j++) {
    const c = v % A
    let rest = (v - c) / A
    for (let w = 0; w < 3; w++) {
      out[w * LANES + j] = Number(rest % B)
      rest /= B
    }
    out[3 * LANES + j] = Number(c)
    v = (v * jump) % M
  }
  return out
}

registerTrainKernel(DROPOUT, ({ inputs, backend, kernels, attrs }) => {
  const { x } = inputs
  const { seed, rate } = attrs as { seed: string; rate: number }
  const n = tf.util.sizeFromShape(x.shape)
  const out = backend.makeOutput([...x.shape], 'float32')
  const mask = backend.makeOutput([...x.shape], 'float32')
  const states = backend.makeOutput([4 * LANES], 'int32')
  const at = dataOffset(backend, states)
  heapWords(backend, at, 4 * LANES).set(aleaLanes(seed, n))
  const q = Math.floor(n / LANES)
  kernels.dropout(at, q, n - LANES * q, rate, 1 / (1 - rate), dataOffset(backend, x), dataOffset(backend, out), dataOffset(backend, mask))
  backend.disposeData(states.dataId)
  return [out, mask]
})

/** Whether {@link dropoutKernel} runs for x: a non-empty float32 tensor on a wasm backend where the training kernels run. */
export const dropoutKernelApplies = (x: tf.Tensor): boolean => x.dtype === 'float32' && x.size > 0 && activeTrainKernels() !== null

/**
 * Dropout of a float32 tensor at `rate` with the mask of `tf.randomUniform(x.shape, 0, 1,
 * 'float32', seed) ≥ rate`, by the kernel: the output x·mask and the mask (0 or 1/(1 − rate)),
 * or `undefined` where the kernel does not run (not wasm). No gradient (the caller's is dy·mask).
 */
export const dropoutKernel = (x: tf.Tensor, rate: number, seed: number): { readonly output: tf.Tensor; readonly mask: tf.Tensor } | undefined => {
  if (!dropoutKernelApplies(x)) return undefined
  const [output, mask] = tf.engine().runKernel(DROPOUT, { x }, { seed: String(seed), rate }) as tf.Tensor[]
  return { output, mask }
}
