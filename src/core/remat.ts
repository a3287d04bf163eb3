/**
 * Rematerialisation (JAX's `jax.checkpoint` / `remat`): compute a function's value without
 * keeping its intermediates, and recompute them in the backward pass.
 *
 * tfjs keeps every intermediate of a taped forward pass, and every intermediate's gradient,
 * until backpropagation ends. For a transformer that is tens of megabytes per block at a
 * modest batch — GPT-2 124M at 8 × 32 tokens: ~90 MB a block, over a gigabyte for the 12 —
 * on top of the weights, the gradients and the optimizer state, past wasm's 4 GiB heap. A
 * rematerialised block keeps only its input; its backward pass runs the block again under
 * its own gradient tape and frees everything but the gradients. The price is one more
 * forward pass of each block (about a third more compute for a training step).
 *
 * `f` must be a pure function of its arguments and what it closes over (dropout drawn from
 * a key is: the recomputation draws the same masks).
 */
import * as tf from '@tensorflow/tfjs-core'
import { withActiveTapeRestored } from './tfjs-internals.js'
import { fromLeaves, leaves } from './tree.js'

type CustomGradFn = Parameters<typeof tf.customGrad>[0]

/**
 * `f` with the same value and gradients (for `x` and every leaf of `params`), whose
 * intermediates are recomputed in the backward pass instead of kept. Use it around the
 * blocks of a deep model when training runs out of memory.
 *
 * Tensors `f` needs besides `x` and `params` (a mask) must come in `aux`, not from its
 * closure: the gradient tape disposes a forward pass's intermediates when the forward pass
 * ends, so the recomputation could not use them; `aux` is kept for it (and gets no gradient).
 */
export const remat =
  <P, A = undefined, T extends tf.Tensor = tf.Tensor>(f: (x: T, params: P, aux: A) => T) =>
  (x: T, params: P, aux?: A): T => {
    const np = leaves(params).length
    const call = (xs: readonly tf.Tensor[]) => f(xs[0] as T, fromLeaves(params, xs.slice(1, 1 + np)), (aux === undefined ? aux : fromLeaves(aux, xs.slice(1 + np))) as A)
    const op = tf.customGrad(((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc
      const inputs = args.slice(0, -1) as tf.Tensor[]
      save(inputs)
      return {
        value: call(inputs),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          withActiveTapeRestored(() => {
            const grads = tf.grads((...xs: tf.Tensor[]) => call([...xs, ...saved.slice(1 + np)]))(saved.slice(0, 1 + np), dy)
            return [...grads, ...saved.slice(1 + np).map((a) => tf.zerosLike(a))]
          }),
      }
    }) as unknown as CustomGradFn) as unknown as (...xs: tf.Tensor[]) => T
    return op(x, ...leaves(params), ...(aux === undefined ? [] : leaves(aux)))
  }
