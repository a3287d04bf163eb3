/**
 * The model under test, as the property suites see it: pure functions of (params, tokens).
 *
 * Any causal language model fits — the library's, a hand-written one, one running elsewhere
 * behind a function — as long as it can say, for a batch of equal-length token rows, the
 * logits at every position: `logits(params, tokens) → [batch][position][vocab]`, as nested
 * arrays, rows of `Float32Array`, or a `tf.Tensor3D` (which the kit reads and then disposes).
 * Optional extras turn on more invariants: incremental decoding (`incremental`), an attention
 * mask for padding (`padding`), and the attention weights (`attention`).
 */
import * as tf from '@tensorflow/tfjs-core'
import type { DecoderModel } from '../sample/model.js'
import { batchInWords } from './words.js'

/** A value or a promise of it: every model function may be synchronous or asynchronous. */
export type Awaitable<T> = T | Promise<T>

/** Token rows of equal length, [batch][position]: what the kit feeds a model. */
export type TokenBatch = readonly (readonly number[])[]

/**
 * Logits as a model may return them: [batch][position][vocab] as nested arrays or rows of
 * `Float32Array`, or a tensor of that shape. A returned tensor belongs to the kit, which
 * disposes it once read.
 */
export type LogitsLike = tf.Tensor | readonly (readonly ArrayLike<number>[])[]

/**
 * Next-token logits, one row per batch row ([batch][vocab]): what incremental decoding returns.
 * A [batch][position][vocab] value (array or tensor) is accepted too; its last position is used.
 */
export type NextLogitsLike = tf.Tensor | readonly ArrayLike<number>[] | readonly (readonly ArrayLike<number>[])[]

/**
 * Attention weights, per layer: [layer][batch][head][query][key] as nested arrays, an array of
 * one tensor [batch, head, query, key] per layer (as the library's models return them), or
 * one tensor [layer, batch, head, query, key]. Returned tensors are disposed by the kit.
 */
export type AttentionLike = tf.Tensor | readonly tf.Tensor[] | readonly (readonly (readonly (readonly ArrayLike<number>[])[])[])[]

/** What the kit passes besides the tokens. */
export interface LogitsOptions {
  /**
   * [batch][position]: 1 for a real token, 0 for padding (Hugging Face's `attention_mask`).
   * Given only to models that declare `padding`; absent means every token is real.
   */
  readonly attentionMask?: TokenBatch
}

/**
 * How the model takes padding.
 *
 * - `'mask'`: it honours `options.attentionMask`, so the tokens at padding positions (anywhere,
 *   the first positions included) must not matter at real positions, which must stay finite
 *   (the kit puts arbitrary tokens there); positions count every token, padding included, so
 *   only a right-padded row must equal the row alone.
 * - `'left'`: `'mask'`, and positions count real tokens only (Hugging Face's position ids from
 *   the mask), so a left-padded row equals the row alone; with incremental decoding,
 *   the decoder's `prefill` takes left-padded prompts and their mask (`{ attentionMask }`, see
 *   {@link DecoderModel}).
 * - `{ padId }`: it recognises padding by a token id (the kit writes `padId` at padding
 *   positions, and passes the mask too); only right padding is checked then.
 */
export type PaddingSupport = 'mask' | 'left' | { readonly padId: number }

/**
 * A causal language model under test. Only `vocabSize`, `maxLength` and `logits` are required;
 * each optional member enables the invariants that need it.
 *
 * @example
 * const model: CausalLm<MyParams> = {
 *   name: 'my model', vocabSize: 50, maxLength: 64, params,
 *   logits: (p, tokens) => myForward(p, tokens),   // [batch][position][vocab]
 * }
 */
export interface CausalLm<P = unknown, S = unknown> {
  /** Shown in test names and messages. */
  readonly name?: string
  /** Every logits row has this length; tokens are drawn from [0, vocabSize). */
  readonly vocabSize: number
  /** The longest sequence the model accepts (its context length). */
  readonly maxLength: number
  /** The parameters handed to every function (leave out when the functions close over them). */
  readonly params?: P
  /** Logits [batch][position][vocab] for equal-length token rows. */
  readonly logits: (params: P, tokens: TokenBatch, options: LogitsOptions) => Awaitable<LogitsLike>
  /**
   * Incremental decoding: the generation engine's own protocol, a {@link DecoderModel} (with
   * its parameters inside it). The kit calls `prefill` and `step` and releases every cache
   * exactly once; for a model that declares `padding: 'left'` it also prefills left-padded
   * prompts with their `{ attentionMask }`. Without `padding: 'left'` prefill gets no options.
   */
  readonly incremental?: DecoderModel<S>
  /** See {@link PaddingSupport}. Without it, padding invariance is skipped. */
  readonly padding?: PaddingSupport
  /** The attention weights of every layer for a batch (no padding). */
  readonly attention?: (params: P, tokens: TokenBatch) => Awaitable<AttentionLike>
}

