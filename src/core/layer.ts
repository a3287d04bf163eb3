/**
 * Layers as values: a pair of pure functions, and the combinators that compose them.
 *
 * A {@link Layer} is `init(key) → params` and `apply(params, input, ctx) → output`. It holds
 * no state: parameters are a typed tree (src/core/tree.ts) passed in on every call, so the
 * same layer value serves any number of models, and training is just computing new trees.
 * The context says whether we are training (dropout on), carries the key dropout draws from,
 * and says where the layer sits: a combinator runs each sub-layer under the context {@link at}
 * the path where it binds it (`layers.0.attn.W_q`, the same path as the sub-layer's
 * parameters), so names in error messages and dropout streams both come from tree paths.
 *
 * Inside {@link compose}, sub-layers come bound to their parameters and context, so a body
 * reads like nanoGPT's `forward`: `x = x + attn(ln_1(x))`.
 *
 * @example
 * const mlp = sequential(linear(64, 256), gelu(), linear(256, 64))
 * const params = mlp.init(key(0))           // readonly [{ weight, bias }, {}, { weight, bias }]
 * const y = mlp.apply(params, x, EVAL)      // pure: same inputs, same output, same rank
 */
import type * as tf from '@tensorflow/tfjs-core'
import { pipe } from 'fp-ts/lib/function.js'
import { foldIn, split, type Key } from './key.js'

/** What a layer may need besides its parameters and input: the mode, a dropout key, where it sits. */
export interface Ctx {
  /** Training mode: dropout active. */
  readonly training: boolean
  /** Key for the randomness of this call (dropout). Required when training with dropout. */
  readonly key?: Key
  /**
   * Where the layer being applied sits in the model: the dotted path at which the combinators
   * bound it (`layers.0.attn.W_q`), its parameters' path. Absent at the root of a call.
   */
  readonly path?: string
}

/** The evaluation context: no dropout, no key needed. */
export const EVAL: Ctx = Object.freeze({ training: false })

/** A training context drawing its randomness from `key`. */
export const training = (key: Key): Ctx => Object.freeze({ training: true, key })

const INDEX = /^(0|[1-9]\d*)$/

/**
 * The integer a path segment is folded into a key with: an index as itself (`0`, `'3'`), a
 * name as its 32-bit FNV-1a hash. Siblings are all indices (an array) or all names (a record,
 * whose hashes {@link compose} checks are distinct), so siblings never share an id.
 */
