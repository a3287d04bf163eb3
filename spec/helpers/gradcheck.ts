/**
 * Gradient checking against finite differences, for the property tests in spec/nn.
 *
 * tfjs computes in float32 only, so a per-element finite difference is too noisy to be
 * useful. Instead we check one directional derivative of a scalar function: with a fixed
 * random readout R and random directions v (one per differentiated input),
 *
 *   F(x) = Σ f(x) ⊙ R            (summed in float64 on the host)
 *   analytic = Σ_i ⟨∇_i F, v_i⟩  (tfjs's gradients: the thing under test)
 *   numeric  = F'(x; v)          (fourth-order central difference D₄ with step h)
 *
 * and accept when |analytic − numeric| ≤ rtol·max(|analytic|, |numeric|) + the error budget
 * of `numeric`, made of
 *   - `noise`: float32 rounding of F, about 32 ulps of ‖f ⊙ R‖₂, times 1.5/h;
 *   - `truncation`: |D₄(h) − D₂(h)|, which bounds D₄'s O(h⁴) error by D₂'s O(h²) one;
 *   - `spread`: twice |D₄(h) − D₄(h/2)|, an empirical estimate of both, which catches rounding
 *     from cancellation inside an op (GELU left of zero computes 1 + erf(x/√2) ≈ 0);
 *   - `floor`: the float32 rounding of the analytic side itself, 32 ulps of ‖R‖₂·Σ‖vᵢ‖₂
 *     (each gradient element is a sum of terms of order one times R, rounded).
 * Inputs should stay where float32 is accurate for the op (GELU within ±3: at −5,
 * tanh(·) rounds to −1 and the float32 gradient is rounding noise of order 1e-6).
 * The budget matters only where the directional derivative is close to zero; elsewhere the
 * relative tolerance (2e-3, while a correct gradient lands near 1e-4) decides, and a wrong
 * gradient (a missing transpose, a factor, a dropped term) is off by order 1.
 * The first spec in spec/nn/gradients.spec.ts checks that a gradient 1 % off is caught.
 */
import * as tf from '@tensorflow/tfjs-core'
import { key, normal, split, uniform } from '../../src/core/key.js'

/** Result of a directional-derivative check. */
export interface DirectionalCheck {
  readonly analytic: number
  readonly numeric: number
  /** The error budget of `numeric` (see the module comment). */
  readonly budget: number
}

const F32_EPS = 2 ** -23
/** Ulps of float32 rounding allowed per evaluation of F (several ops, each rounding). */
const ULPS = 32

const dot64 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

const norm64 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i] * b[i]) ** 2
  return Math.sqrt(s)
}

/**
 * Compares tfjs's gradient of `f` at `xs` with a finite difference along random directions.
 * `f` must be a function of its tensor arguments only (integer inputs go in its closure).
 */
export const directionalCheck = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: readonly tf.Tensor[], seed: number, h = 2e-2): DirectionalCheck =>
  tf.tidy(() => {
    const [kr, kv] = split(key(seed))
    const out0 = f(...xs)
    const r = normal(kr, out0.size)
    const R = tf.tensor(r, out0.shape, 'float32')
    const dirKeys = split(kv, Math.max(xs.length, 1))
    const vs = xs.map((x, i) => normal(dirKeys[i], x.size))

    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), R)))([...xs])
    let analytic = 0
    grads.forEach((g, i) => (analytic += dot64(g.dataSync(), vs[i])))

    const hostXs = xs.map((x) => x.dataSync())
    let magnitude = 0
    const F = (t: number): number =>
      tf.tidy(() => {
        const moved = xs.map((x, i) =>
          tf.tensor(
            Float32Array.from(hostXs[i], (xi, j) => xi + t * vs[i][j]),
            x.shape,
            'float32',
          ),
        )
        const y = f(...moved).dataSync()
        magnitude = Math.max(magnitude, norm64(y, r))
        return dot64(y, r)
      })
    const d2 = (s: number) => (F(s) - F(-s)) / (2 * s)
    const d4 = (s: number) => (-F(2 * s) + 8 * F(s) - 8 * F(-s) + F(-2 * s)) / (12 * s)
    const numeric = d4(h)
    const truncation = Math.abs(numeric - d2(h))
    const spread = Math.abs(numeric - d4(h / 2))
    const noise = (18 * ULPS * F32_EPS * magnitude) / (12 * (h / 2))
    const floor = ULPS * F32_EPS * Math.sqrt(dot64(r, r)) * vs.reduce((acc, v) => acc + Math.sqrt(dot64(v, v)), 0)
    return { analytic, numeric, budget: noise + truncation + 2 * spread + floor }
  })

/** |analytic − numeric| within `rtol` of the larger, plus the error budget of the difference quotient. */
export const agrees = (c: DirectionalCheck, rtol = 2e-3): boolean => Math.abs(c.analytic - c.numeric) <= rtol * Math.max(Math.abs(c.analytic), Math.abs(c.numeric)) + c.budget

/** A readable failure message for `expect(agrees(c), describe(c)).toBe(true)`. */
export const describeCheck = (c: DirectionalCheck): string =>
  `analytic ${c.analytic}, numeric ${c.numeric}, difference ${Math.abs(c.analytic - c.numeric)}, error budget ${c.budget}`

/** A float32 tensor of values uniform in [lo, hi) drawn from a seed. */
export const randu = (seed: number, shape: readonly number[], lo: number, hi: number): tf.Tensor => {
  const n = shape.reduce((a, b) => a * b, 1)
  return tf.tensor(uniform(key(seed), n, lo, hi), [...shape], 'float32')
}

/** A float32 tensor of standard normal values (times `scale`) drawn from a seed. */
export const randn = (seed: number, shape: readonly number[], scale = 1): tf.Tensor => {
  const n = shape.reduce((a, b) => a * b, 1)
  return tf.tensor(normal(key(seed), n, scale), [...shape], 'float32')
}

/** The largest absolute elementwise difference of two tensors of the same shape. */
export const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => {
  if (a.shape.join() !== b.shape.join()) throw new Error(`maxAbsDiff: shapes [${a.shape}] and [${b.shape}] differ`)
  const x = a.dataSync()
  const y = b.dataSync()
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]))
  return m
}