/** A name for messages: the model's own or `the model`. */
export const modelName = (m: CausalLm<any, any>): string => m.name ?? 'the model'

/**
 * A problem with what the model returned (a wrong shape, a thrown error): reported as the
 * property's failure, in words, like a violated invariant.
 */
export class ModelError extends Error {
  override readonly name = 'ModelError'
}

const isTensor = (x: unknown): x is tf.Tensor => x instanceof tf.Tensor

const shapeInWords = (s: readonly number[]) => `[${s.join(', ')}]`

/** Nested arrays' shape, following first elements, up to `rank` levels. */
const nestedShape = (x: unknown, rank: number): number[] => {
  const out: number[] = []
  let cur: unknown = x
  for (let i = 0; i < rank; i++) {
    if (cur === null || typeof cur !== 'object' || typeof (cur as ArrayLike<unknown>).length !== 'number') break
    const a = cur as ArrayLike<unknown>
    out.push(a.length)
    cur = a[0]
  }
  return out
}

/** Reads a tensor's values (awaiting the backend), then disposes it. */
const drain = async (t: tf.Tensor): Promise<Float32Array> => {
  try {
    const d = await t.data()
    return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>)
  } finally {
    t.dispose()
  }
}

/** Splits flat row-major values of shape [..., last] into rows of the last dimension. */
const rowsOf = (flat: Float32Array, rows: number, width: number): Float32Array[] => Array.from({ length: rows }, (_, i) => flat.subarray(i * width, (i + 1) * width))

/** Logits read into [batch][position] rows of `Float32Array` of length vocab. */
export type Logits = readonly (readonly Float32Array[])[]

/**
 * Reads whatever the model returned as logits into [batch][position] `Float32Array` rows,
 * checking the shape against what was asked for; disposes returned tensors.
 */
export const readLogits = async (value: LogitsLike, batch: number, length: number, vocab: number, what: string): Promise<Logits> => {
  const want = [batch, length, vocab]
  const wrong = (got: readonly number[]) => new ModelError(`${what} returned logits of shape ${shapeInWords(got)}, expected ${shapeInWords(want)} ([batch, position, vocabSize])`)
  if (isTensor(value)) {
    const shape = value.shape
    if (shape.length !== 3 || shape[0] !== batch || shape[1] !== length || shape[2] !== vocab) {
      value.dispose()
      throw wrong(shape)
    }
    const flat = await drain(value)
    return Array.from({ length: batch }, (_, b) => rowsOf(flat.subarray(b * length * vocab, (b + 1) * length * vocab), length, vocab))
  }
  if (!Array.isArray(value)) throw new ModelError(`${what} returned ${typeof value}, expected logits [batch][position][vocab] (nested arrays or a tensor)`)
  const ok = value.length === batch && value.every((r) => r?.length === length && Array.from(r as ArrayLike<ArrayLike<number>>).every((v) => v?.length === vocab))
  if (!ok) throw wrong(nestedShape(value, 3))
  return value.map((r) => Array.from(r as ArrayLike<ArrayLike<number>>, (v) => (v instanceof Float32Array ? v : Float32Array.from(v))))
}

/** Reads next-token logits into one `Float32Array` per batch row (the last position of a 3-D value). */
export const readNextLogits = async (value: NextLogitsLike, batch: number, vocab: number, what: string): Promise<Float32Array[]> => {
  const wrong = (got: readonly number[]) =>
    new ModelError(`${what} returned logits of shape ${shapeInWords(got)}, expected ${shapeInWords([batch, vocab])} ([batch, vocabSize]) or [batch, position, vocabSize]`)
  if (isTensor(value)) {
    const shape = value.shape
    const ok = shape[0] === batch && shape[shape.length - 1] === vocab && (shape.length === 2 || (shape.length === 3 && shape[1] >= 1))
    if (!ok) {
      value.dispose()
      throw wrong(shape)
    }
    const flat = await drain(value)
    if (shape.length === 2) return rowsOf(flat, batch, vocab)
    const t = shape[1]
    return Array.from({ length: batch }, (_, b) => flat.subarray((b * t + t - 1) * vocab, (b * t + t) * vocab))
  }
  if (!Array.isArray(value) || value.length !== batch) throw wrong(nestedShape(value, 3))
  const rows = value as readonly unknown[]
  const first = rows[0] as ArrayLike<unknown> | undefined
  const threeD = first !== undefined && typeof first === 'object' && first !== null && typeof (first as ArrayLike<unknown>)[0] === 'object'
  const last = rows.map((r) => {
    const a = r as ArrayLike<unknown>
    return (threeD ? a[a.length - 1] : a) as ArrayLike<number> | undefined
  })
  if (!last.every((r) => r !== undefined && r.length === vocab)) throw wrong(nestedShape(value, threeD ? 3 : 2))
  return last.map((r) => (r instanceof Float32Array ? r : Float32Array.from(r as ArrayLike<number>)))
}

