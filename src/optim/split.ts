/**
 * An optimizer state split by parameter leaf, so that a transformation can run one leaf at a
 * time (train/leafwise.ts) with the state layout it has on the whole tree.
 *
 * A transformation keeps its tensors in trees shaped like the parameters (Adam's `mu` and
 * `nu`, the momentum trace) and plain numbers beside them (step counts). The state of leaf `i`
 * is the same layout with each of those trees replaced by the one-leaf tree `{ [path]: leaf }`,
 * where `path` is the leaf's dotted path in the parameters: the transformation, given the
 * parameter and its gradient as `{ [path]: x }` too, sees every leaf at its own path, so a mask
 * by path picks the same leaves as on the whole tree. Joining the leaves' new states gives the
 * whole tree's new state, the layout `init(params)` makes.
 */
import * as tf from '@tensorflow/tfjs-core'
import { flatten, fromLeaves, leaves } from '../core/tree.js'

/** A state split by leaf (see the module comment). */
export interface SplitState<S> {
  /** The dotted paths of the parameter leaves, in `tree.leaves` order. */
  readonly paths: readonly string[]
  /** The state of leaf `i`: its tensors are the whole state's, not copies. */
  readonly leaf: (i: number) => S
  /** The whole state from every leaf's new state, in leaf order. */
  readonly join: (states: readonly S[]) => S
}

/** The one-leaf tree `{ [path]: x }` a transformation is given for the leaf at `path`. */
export const leafTree = (path: string, x: tf.Tensor): { readonly [path: string]: tf.Tensor } => Object.freeze({ [path]: x })

type Layout =
  | { readonly kind: 'tree'; readonly leaves: readonly tf.Tensor[] }
  | { readonly kind: 'array'; readonly items: readonly Layout[] }
  | { readonly kind: 'record'; readonly entries: readonly (readonly [string, Layout])[] }
  | { readonly kind: 'value'; readonly value: unknown }

const isRecord = (x: unknown): x is Readonly<Record<string, unknown>> => x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof tf.Tensor)

/** Whether `node` is a tensor tree of exactly the structure and shapes of `like`. */
const shapedLike = (node: unknown, like: unknown): boolean => {
  if (like instanceof tf.Tensor) return node instanceof tf.Tensor && node.rank === like.rank && node.shape.every((d: number, i: number) => d === like.shape[i])
  if (Array.isArray(like)) return Array.isArray(node) && node.length === like.length && like.every((c, i) => shapedLike(node[i], c))
  if (!isRecord(like) || !isRecord(node)) return false
  const ks = Object.keys(like)
  return Object.keys(node).length === ks.length && ks.every((k) => k in node && shapedLike(node[k], like[k]))
}

const at = (path: string, k: string) => (path === '' ? k : `${path}.${k}`)

/**
 * Splits `state` by the leaves of `params` (see the module comment). Throws, naming `who` and
 * the place, when the state has a tensor outside every tree shaped like the parameters: a
 * state made for other parameters, or a transformation whose state is not kept per leaf.
 */
export const splitState = <S>(state: S, params: unknown, who: string): SplitState<S> => {
  const paths = [...flatten(params).keys()]
  if (paths.length === 0) throw new Error(`${who}: the parameters have no tensors to update`)
  const layoutOf = (node: unknown, where: string): Layout => {
    if (shapedLike(node, params)) return { kind: 'tree', leaves: leaves(node) }
    if (node instanceof tf.Tensor) {
      throw new Error(
        `${who}: the optimizer state has a tensor at '${where || '<root>'}' outside every tree shaped like the parameters, so it cannot be ` +
          'split by leaf (make the state with init, for these parameters)',
      )
    }
    if (Array.isArray(node)) return { kind: 'array', items: node.map((c, i) => layoutOf(c, at(where, String(i)))) }
    if (isRecord(node)) return { kind: 'record', entries: Object.entries(node).map(([k, v]) => [k, layoutOf(v, at(where, k))] as const) }
    return { kind: 'value', value: node }
  }
  const layout = layoutOf(state, '')

  const leafAt = (l: Layout, i: number): unknown => {
    switch (l.kind) {
      case 'tree':
        return leafTree(paths[i], l.leaves[i])
      case 'array':
        return Object.freeze(l.items.map((c) => leafAt(c, i)))
      case 'record':
        return Object.freeze(Object.fromEntries(l.entries.map(([k, c]) => [k, leafAt(c, i)])))
      case 'value':
        return l.value
    }
  }

  const joinAt = (l: Layout, parts: readonly unknown[], where: string): unknown => {
    switch (l.kind) {
      case 'tree':
        return fromLeaves(
          params,
          parts.map((p, i) => {
            const ls = leaves(p)
            if (ls.length !== 1) throw new Error(`${who}: leaf ${paths[i]}'s new state has ${ls.length} tensors at '${where || '<root>'}', expected 1`)
            return ls[0]
          }),
        )
      case 'array':
        return Object.freeze(
          l.items.map((c, k) =>
            joinAt(
              c,
              parts.map((p) => (p as readonly unknown[])[k]),
              at(where, String(k)),
            ),
          ),
        )
      case 'record':
        return Object.freeze(
          Object.fromEntries(
            l.entries.map(([k, c]) => [
              k,
              joinAt(
                c,
                parts.map((p) => (p as Readonly<Record<string, unknown>>)[k]),
                at(where, k),
              ),
            ]),
          ),
        )
      case 'value': {
        const v = parts[0]
        const other = parts.findIndex((p) => !Object.is(p, v))
        if (other >= 0)
          throw new Error(`${who}: the leaves' new states disagree at '${where || '<root>'}' (${String(v)} for ${paths[0]}, ${String(parts[other])} for ${paths[other]})`)
        return v
      }
    }
  }

  return Object.freeze({
    paths,
    leaf: (i: number) => leafAt(layout, i) as S,
    join: (states: readonly S[]) => {
      if (states.length !== paths.length) throw new Error(`${who}: ${states.length} leaf states for ${paths.length} parameters`)
      return joinAt(layout, states, '') as S
    },
  })
}
