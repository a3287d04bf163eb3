/**
 * Kernel traces: the kernel calls a function makes, recorded; a plan of them once two runs made
 * the same calls; and the plan replayed without tfjs's engine — what CUDA graphs are to a
 * PyTorch decoding loop. A GPT-2 decoding step makes ~130 kernel calls, and for each the engine
 * makes tensors, tracks them in scopes and disposes them, and the layers' code runs around it:
 * on wasm a fifth of an int8 step's time (docs/benchmarks.md). A replay calls the same kernel
 * functions on the same data, in the same order, with the same attributes: the same numbers,
 * bit for bit.
 *
 * What may change from one replay to the next is declared, not guessed: named inputs (a step's
 * token ids, its caches' buffers), bound at each replay, and the attributes that are positions
 * ({@link POSITION_ATTRIBUTES}: where a step writes the cache, how many positions it attends
 * to, which positions it embeds), which must be one apart in the two traced runs and which a
 * replay shifts by its distance from the first run. Everything else must be identical in both
 * runs — the kernels, their order, the shapes, the other attributes, the data every other input
 * came from (the weights) — or there is no plan. A replay checks that those data still exist
 * (weights a caller disposed mean no replay).
 */
import * as tf from '@tensorflow/tfjs-core'
import { asWasmBackend, engineTensor, recordKernelCalls, type KernelCall } from '../core/tfjs-internals.js'
import { ATTEND } from './simd/attend.js'
import { CACHE_WRITE, SPLIT_INTO_CACHE } from './simd/cache-blocks.js'

/**
 * The kernels' attributes that are a position in the sequence, which a decoding step's place
 * moves by one each step: a cache write's offset, the attention's count of positions, the
 * position ids' range. A replay shifts these only; any other attribute that differs between
 * the two traced runs means no plan (it could depend on the position in any other way).
 */
export const POSITION_ATTRIBUTES: ReadonlyMap<string, readonly string[]> = new Map([
  [SPLIT_INTO_CACHE, ['at']],
  [CACHE_WRITE, ['at']],
  [ATTEND, ['length']],
  ['Range', ['start', 'stop']],
])

/** A run of a function: its result and the kernel calls it made. */
export interface KernelTrace<T> {
  readonly result: T
  readonly calls: readonly KernelCall[]
}

/** Runs `f` and records the kernel calls it makes (outermost calls through the engine). */
export const traceKernels = <T>(f: () => T): KernelTrace<T> => {
  const calls: KernelCall[] = []
  const result = recordKernelCalls(f, (c) => {
    calls.push(c)
  })
  return { result, calls }
}

/** A traced run to plan from: its calls, its named inputs (data → name) and the tensors it returned, in order. */
export interface TracedRun {
  readonly calls: readonly KernelCall[]
  readonly inputs: ReadonlyMap<tf.DataId, string>
  readonly results: readonly tf.Tensor[]
}

/** Where a planned call's input comes from: an earlier call's output, a named input, or data that stays (a weight). */
type Source =
  | { readonly from: 'output'; readonly call: number; readonly index: number }
  | { readonly from: 'input'; readonly name: string }
  | { readonly from: 'constant'; readonly info: tf.TensorInfo }

/** A planned call's attribute: the same at every replay, or the first run's value plus the replay's shift. */
type Attr = { readonly fixed: tf.NamedAttrMap[string] } | { readonly base: number }

interface PlannedCall {
  readonly kernelFunc: tf.KernelFunc
  readonly inputs: readonly (readonly [string, Source])[]
  /** The call's attributes when none shifts (one object for every replay), else each attribute's rule. */
  readonly attrs: { readonly all: tf.NamedAttrMap } | { readonly rules: readonly (readonly [string, Attr])[] }
}

/** A function's kernel calls, replayable by {@link replayKernels}. */
export interface KernelPlan {
  readonly calls: readonly PlannedCall[]
  /** The data every replay reads besides its inputs and its own outputs. */
  readonly constants: readonly tf.DataId[]
  /** The outputs a replay returns, in the order of the runs' results: [call, output index]. */
  readonly results: readonly (readonly [number, number])[]
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const sameValue = (a: unknown, b: unknown): boolean => (Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => sameValue(x, b[i])) : Object.is(a, b))

const sameSource = (a: Source, b: Source): boolean =>
  a.from === 'output'
    ? b.from === 'output' && a.call === b.call && a.index === b.index
    : a.from === 'input'
      ? b.from === 'input' && a.name === b.name
      : b.from === 'constant' && a.info.dataId === b.info.dataId && sameShape(a.info.shape, b.info.shape) && a.info.dtype === b.info.dtype

/** The source of an input in a run: the latest call that output its data, else the run's input of that data, else a constant. */
const sourceOf = (info: tf.TensorInfo, produced: ReadonlyMap<tf.DataId, readonly [number, number]>, inputs: ReadonlyMap<tf.DataId, string>): Source => {
  const p = produced.get(info.dataId)
  if (p !== undefined) return { from: 'output', call: p[0], index: p[1] }
  const name = inputs.get(info.dataId)
  return name !== undefined ? { from: 'input', name } : { from: 'constant', info: { dataId: info.dataId, shape: [...info.shape], dtype: info.dtype } }
}

/**
 * The plan of two runs of one function on `backendName`, the second's position one after the
 * first's: undefined unless both made the same calls (kernels, order, shapes, sources of every
 * input, attributes equal, or one apart where they are positions) and returned the same calls'
 * outputs.
 */