/** Attention weights of one layer: values [batch, head, query, key] flattened row-major, and the shape. */
export interface LayerAttention {
  readonly shape: readonly [number, number, number, number]
  readonly values: Float32Array
}

const flattenNested = (x: unknown, out: number[]): void => {
  if (typeof x === 'number') out.push(x)
  else for (const y of Array.from(x as ArrayLike<unknown>)) flattenNested(y, out)
}

/** Reads attention weights into one {@link LayerAttention} per layer; disposes returned tensors. */
export const readAttention = async (value: AttentionLike, what: string): Promise<LayerAttention[]> => {
  const wrongRank = (r: number) => new ModelError(`${what} returned attention weights of rank ${r}; expected one [batch, head, query, key] array per layer`)
  if (isTensor(value)) {
    if (value.rank !== 5) {
      const r = value.rank
      value.dispose()
      throw wrongRank(r)
    }
    const [l, b, h, q, k] = value.shape
    const flat = await drain(value)
    const size = b * h * q * k
    return Array.from({ length: l }, (_, i) => ({ shape: [b, h, q, k] as const, values: flat.subarray(i * size, (i + 1) * size) }))
  }
  if (!Array.isArray(value)) throw new ModelError(`${what} returned ${typeof value}, expected attention weights per layer`)
  const layers = value as readonly unknown[]
  if (layers.some(isTensor)) {
    const out: LayerAttention[] = []
    let bad: number | undefined
    for (const t of layers as readonly tf.Tensor[]) {
      if (t.rank !== 4) bad = t.rank
      const values = await drain(t)
      out.push({ shape: t.shape as [number, number, number, number], values })
    }
    if (bad !== undefined) throw wrongRank(bad)
    return out
  }
  return layers.map((layer) => {
    const shape = nestedShape(layer, 4)
    if (shape.length !== 4) throw wrongRank(shape.length)
    const values: number[] = []
    flattenNested(layer, values)
    if (values.length !== shape.reduce((a, b) => a * b, 1)) throw new ModelError(`${what} returned ragged attention weights`)
    return { shape: shape as unknown as [number, number, number, number], values: Float32Array.from(values) }
  })
}

/** Copies of the token rows (so a model that mutates its input cannot corrupt the test case). */
const copyBatch = (tokens: TokenBatch): number[][] => tokens.map((r) => [...r])

const describeError = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Calls the model's logits and reads them; a throw or a wrong shape becomes a {@link ModelError} naming the input. */
export const callLogits = async <P>(model: CausalLm<P>, tokens: TokenBatch, mask?: TokenBatch): Promise<Logits> => {
  const what = `logits(${batchInWords(tokens)}${mask === undefined ? '' : `, attention mask ${batchInWords(mask)}`})`
  let value: LogitsLike
  try {
    value = await model.logits(model.params as P, copyBatch(tokens), mask === undefined ? {} : { attentionMask: copyBatch(mask) })
  } catch (e) {
    throw new ModelError(`${what} threw: ${describeError(e)}`)
  }
  return readLogits(value, tokens.length, tokens[0].length, model.vocabSize, what)
}

/** Calls the model's attention function and reads the weights. */
export const callAttention = async <P>(model: CausalLm<P>, tokens: TokenBatch): Promise<LayerAttention[]> => {
  const what = `attention(${batchInWords(tokens)})`
  if (model.attention === undefined) throw new ModelError('the model has no attention function')
  let value: AttentionLike
  try {
    value = await model.attention(model.params as P, copyBatch(tokens))
  } catch (e) {
    throw new ModelError(`${what} threw: ${describeError(e)}`)
  }
  return readAttention(value, what)
}

/** Runs `f`, turning a throw into a {@link ModelError} that says what was being computed. */
export const guard = async <T>(what: string, f: () => Awaitable<T>): Promise<T> => {
  try {
    return await f()
  } catch (e) {
    if (e instanceof ModelError) throw e
    throw new ModelError(`${what} threw: ${describeError(e)}`)
  }
}