export const segmentId = (segment: string | number): number => {
  if (typeof segment === 'number') return segment
  if (INDEX.test(segment)) return Number(segment)
  let h = 0x811c9dc5
  for (let i = 0; i < segment.length; i++) h = Math.imul(h ^ segment.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/**
 * The context of what sits at `relative` (a segment, or a dotted path of several) below the
 * layer applied under `ctx`: the same mode, the path extended (`layers` then `0` gives
 * `layers.0`), the key folded with each segment's {@link segmentId} in turn. The randomness of
 * a layer is thus a function of the step's key and its path alone: `at(at(ctx, 'ff'), 'net')`
 * is `at(ctx, 'ff.net')`, whichever combinators got it there.
 */
export const at = (ctx: Ctx, relative: string | number): Ctx => {
  const path = ctx.path === undefined || ctx.path === '' ? String(relative) : `${ctx.path}.${relative}`
  if (ctx.key === undefined) return Object.freeze({ training: ctx.training, path })
  const segments = typeof relative === 'number' ? [relative] : relative.split('.')
  return Object.freeze({ training: ctx.training, key: segments.reduce<Key>((k, s) => foldIn(k, segmentId(s)), ctx.key), path })
}

/** What an error of a layer names: its path in the model, or `name` (the layer's kind) at the root of a call. */
export const nameAt = (ctx: Ctx, name: string): string => (ctx.path === undefined || ctx.path === '' ? name : ctx.path)

/**
 * A layer: parameters from a key alone, and a pure function of (params, input, ctx).
 *
 * `init` makes the float parameters P; `apply` reads a tree of P's structure whose leaves may
 * come in any form A the layer reads (A defaults to P). The layers of nn/ read a matrix leaf
 * float or quantized (src/quant), so one model runs either tree through the same code.
 */
export interface Layer<P, In, Out, A = P> {
  /** What the layer is (`linear`, `repeat(2, compose)`): the name its errors give at the root of a call or when it is built; below the root they give its path ({@link nameAt}). */
  readonly name: string
  readonly init: (key: Key) => P
  readonly apply: (params: A, input: In, ctx: Ctx) => Out
}

/**
 * A layer that maps a tensor to a tensor of the same rank (linear, layerNorm, activations,
 * dropout): applied to a `Tensor3D` it returns a `Tensor3D`, with no cast at the call site.
 */
export interface TensorLayer<P, A = P> extends Layer<P, tf.Tensor, tf.Tensor, A> {
  readonly apply: <R extends tf.Rank>(params: A, input: tf.Tensor<R>, ctx: Ctx) => tf.Tensor<R>
}

/** Any layer, whatever its parameters and types (the constraint of the combinators' arguments). */
export interface AnyLayer {
  readonly name: string
  readonly init: (key: Key) => unknown
  readonly apply: (params: never, input: never, ctx: Ctx) => unknown
}

/** The parameter type of a layer (what its `init` makes). */
export type ParamsOf<L> = L extends { readonly init: (key: Key) => infer P } ? P : never

/** The parameter tree a layer's `apply` reads: {@link ParamsOf}'s structure, each leaf in any form the layer takes. */
export type ApplyParamsOf<L> = L extends { readonly apply: (params: infer A, input: never, ctx: Ctx) => unknown } ? A : never

/** The input type of a layer. */
export type InputOf<L> = L extends { readonly apply: (params: never, input: infer I, ctx: Ctx) => unknown } ? I : never

/** The output type of a layer. */
export type OutputOf<L> = L extends { readonly apply: (params: never, input: never, ctx: Ctx) => infer O } ? O : never

/** What a rank-preserving layer ({@link TensorLayer}) has, whatever its parameters. */
interface RankPreserving {
  readonly apply: <R extends tf.Rank>(params: never, input: tf.Tensor<R>, ctx: Ctx) => tf.Tensor<R>
}

/** A layer bound to its parameters and context: a function of its input alone (rank-preserving for a {@link TensorLayer}). */
export type Bound<L> = L extends RankPreserving ? <R extends tf.Rank>(x: tf.Tensor<R>) => tf.Tensor<R> : (x: InputOf<L>) => OutputOf<L>

/** A record of layers bound to their parameters (what a {@link compose} body receives). */
export type BoundRecord<S> = { readonly [K in keyof S]: Bound<S[K]> }

/** Binds a layer to its parameters and context: `bind(linear, p, ctx)(x)` is `linear.apply(p, x, ctx)`. */
export const bind = <L extends AnyLayer>(layer: L, params: ApplyParamsOf<L>, ctx: Ctx): Bound<L> => {
  const apply = layer.apply as (params: ApplyParamsOf<L>, input: unknown, ctx: Ctx) => unknown
  return ((x: unknown) => apply(params, x, ctx)) as Bound<L>
}

/** The empty parameter record of a parameter-free layer (it flattens to no paths). */
export type NoParams = Readonly<Record<string, never>>
/** The one empty parameter record. */
export const NO_PARAMS: NoParams = Object.freeze({})

/** A layer without parameters, from a pure function (activations, reshapes, dropout). */
export const stateless = <In, Out>(name: string, f: (x: In, ctx: Ctx) => Out): Layer<NoParams, In, Out> => ({
  name,
  init: () => NO_PARAMS,
  apply: (_p, x, ctx) => f(x, ctx),
})

/** Renames a layer (a model's root, for its messages) without changing what it computes. */
export const named = <P, In, Out, A>(name: string, layer: Layer<P, In, Out, A>): Layer<P, In, Out, A> => ({ ...layer, name })

/** The parameter tuple of a tuple of layers. */
export type TupleParams<Ls> = { readonly [K in keyof Ls]: ParamsOf<Ls[K]> }

/** The tuple a tuple of layers' `apply` reads. */
export type TupleApplyParams<Ls> = { readonly [K in keyof Ls]: ApplyParamsOf<Ls[K]> }

type Last<Ls extends readonly unknown[]> = Ls extends readonly [...unknown[], infer L] ? L : never

/** What {@link sequential} makes of its layers: rank-preserving when each of them is. */
export type Sequential<Ls extends readonly AnyLayer[]> = Ls extends readonly RankPreserving[]
  ? TensorLayer<TupleParams<Ls>, TupleApplyParams<Ls>>
  : Layer<TupleParams<Ls>, InputOf<Ls[0]>, OutputOf<Last<Ls>>, TupleApplyParams<Ls>>

/**
 * Layers applied one after another, like PyTorch's `nn.Sequential`: the parameters are a
 * readonly tuple with one entry per layer (`{}` for a parameter-free one), typed entry by
 * entry, so the tree flattens to `net.0.weight`, `net.3.bias`… exactly as PyTorch numbers
 * them. Layer i runs under `at(ctx, i)`.
 */
export const sequential = <const Ls extends readonly AnyLayer[]>(...layers: Ls): Sequential<Ls> => {
  const steps = layers as readonly AnyLayer[] as readonly Layer<unknown, unknown, unknown>[]
  const layer: Layer<readonly unknown[], unknown, unknown> = {
    name: 'sequential',
    init: (key) => {
      const keys = split(key, Math.max(steps.length, 1))
      return Object.freeze(steps.map((l, i) => l.init(keys[i])))
    },
    apply: (params, x, ctx) => steps.reduce((h, l, i) => l.apply(params[i], h, at(ctx, i)), x),
  }
  return layer as unknown as Sequential<Ls>
}

/** x + f(x): a residual connection around a layer with the same input and output type. */
export const residual = <P, T, A>(layer: Layer<P, T, T, A>, add: (a: T, b: T) => T): Layer<P, T, T, A> => ({
  name: `residual(${layer.name})`,
  init: layer.init,
  apply: (p, x, ctx) => add(x, layer.apply(p, x, ctx)),
})

/**
 * `n` copies of a layer with separate parameters, applied in order: parameters are an array
 * of n trees (flattening to `layers.0.…`, `layers.1.…`), each initialised from its own key;
 * copy i runs under `at(ctx, i)`.
 */
export const repeat = <P, T, A>(n: number, layer: Layer<P, T, T, A>): Layer<readonly P[], T, T, readonly A[]> => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`repeat(${layer.name}): n must be a non-negative integer, got ${n}`)
  return {
    name: `repeat(${n}, ${layer.name})`,
    init: (key) => (n === 0 ? Object.freeze([]) : Object.freeze(split(key, n).map(layer.init))),
    apply: (ps, x, ctx) => ps.reduce((h, p, i) => layer.apply(p, h, at(ctx, i)), x),
  }
}

