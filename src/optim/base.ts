/**
 * The optimizer abstraction, after Optax: a gradient transformation is a pair of pure
 * functions, `init(params) → state` and `update(updates, state, params?) → [updates, state]`.
 * An optimizer is a chain of small transformations (clip, Adam scaling, weight decay, learning
 * rate), and the new parameters are `applyUpdates(params, updates)`.
 *
 * ## State is a value
 *
 * A state is a readonly record (or, for {@link chain}, a readonly tuple of records) of tensor
 * trees and plain numbers such as the step count. Nothing is mutated: `update` returns a new
 * state. The step count stays a JavaScript number so schedules and Adam's bias correction cost
 * nothing on the device and `update` never reads tensors back to the host.
 *
 * ## Who disposes what (the ownership rule)
 *
 * - `update` never disposes its inputs (updates, state, params), and disposes every tensor it
 *   makes along the way except the ones it returns.
 * - Everything `update` returns is a fresh tensor object: never one of its inputs, never shared
 *   between the returned updates and the returned state (an unchanged leaf is a `tf.clone`,
 *   which shares the data without copying it). So the caller can dispose inputs and outputs
 *   independently.
 * - The caller owns the old state and disposes it (with {@link disposeState}) once it has the
 *   new one; the usual owner is a training step that runs in `tf.tidy` and keeps only the new
 *   parameters and the new state:
 *
 * @example
 * const opt = adamw({ lr: 1e-3 })
 * let state = opt.init(params)
 * // every step:
 * const [nextParams, nextState] = tf.tidy(() => {
 *   const grads = gradientsOf(params)                 // intermediates die with the tidy
 *   const [updates, s] = opt.update(grads, state, params)
 *   return [applyUpdates(params, updates), s]
 * })
 * tree.dispose(params); disposeState(state)
 * params = nextParams; state = nextState
 */
import * as tf from '@tensorflow/tfjs-core'
import { scoped, tensorsIn } from '../core/scope.js'
import { map, zipWith } from '../core/tree.js'

/**
 * A gradient transformation: `init` makes the state from the parameters, `update` turns
 * updates (gradients, at the head of a chain) into new updates and a new state. `params` is
 * needed only by transformations that read the parameters (weight decay). Updates keep the
 * structure of the tree they were given. See the module comment for the ownership rule.
 */
export interface GradientTransformation<S> {
  /** The initial state for parameters `params` (their values are not kept, only shapes). */
  readonly init: <T>(params: T) => S
  /** New updates and the new state; pure, disposes none of its inputs. */
  readonly update: <T>(updates: T, state: S, params?: T) => readonly [T, S]
  /**
   * What the library's own transformations compute, for a backend that runs a whole chain as
   * one kernel (optim/fused.ts); absent on transformations written elsewhere, which always run
   * as written.
   */
  readonly recipe?: Recipe
}

/**
 * A transformation of this module's and transforms.ts's described by its kind and
 * hyper-parameters (a chain by its parts' recipes, `undefined` for a part without one).
 */
export type Recipe =
  | { readonly kind: 'clipByGlobalNorm'; readonly maxNorm: number }
  | { readonly kind: 'scaleByAdam'; readonly b1: number; readonly b2: number; readonly eps: number }
  | { readonly kind: 'addDecayedWeights'; readonly weightDecay: number; readonly mask?: (path: string, param: tf.Tensor) => boolean }
  | { readonly kind: 'scaleByLearningRate'; readonly lr: number | ((step: number) => number) }
  | { readonly kind: 'chain'; readonly parts: readonly (Recipe | undefined)[] }

/** The state of a transformation that keeps none. */
export type EmptyState = Readonly<Record<string, never>>

/** The state of a transformation that only counts its updates (0 before the first). */
export interface CountState {
  /** Updates made so far. */
  readonly count: number
}

/** The shared {@link EmptyState} value. */
export const emptyState: EmptyState = Object.freeze({})

/** A fresh tensor object for every leaf, sharing data without copying it (see the ownership rule). */
export const cloneTree = <T>(tree: T): T => map(tree, (x) => tf.clone(x)) as unknown as T

/**
 * Applies a chain of transformations in order: the updates of one are the input of the next,
 * and the state is the tuple of their states. Order matters: `chain(clipByGlobalNorm(1),
 * scaleByAdam(...))` clips the gradients, `chain(scaleByAdam(...), clipByGlobalNorm(1))` clips
 * Adam's output. Intermediate updates are disposed inside `update`.
 */
export const chain = <Ss extends readonly unknown[]>(...transforms: { readonly [K in keyof Ss]: GradientTransformation<Ss[K]> }): GradientTransformation<Readonly<Ss>> => {
  const ts = transforms as unknown as readonly GradientTransformation<unknown>[]
  return Object.freeze({
    recipe: { kind: 'chain' as const, parts: ts.map((t) => t.recipe) },
    init: <T>(params: T) => Object.freeze(ts.map((t) => t.init(params))) as unknown as Ss,
    update: <T>(updates: T, state: Ss, params?: T) =>
      scoped(() => {
        if (!Array.isArray(state) || state.length !== ts.length) {
          throw new Error(
            `chain: the state has ${Array.isArray(state) ? `${state.length} parts` : 'no parts'} but the chain has ` +
              `${ts.length} transformations (make the state with this chain's init)`,
          )
        }
        if (ts.length === 0) return [cloneTree(updates), state] as const
        let u = updates
        const next: unknown[] = []
        ts.forEach((t, i) => {
          const [ui, si] = t.update(u, state[i], params)
          // The previous transformation's output is consumed: free it now, not at the end of
          // the chain (fresh outputs never alias their inputs, so nothing else holds it).
          if (u !== updates) tf.dispose(tensorsIn(u))
          u = ui
          next.push(si)
        })
        return [u, Object.freeze(next) as unknown as Ss] as const
      }),
  })
}

/** The new parameters `params + updates`, leaf by leaf (the trees must have the same structure). */
export const applyUpdates = <T>(params: T, updates: T): T => zipWith(params, updates, (p, u) => tf.add(p, u)) as unknown as T

/**
 * Disposes every tensor in an optimizer state and ignores its numbers: the owner of a state
 * calls this once it has the next one. (`dispose` from core/tree is for parameter
 * trees, whose leaves must all be tensors.)
 */
export const disposeState = (state: unknown): void => tf.dispose(state as tf.TensorContainer)
