import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { adam, adamw, applyUpdates, decayMatrices, disposeState, sgd, type GradientTransformation } from '../../src/optim/index.js'
import { expectClose, f32, plainFlat, read, tensors, tidy, type Plain } from './helpers.js'

beforeAll(async () => {
  await initBackend('cpu')
})

const P: Plain = {
  w: [
    [0.5, -1.5],
    [2, 0.25],
  ],
  b: [0.1, -0.3],
}
const G: readonly Plain[] = [
  {
    w: [
      [0.1, -0.2],
      [0.3, 0.05],
    ],
    b: [-0.5, 1.0],
  },
  {
    w: [
      [-0.4, 0.1],
      [0.2, 0.0],
    ],
    b: [0.25, 0.5],
  },
  {
    w: [
      [0.3, 0.3],
      [-0.1, 0.7],
    ],
    b: [-0.05, -2.0],
  },
]

/** Runs `opt` for grads.length steps from P and returns the parameters after each step. */
const trajectory = <S>(opt: GradientTransformation<S>, grads: readonly Plain[]): Record<string, number[]>[] => {
  let params = tensors(P)
  let state = opt.init(params)
  const out: Record<string, number[]>[] = []
  for (const g of grads) {
    const [next, nextState] = tidy(() => {
      const [u, s] = opt.update(tensors(g), state, params)
      return [applyUpdates(params, u), s] as const
    })
    tf.dispose([params.w, params.b])
    disposeState(state)
    params = next
    state = nextState
    out.push(read(params))
  }
  tf.dispose([params.w, params.b])
  disposeState(state)
  return out
}

/**
 * torch.optim.AdamW written out in plain numbers, element by element, for steps t = 1, 2, ...
 * with learning rate lrs[t-1] at step t:
 *   p ← p·(1 − lr·wd)
 *   m ← b1·m + (1−b1)·g;  v ← b2·v + (1−b2)·g²
 *   p ← p − lr · (m / (1−b1^t)) / (√(v / (1−b2^t)) + eps)
 * wd(leaf) says the decay of each leaf (0 for plain Adam).
 */
const adamwByHand = (lrs: readonly number[], b1: number, b2: number, eps: number, wd: (leaf: string) => number): Record<string, number[]>[] => {
  const p = plainFlat(P)
  for (const k of Object.keys(p)) p[k] = f32(p[k])
  const m: Record<string, number[]> = { w: [0, 0, 0, 0], b: [0, 0] }
  const v: Record<string, number[]> = { w: [0, 0, 0, 0], b: [0, 0] }
  const out: Record<string, number[]>[] = []
  lrs.forEach((lr, i) => {
    const t = i + 1
    const g = plainFlat(G[i])
    for (const k of Object.keys(p)) {
      const gk = f32(g[k])
      p[k] = p[k].map((x, j) => {
        const decayed = x * (1 - lr * wd(k))
        m[k][j] = b1 * m[k][j] + (1 - b1) * gk[j]
        v[k][j] = b2 * v[k][j] + (1 - b2) * gk[j] * gk[j]
        const mHat = m[k][j] / (1 - b1 ** t)
        const vHat = v[k][j] / (1 - b2 ** t)
        return decayed - (lr * mHat) / (Math.sqrt(vHat) + eps)
      })
    }
    out.push(Object.fromEntries(Object.entries(p).map(([k, xs]) => [k, [...xs]])))
  })
  return out
}

