/**
 * A training step that runs the optimizer one parameter at a time, for models near the
 * memory limit — GPT-2 124M with AdamW on wasm, whose heap stops at 4 GiB.
 *
 * {@link trainStep} applies the optimizer to whole trees: every transformation of a chain
 * returns a full tree of updates, their intermediates live until the chain's scope ends,
 * and the new parameters are added after all of it. Measured on GPT-2 shapes, the wasm heap
 * then peaks near 18 model-sized buffers; at 124M parameters (498 MB a copy) that is far
 * past 4 GiB. Here the gradients' global norm is computed once, then for each leaf in its
 * own scope: the gradient clipped, the inner transformation's update, the new parameter; the
 * leaf's gradient is freed as soon as it is used, and with `donate` so are the leaf's old
 * parameter and optimizer state. The peak is then the state once, the gradients, and one
 * leaf's temporaries.
 *
 * The arithmetic is that of `trainStep(loss, chain(clipByGlobalNorm(maxGradNorm), inner))`
 * op for op (the specs check they agree exactly; an Adam(W) `inner` runs as one kernel a leaf
 * on wasm, optim/fused.ts, with the ops' numbers), and so is the optimizer state: the one
 * `inner.init(params)` makes for the whole tree, split by leaf for each update
 * (optim/split.ts). The inner transformation sees each parameter as the one-leaf tree
 * `{ [path]: leaf }` at its own dotted path, so a decay mask by path decays the same leaves as
 * on the whole tree, and a state from either step can continue in the other.
 */
import * as tf from '@tensorflow/tfjs-core'
import { valueAndGrad } from '../core/grad.js'
import type { Key } from '../core/key.js'
import { training } from '../core/layer.js'
import { scoped, tensorsIn } from '../core/scope.js'
import { fromLeaves, leaves } from '../core/tree.js'
import type { GradientTransformation } from '../optim/base.js'
import { updateAndApply } from '../optim/fused.js'
import { leafTree, splitState } from '../optim/split.js'
import { clipFactor, globalNorm } from '../optim/transforms.js'
import type { LossFn, StepFn, StepResult, TrainState } from './step.js'

/** Options of {@link leafwiseStep}. */
export interface LeafwiseOptions {
  /** Clip the gradients to this global norm first (PyTorch's clip_grad_norm_ rule); 0 or absent: no clipping. */
  readonly maxGradNorm?: number
  /**
   * Donate the input state (JAX's `donate_argnums`): the step disposes each old parameter and
   * its optimizer state as soon as their successors exist, so the old and the new state never
   * coexist in full. The caller must not use the state it passed in afterwards — even when
   * the step throws (the trainer replaces it with the result, as usual). Default false.
   */
  readonly donate?: boolean
}

/** A leafwise step and the initial optimizer state for it. */
export interface Leafwise<P, B, S> {
  /** The inner transformation's state for the whole tree (`inner.init(params)`). */
  readonly init: (params: P) => S
  readonly step: StepFn<P, B, S>
}

/**
 * The step `trainStep(loss, chain(clipByGlobalNorm(maxGradNorm), inner))` computes, one
 * parameter at a time (see the module comment), with its `init`. Use with `stepTrainer` or
 * `fitWith`.
 */
export const leafwiseStep = <P, B, S>(loss: LossFn<P, B>, inner: GradientTransformation<S>, options: LeafwiseOptions = {}): Leafwise<P, B, S> => {
  const maxNorm = options.maxGradNorm ?? 0
  const donate = options.donate === true
  if (!(Number.isFinite(maxNorm) && maxNorm >= 0)) throw new RangeError(`leafwiseStep: maxGradNorm must be a finite number >= 0, got ${maxNorm}`)
  return {
    init: (params) => inner.init(params),
    step: (state: TrainState<P, S>, batch: B, key: Key): StepResult<P, S> =>
      scoped(() => {
        const split = splitState(state.opt, state.params, 'leafwiseStep')
        const { value, grads } = valueAndGrad((p: P) => loss(p, batch, training(key)))(state.params)
        const gs = leaves(grads)
        const ps = leaves(state.params)
        // clipByGlobalNorm's factor, the same function.
        const factor = maxNorm > 0 ? tf.tidy(() => clipFactor(globalNorm(gs), maxNorm)) : undefined
        const params: tf.Tensor[] = new Array<tf.Tensor>(ps.length)
        const opt: S[] = new Array<S>(ps.length)
        // Last leaf first: the first leaves of a model are its embeddings, the largest; by the
        // time they are updated most gradients (and, donating, most of the old state) are freed.
        for (let i = ps.length - 1; i >= 0; i--) {
          const p = ps[i]
          const path = split.paths[i]
          const old = split.leaf(i)
          const [next, s] = scoped(() => {
            const g = factor === undefined ? gs[i] : tf.mul(gs[i], factor)
            if (g !== gs[i]) gs[i].dispose() // this step owns the gradients: free each once used
            // one kernel for an Adam(W) chain on wasm (optim/fused.ts), else the update and the add
            const [next, s] = updateAndApply(inner, leafTree(path, g), old, leafTree(path, p))
            g.dispose()
            return [next[path], s] as const
          })
          if (donate) {
            p.dispose()
            tf.dispose(tensorsIn(old).filter((t) => !tensorsIn(s).includes(t)))
          }
          params[i] = next
          opt[i] = s
        }
        factor?.dispose()
        return { state: { params: fromLeaves(state.params, params), opt: split.join(opt) }, loss: value }
      }),
  }
}