/**
 * `n` copies of a layer with separate parameters (`layers.0.…`, `layers.1.…`), each applied
 * to its own input. Use it when the caller threads values through the copies itself (a
 * decoder passing activations and a per-layer cache); use {@link repeat} when each copy's
 * output is simply the next copy's input.
 */
export const replicate = <P, In, Out, A>(n: number, layer: Layer<P, In, Out, A>): Layer<readonly P[], readonly In[], readonly Out[], readonly A[]> => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`replicate(${layer.name}): n must be a non-negative integer, got ${n}`)
  return {
    name: `replicate(${n}, ${layer.name})`,
    init: (key) => (n === 0 ? Object.freeze([]) : Object.freeze(split(key, n).map(layer.init))),
    apply: (ps, xs, ctx) => {
      if (xs.length !== ps.length) throw new RangeError(`${nameAt(ctx, `replicate(${layer.name})`)}: expected ${ps.length} inputs, got ${xs.length}`)
      return ps.map((p, i) => layer.apply(p, xs[i], at(ctx, i)))
    },
  }
}

/** The parameter record of a record of layers. */
export type RecordParams<S> = { readonly [K in keyof S]: ParamsOf<S[K]> }

/** The record a record of layers' `apply` reads. */
export type RecordApplyParams<S> = { readonly [K in keyof S]: ApplyParamsOf<S[K]> }

/**
 * A layer built from a named record of sub-layers: its parameters are the record of their
 * parameters (`{ attn: …, ff: …, norm1: … }`, flattening to `attn.W_q.weight`…), each
 * initialised from its own key (keys assigned in the record's key order). `body` receives the
 * sub-layers bound to their parameters and says how they combine:
 *
 *   compose({ ln_1, attn, ln_2, mlp }, ({ ln_1, attn, ln_2, mlp }, x) => …)
 *
 * A bound sub-layer runs under the context {@link at} its name (`attn`: its path, its own
 * stream of randomness). Called more than once in one run of the body — the seed's
 * `self.dropout`, applied after the attention and after the feed-forward — its n-th call
 * (from 0) runs at `name#n` from the second on: each call draws its own dropout mask, as a
 * PyTorch module called twice does.
 */
export const compose = <S extends Readonly<Record<string, AnyLayer>>, In, Out>(
  subs: S,
  body: (layers: BoundRecord<S>, input: In, ctx: Ctx) => Out,
): Layer<RecordParams<S>, In, Out, RecordApplyParams<S>> => {
  const names = Object.keys(subs) as (keyof S & string)[]
  const ids = new Map<number, string>()
  for (const k of names) {
    const other = ids.get(segmentId(k))
    if (other !== undefined) throw new RangeError(`compose: sub-layers '${other}' and '${k}' would share a stream (rename one)`)
    ids.set(segmentId(k), k)
  }
  return {
    name: 'compose',
    init: (key) => {
      const keys = split(key, Math.max(names.length, 1))
      return Object.freeze(Object.fromEntries(names.map((k, i) => [k, subs[k].init(keys[i])]))) as RecordParams<S>
    },
    apply: (params, x, ctx) => {
      const bound = Object.fromEntries(
        names.map((k) => {
          let calls = 0
          const apply = subs[k].apply as (params: unknown, input: unknown, ctx: Ctx) => unknown
          return [k, (input: unknown) => apply(params[k], input, at(ctx, calls++ === 0 ? k : `${k}#${calls - 1}`))]
        }),
      ) as BoundRecord<S>
      return body(bound, x, ctx)
    },
  }
}

/** Applies a function to a layer's output: `map(layer, f)` computes f(layer(x)). */
export const mapOutput = <P, In, O, B, A>(layer: Layer<P, In, O, A>, f: (o: O) => B): Layer<P, In, B, A> => ({
  name: layer.name,
  init: layer.init,
  apply: (p, x, ctx) => pipe(layer.apply(p, x, ctx), f),
})