export const planKernels = (first: TracedRun, second: TracedRun, backendName: string): KernelPlan | undefined => {
  if (first.calls.length !== second.calls.length || first.results.length !== second.results.length) return undefined
  // per run: the data each call output → [call, output index] (the latest call, where outputs share data)
  const producedFirst = new Map<tf.DataId, readonly [number, number]>()
  const producedSecond = new Map<tf.DataId, readonly [number, number]>()
  const calls: PlannedCall[] = []
  const constants = new Set<tf.DataId>()
  for (let i = 0; i < first.calls.length; i++) {
    const [a, b] = [first.calls[i] as KernelCall, second.calls[i] as KernelCall]
    const kernel = tf.getKernel(a.kernel, backendName)
    if (a.kernel !== b.kernel || kernel === undefined || a.outputs.length !== b.outputs.length) return undefined
    const names = Object.keys(a.inputs)
    if (!sameValue(names, Object.keys(b.inputs))) return undefined
    const inputs: (readonly [string, Source])[] = []
    for (const name of names) {
      const [x, y] = [a.inputs[name] as tf.TensorInfo, b.inputs[name] as tf.TensorInfo]
      const s = sourceOf(x, producedFirst, first.inputs)
      if (!sameShape(x.shape, y.shape) || !sameSource(s, sourceOf(y, producedSecond, second.inputs))) return undefined
      if (s.from === 'constant') constants.add(s.info.dataId)
      inputs.push([name, s])
    }
    const keys = Object.keys(a.attrs)
    if (!sameValue(keys, Object.keys(b.attrs))) return undefined
    const attrs: (readonly [string, Attr])[] = []
    for (const key of keys) {
      const [x, y] = [a.attrs[key], b.attrs[key]]
      if (sameValue(x, y)) attrs.push([key, { fixed: x as tf.NamedAttrMap[string] }])
      else if (typeof x === 'number' && typeof y === 'number' && y - x === 1 && POSITION_ATTRIBUTES.get(a.kernel)?.includes(key) === true) attrs.push([key, { base: x }])
      else return undefined
    }
    for (let o = 0; o < a.outputs.length; o++) {
      const [x, y] = [a.outputs[o] as tf.Tensor, b.outputs[o] as tf.Tensor]
      if (!sameShape(x.shape, y.shape) || x.dtype !== y.dtype) return undefined
      producedFirst.set(x.dataId, [i, o])
      producedSecond.set(y.dataId, [i, o])
    }
    const fixed = attrs.every(([, a]) => 'fixed' in a)
    calls.push({
      kernelFunc: kernel.kernelFunc,
      inputs,
      attrs: fixed ? { all: Object.freeze(Object.fromEntries(attrs.map(([k, a]) => [k, 'fixed' in a ? a.fixed : a.base]))) } : { rules: attrs },
    })
  }
  const at = (run: TracedRun, t: tf.Tensor): readonly [number, number] | undefined => {
    for (let i = 0; i < run.calls.length; i++) {
      const o = run.calls[i]?.outputs.indexOf(t) ?? -1
      if (o >= 0) return [i, o]
    }
    return undefined
  }
  const results: (readonly [number, number])[] = []
  for (let r = 0; r < first.results.length; r++) {
    const [x, y] = [at(first, first.results[r] as tf.Tensor), at(second, second.results[r] as tf.Tensor)]
    if (x === undefined || y === undefined || x[0] !== y[0] || x[1] !== y[1]) return undefined
    results.push(x)
  }
  return { calls, constants: [...constants], results }
}

/**
 * Runs a plan's kernel calls on the active backend (wasm) with its named inputs bound to `inputs` and its
 * shifting attributes moved by `shift`; returns the results as tensors of the engine (in the
 * active scope, as an op's outputs are) and frees every other output. Undefined, having run
 * nothing, when data the plan reads besides its inputs is gone.
 */
export const replayKernels = (plan: KernelPlan, inputs: ReadonlyMap<string, tf.TensorInfo>, shift: number): tf.Tensor[] | undefined => {
  const backend = tf.backend()
  const data = asWasmBackend(backend).dataIdMap
  if (!plan.constants.every((d) => data.has(d))) return undefined
  const values: tf.TensorInfo[][] = []
  const release = (keep: ReadonlySet<tf.TensorInfo>): void => {
    for (const outs of values) for (const info of outs) if (!keep.has(info)) backend.disposeData(info.dataId)
  }
  try {
    for (const call of plan.calls) {
      const args: tf.NamedTensorInfoMap = {}
      for (const [name, s] of call.inputs) args[name] = s.from === 'output' ? values[s.call]?.[s.index] : s.from === 'input' ? inputs.get(s.name) : s.info
      let attrs: tf.NamedAttrMap
      if ('all' in call.attrs) attrs = call.attrs.all
      else {
        attrs = {}
        for (const [name, a] of call.attrs.rules) attrs[name] = 'fixed' in a ? a.fixed : a.base + shift
      }
      const out = call.kernelFunc({ inputs: args, backend, attrs })
      values.push(Array.isArray(out) ? out : [out])
    }
  } catch (e) {
    release(new Set())
    throw e
  }
  const kept = plan.results.map(([i, o]) => values[i]?.[o] as tf.TensorInfo)
  release(new Set(kept))
  return kept.map((info) => engineTensor(info, backend))
}