describe('adamw', () => {
  it('one step: p·(1 − lr·wd) − lr·g/(|g| + eps), since m̂ = g and v̂ = g² after one step', () => {
    const lr = 0.01
    const wd = 0.1
    const eps = 1e-8
    const p = plainFlat(P)
    const g = plainFlat(G[0])
    const expected = Object.fromEntries(
      Object.keys(p).map((k) => [
        k,
        f32(p[k]).map((x, j) => {
          const gj = Math.fround(g[k][j])
          return x * (1 - lr * wd) - (lr * gj) / (Math.abs(gj) + eps)
        }),
      ]),
    )
    const [after] = trajectory(adamw({ lr, weightDecay: wd, eps }), G.slice(0, 1))
    expectClose(after, expected)
    // A concrete number: w[0][0] = 0.5·(1 − 0.001) − 0.01·0.1/(0.1 + 1e-8) ≈ 0.4895
    expect(after.w[0]).toBeCloseTo(0.4995 - 0.01, 6)
  })

  it('three steps equal torch.optim.AdamW written out by hand (default betas, wd 0.01)', () => {
    const got = trajectory(adamw({ lr: 0.01 }), G)
    const want = adamwByHand([0.01, 0.01, 0.01], 0.9, 0.999, 1e-8, () => 0.01)
    got.forEach((g, i) => expectClose(g, want[i]))
  })

  it('three steps with strong weight decay and other betas', () => {
    const got = trajectory(adamw({ lr: 0.05, b1: 0.8, b2: 0.95, eps: 1e-6, weightDecay: 0.5 }), G)
    const want = adamwByHand([0.05, 0.05, 0.05], 0.8, 0.95, 1e-6, () => 0.5)
    got.forEach((g, i) => expectClose(g, want[i]))
  })

  it("with a schedule, the decay at each step uses that step's scheduled lr", () => {
    // HF linear warmup (1 step) then decay to 0 at step 3: lr(0) = 0, lr(1) = 0.01, lr(2) = 0.005
    const schedule = (step: number) => (step < 1 ? step / 1 : Math.max(0, (3 - step) / 2)) * 0.01
    const got = trajectory(adamw({ lr: schedule, weightDecay: 0.2 }), G)
    const want = adamwByHand([0, 0.01, 0.005], 0.9, 0.999, 1e-8, () => 0.2)
    got.forEach((g, i) => expectClose(g, want[i]))
    // lr 0 at the first step leaves the parameters as they were (the moments still move).
    expectClose(got[0], Object.fromEntries(Object.entries(plainFlat(P)).map(([k, xs]) => [k, f32(xs)])), 0)
  })

  it('a mask leaves the masked-out leaves undecayed (decayMatrices: w decays, b does not)', () => {
    const got = trajectory(adamw({ lr: 0.01, weightDecay: 0.3, mask: decayMatrices }), G)
    const want = adamwByHand([0.01, 0.01, 0.01], 0.9, 0.999, 1e-8, (leaf) => (leaf === 'w' ? 0.3 : 0))
    got.forEach((g, i) => expectClose(g, want[i]))
  })
})

describe('adam', () => {
  it('three steps equal torch.optim.Adam by hand (AdamW without decay)', () => {
    const got = trajectory(adam({ lr: 0.01 }), G)
    const want = adamwByHand([0.01, 0.01, 0.01], 0.9, 0.999, 1e-8, () => 0)
    got.forEach((g, i) => expectClose(g, want[i]))
  })
})

/**
 * torch.optim.SGD written out (dampening 0): buf ← μ·buf + g (buf = g at the first step),
 * p ← p − lr·buf, or p ← p − lr·(g + μ·buf) with Nesterov.
 */
const sgdByHand = (lr: number, mu: number, nesterov: boolean): Record<string, number[]>[] => {
  const p = plainFlat(P)
  for (const k of Object.keys(p)) p[k] = f32(p[k])
  const buf: Record<string, number[] | undefined> = {}
  return G.map((gi) => {
    const g = plainFlat(gi)
    for (const k of Object.keys(p)) {
      const gk = f32(g[k])
      const prev = buf[k]
      const next = prev === undefined ? [...gk] : prev.map((b, j) => mu * b + gk[j])
      buf[k] = next
      const step = nesterov ? gk.map((x, j) => x + mu * next[j]) : next
      p[k] = p[k].map((x, j) => x - lr * step[j])
    }
    return Object.fromEntries(Object.entries(p).map(([k, xs]) => [k, [...xs]]))
  })
}

describe('sgd', () => {
  it('plain: p − lr·g', () => {
    const got = trajectory(sgd({ lr: 0.1 }), G)
    got.forEach((g, i) => expectClose(g, sgdByHand(0.1, 0, false)[i]))
  })

  it('with momentum, three steps by hand', () => {
    const got = trajectory(sgd({ lr: 0.1, momentum: 0.9 }), G)
    const want = sgdByHand(0.1, 0.9, false)
    got.forEach((g, i) => expectClose(g, want[i]))
    // Step 2 of w[0][0] in numbers: buf = 0.9·0.1 + (−0.4) = −0.31; p = (0.5 − 0.01) + 0.031 = 0.521
    expect(got[1].w[0]).toBeCloseTo(0.521, 6)
  })

  it('with Nesterov momentum, three steps by hand', () => {
    const got = trajectory(sgd({ lr: 0.1, momentum: 0.9, nesterov: true }), G)
    const want = sgdByHand(0.1, 0.9, true)
    got.forEach((g, i) => expectClose(g, want[i]))
  })
})
