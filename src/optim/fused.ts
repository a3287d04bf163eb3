/**
 * Optimizer chains run as one kernel: where the backend has it (wasm: backend/simd/adam-tree.ts),
 * `chain([clipByGlobalNorm,] scaleByAdam, [addDecayedWeights,] scaleByLearningRate)` — `adam`,
 * `adamw`, and either behind a gradient clip, as the seed recipe's optimizer is — applied to a
 * whole tree in one pass: the new parameters and the new state, what
 * `applyUpdates(params, update(grads, state, params)[0])` and its state would be.
 *
 * The chain is recognised from its transformations' recipes (base.ts): the library's own
 * transformations describe themselves; any other transformation, or another order, runs op by
 * op as written. The kernel does the transformations' float32 operations in their order (the
 * clip factor's sums too), so on wasm its parameters and moments equal the ops'.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { adamTreeKernel } from '../backend/simd/adam-tree.js'
import { flatten, fromLeaves } from '../core/tree.js'
import { applyUpdates, type CountState, type GradientTransformation, type Recipe } from './base.js'
import { ADD_N_INPUTS, type ScaleByAdamState } from './transforms.js'

type Part = Exclude<Recipe, { readonly kind: 'chain' }>

/** A chain's transformations in order, each with its part of the state; undefined where one has no recipe or the state does not fit. */
const partsOf = (recipe: Recipe | undefined, state: unknown): { readonly part: Part; readonly state: unknown }[] | undefined => {
  if (recipe === undefined) return undefined
  if (recipe.kind !== 'chain') return [{ part: recipe, state }]
  if (!Array.isArray(state) || state.length !== recipe.parts.length) return undefined
  const out: { readonly part: Part; readonly state: unknown }[] = []
  for (let i = 0; i < recipe.parts.length; i++) {
    const inner = partsOf(recipe.parts[i], state[i])
    if (inner === undefined) return undefined
    out.push(...inner)
  }
  return out
}

/** The state a chain's recipe and the new states of its parts (in order) make: the chain's tuples rebuilt around them. */
const rebuild = (recipe: Recipe, state: unknown, next: unknown[]): unknown => {
  if (recipe.kind !== 'chain') return next.shift()
  const parts = state as readonly unknown[]
  return Object.freeze(recipe.parts.map((r, i) => rebuild(r as Recipe, parts[i], next)))
}

const isCount = (s: unknown): s is CountState => typeof s === 'object' && s !== null && typeof (s as CountState).count === 'number'

/**
 * The new parameters and state of `transformation` applied to `grads` at `params` by one
 * kernel, or `undefined` where it cannot be (not a chain of the kinds above, or a backend
 * without the kernel): the caller then runs `update` and `applyUpdates`.
 */
export const fusedApply = <T, S>(transformation: GradientTransformation<S>, grads: T, state: S, params: T): readonly [T, S] | undefined => {
  const parts = partsOf(transformation.recipe, state)
  if (parts === undefined) return undefined
  const kinds = parts.map((p) => p.part.kind).join(' ')
  if (!/^(clipByGlobalNorm )?scaleByAdam (addDecayedWeights )?scaleByLearningRate$/.test(kinds)) return undefined
  const find = <K extends Part['kind']>(kind: K) => parts.find((p) => p.part.kind === kind) as { readonly part: Extract<Part, { kind: K }>; readonly state: unknown } | undefined
  const adam = find('scaleByAdam')
  const lr = find('scaleByLearningRate')
  const clip = find('clipByGlobalNorm')
  const decay = find('addDecayedWeights')
  if (adam === undefined || lr === undefined || !isCount(adam.state) || !isCount(lr.state)) return undefined
  const adamState = adam.state as ScaleByAdamState
  const lrCount = lr.state.count
  const rate = typeof lr.part.lr === 'function' ? lr.part.lr(lrCount) : lr.part.lr
  // A schedule's bad value: the ops path reports it (scaleByLearningRate's message).
  if (!(Number.isFinite(rate) && rate >= 0)) return undefined
  const ps = flatten<tf.Tensor>(params)
  const gs = [...flatten<tf.Tensor>(grads).values()]
  const mus = [...flatten<tf.Tensor>(adamState.mu).values()]
  const nus = [...flatten<tf.Tensor>(adamState.nu).values()]
  if (gs.length !== ps.size || mus.length !== ps.size || nus.length !== ps.size) return undefined
  const { b1, b2, eps } = adam.part
  const count = adamState.count + 1
  const rootBc2 = Math.sqrt(1 - b2 ** count)
  const weightDecay = decay?.part.weightDecay ?? 0
  const mask = decay?.part.mask
  const leaves = [...ps].map(([path, param], i) => ({ grad: gs[i], param, mu: mus[i], nu: nus[i], decay: weightDecay > 0 && (mask === undefined || mask(path, param)) }))
  const out = adamTreeKernel(leaves, {
    maxNorm: clip?.part.maxNorm ?? 0,
    addNInputs: ADD_N_INPUTS,
    b1,
    oneMinusB1: 1 - b1,
    b2,
    oneMinusB2: 1 - b2,
    stepSize: rootBc2 / (1 - b1 ** count),
    epsHat: eps * rootBc2,
    weightDecay,
    lr: rate,
  })
  if (out === undefined) return undefined
  const next = parts.map(({ part, state: s }) =>
    part.kind === 'scaleByAdam'
      ? Object.freeze({ count, mu: fromLeaves(adamState.mu, out.mu), nu: fromLeaves(adamState.nu, out.nu) })
      : part.kind === 'scaleByLearningRate'
        ? Object.freeze({ count: lrCount + 1 })
        : s,
  )
  return [fromLeaves(params, out.params), rebuild(transformation.recipe as Recipe, state, next) as S]
}

/**
 * The new parameters and optimizer state of one step: `applyUpdates(params, update(grads,
 * state, params)[0])` and the new state, by one kernel where {@link fusedApply} can (an Adam(W)
 * chain on wasm), else by the transformations op by op. The same numbers either way.
 */
export const updateAndApply = <T, S>(transformation: GradientTransformation<S>, grads: T, state: S, params: T): readonly [T, S] => {
  const fused = fusedApply(transformation, grads, state, params)
  if (fused !== undefined) return fused
  const [updates, next] = transformation.update(grads, state, params)
  return [applyUpdates(params, updates), next]
}
