/**
 * The generation engine: drives a {@link DecoderModel} one token at a time, applying a
 * request's logits processors and sampler, and stops each sequence on its own (end-of-sequence
 * token, token budget, stop string, or the model's context length).
 *
 * Keys: sequence `i` of a request list draws its token at step `t` (the `t`-th generated token,
 * from 0) with `foldIn(foldIn(key, i), t)` ({@link stepKey}), whatever else is in the batch, so
 * batched generation equals one-at-a-time generation with the same key and index, and streaming
 * equals non-streaming (they share one loop).
 *
 * Batching: requests are grouped by prompt length (one `prefill` per group, groups one after
 * another). Within a group, rows whose tokens so far are identical share one batch position,
 * so each distinct history is computed once (identical prompts are prefilled once; samples
 * share their first steps until their draws diverge); `model.select` splits shared positions
 * and drops finished rows.
 */
import { foldIn, type Key } from '../core/key.js'
import { callModel, checkOutput, checkPrompt, eosSet, type DecoderModel, type ModelOutput } from './model.js'
import { identityProcessor, processorContext, type LogitsProcessor } from './processors.js'
import { sample, type PreparedSampler, type Sampler } from './samplers.js'
import { logProbAt } from './softmax.js'
import { planNextStep, promptSlots, type SlotState } from './slots.js'

/** Why a sequence stopped: its EOS token, `maxNewTokens`, a stop string, or the model's context length. */
export type FinishReason = 'eos' | 'length' | 'stop' | 'context'

/** One sequence to generate. */
export interface GenerationRequest {
  /** The prompt's token ids (at least one, at most the model's contextLength). */
  readonly prompt: readonly number[]
  /** The most tokens to generate (an integer >= 1). */
  readonly maxNewTokens: number
  /** Applied to every step's logits before sampling (default: none). */
  readonly processor?: LogitsProcessor
  /** Chooses the token from the processed logits (default: {@link sample}). */
  readonly sampler?: Sampler
  /** Token id(s) that end the sequence; the EOS token is kept in `tokens`. */
  readonly eosTokenId?: number | readonly number[]
  /** Strings that end the sequence; the text is cut before the first one. Needs `decode`. */
  readonly stop?: readonly string[]
  /** Turns generated tokens into text; when given, results and chunks carry `text`. */
  readonly decode?: (tokens: readonly number[]) => string
}

/** A finished sequence. */
export interface GenerationResult {
  /** The generated token ids (not the prompt), the EOS token included when it ended the sequence. */
  readonly tokens: readonly number[]
  /** The log-probability of each chosen token under the processed distribution. */
  readonly tokenLogprobs: readonly number[]
  /** Their sum: the log-probability of `tokens` under the processed distributions. */
  readonly logprob: number
  /** Why generation stopped. */
  readonly finishReason: FinishReason
  /** `decode(tokens)` without a final EOS token, cut before a stop string (only with `decode`). */
  readonly text?: string
}

/** One streamed token. */
export interface StreamChunk {
  /** The token id. */
  readonly token: number
  /** Its position among the generated tokens (0, 1, ...). */
  readonly index: number
  /** Its log-probability under the processed distribution. */
  readonly logprob: number
  /**
   * The text that became final with this token (only with `decode`): concatenating the chunks'
   * `text` gives the result's `text`. A possible stop-string prefix and trailing U+FFFD (an
   * incomplete character) are held back until resolved; this assumes `decode` of a longer token
   * list extends the decoding of a shorter one.
   */
  readonly text?: string
  /** Present on the last chunk: why the sequence stopped. */
  readonly finishReason?: FinishReason
}

/** Options of {@link generate} and {@link stream}. */
export interface GenerateOptions {
  /** Aborts generation: the promise/iteration rejects with an AbortError and caches are released. */
  readonly signal?: AbortSignal
  /** The sequence's index in a request list, for its keys (default 0): see {@link stepKey}. */
  readonly index?: number
}

/** Options of {@link generateBatch}. */
export interface GenerateBatchOptions {
  /** Aborts generation: the promise rejects with an AbortError and caches are released. */
  readonly signal?: AbortSignal
  /**
   * The key index of the first request (default 0): request `i` draws with
   * `stepKey(key, firstIndex + i, t)`. Splitting a request list into ranges, each generated
   * with its start as `firstIndex` (on other threads, say), gives the results of the whole list.
   */
  readonly firstIndex?: number
}

/** The key with which sequence `index` draws its token at `step`: `foldIn(foldIn(key, index), step)`. */
export const stepKey = (key: Key, index: number, step: number): Key => foldIn(foldIn(key, index), step)

// ---------------------------------------------------------------------------------------------

interface Row {
  readonly request: GenerationRequest
  readonly index: number
  readonly seqKey: Key
  readonly eos: ReadonlySet<number>
  readonly processor: LogitsProcessor
  readonly sampler: Sampler
  readonly stops: readonly string[]
  readonly generated: number[]
  readonly logprobs: number[]
  emitted: string
}

interface RowEvent {
  /** The row's position in the group. */
  readonly row: number
  readonly chunk?: StreamChunk
  readonly result?: GenerationResult
}

const checkRequest = <C>(model: DecoderModel<C>, r: GenerationRequest, where: string): void => {
  checkPrompt(model, r.prompt, where)
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) {
    throw new RangeError(`${where}: maxNewTokens must be an integer >= 1, got ${r.maxNewTokens}`)
  }
  for (const t of eosSet(r.eosTokenId)) {
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`${where}: eosTokenId must be token ids, got ${t}`)
  }
  if ((r.stop?.length ?? 0) > 0 && r.decode === undefined) throw new RangeError(`${where}: stop strings need a decode function`)
  if (r.stop?.some((s) => s.length === 0)) throw new RangeError(`${where}: stop strings must not be empty`)
}

const firstStop = (text: string, stops: readonly string[]): number =>
  stops.reduce((best, s) => {
    const at = text.indexOf(s)
    return at >= 0 && (best < 0 || at < best) ? at : best
  }, -1)

/** The part of `text` that no later token can change: holds back a stop-string prefix and trailing U+FFFD. */
const settled = (text: string, stops: readonly string[]): string => {
  let end = text.length
  while (end > 0 && text[end - 1] === '\uFFFD') end--
  let hold = 0
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, end); k > hold; k--) {
      if (text.slice(end - k, end) === s.slice(0, k)) {
        hold = k
        break
      }
    }
  }
  return text.slice(0, end - hold)
}

/** A slot's logits as processed for a row, and the sampler's preparation of them: shared by rows with equal histories. */
interface Prepared {
  readonly processor: LogitsProcessor
  readonly sampler: Sampler
  readonly processed: Float32Array
  readonly draw: ((key: Key) => { readonly token: number; readonly logprob: number }) | undefined
}

const where = (row: Row): string => `generate: sequence ${row.index}, step ${row.generated.length}`

const wrapped = <A>(row: Row, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw new Error(`${where(row)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
}

/** Runs a row's processor on its logits, and prepares its sampler when it can be prepared. */
const prepare = (row: Row, logits: Float32Array, vocab: number): Prepared => {
  const processed = row.processor(processorContext(row.request.prompt, row.generated))(logits)
  if (processed.length !== vocab) {
    throw new Error(`${where(row)}: the processor returned ${processed.length} logits, expected ${vocab}`)
  }
  const sampler = row.sampler as Sampler & Partial<PreparedSampler>
  const draw = sampler.prepare === undefined ? undefined : wrapped(row, () => (sampler.prepare as PreparedSampler['prepare'])(processed))
  return { processor: row.processor, sampler: row.sampler, processed, draw }
}

const chooseToken = (row: Row, prepared: Prepared, vocab: number): { token: number; logprob: number } => {
  const k = foldIn(row.seqKey, row.generated.length)
  const { draw, processed } = prepared
  let token: number
  let logprob: number
  if (draw !== undefined) ({ token, logprob } = draw(k))
  else {
    token = wrapped(row, () => row.sampler(k)(processed))
    if (!Number.isInteger(token) || token < 0 || token >= vocab) {
      throw new Error(`${where(row)}: the sampler chose ${token}, outside the vocabulary [0, ${vocab})`)
    }
    logprob = logProbAt(processed, token)
  }
  if (logprob === -Infinity) throw new Error(`${where(row)}: the sampler chose token ${token}, which the processors filtered out`)
  return { token, logprob }
}

/**
 * Appends a token to a row and decides whether the row is done; returns the result when it is,
 * and the stream chunk when streaming (`deltas`).
 */
const advance = (row: Row, token: number, logprob: number, contextLength: number, deltas: boolean): { readonly chunk?: StreamChunk; readonly result?: GenerationResult } => {
  row.generated.push(token)
  row.logprobs.push(logprob)
  const { request: r, generated } = row
  const decode = r.decode
  let reason: FinishReason | undefined = row.eos.has(token) ? 'eos' : undefined
  const body = reason === 'eos' ? generated.slice(0, -1) : generated
  let text = decode !== undefined && (reason !== undefined || deltas || row.stops.length > 0) ? decode(body) : undefined
  if (reason === undefined && text !== undefined && row.stops.length > 0) {
    const at = firstStop(text, row.stops)
    if (at >= 0) {
      reason = 'stop'
      text = text.slice(0, at)
    }
  }
  if (reason === undefined && generated.length >= r.maxNewTokens) reason = 'length'
  if (reason === undefined && r.prompt.length + generated.length >= contextLength) reason = 'context'
  if (reason !== undefined && decode !== undefined && text === undefined) text = decode(body)
  let delta: string | undefined
  if (decode !== undefined && deltas && text !== undefined) {
    const now = reason !== undefined ? text : settled(text, row.stops)
    delta = now.startsWith(row.emitted) ? now.slice(row.emitted.length) : ''
    if (now.startsWith(row.emitted)) row.emitted = now
  }
  const chunk: StreamChunk | undefined = deltas
    ? {
        token,
        index: generated.length - 1,
        logprob,
        ...(delta !== undefined ? { text: delta } : {}),
        ...(reason !== undefined ? { finishReason: reason } : {}),
      }
    : undefined
  if (reason === undefined) return chunk === undefined ? {} : { chunk }
  const result: GenerationResult = {
    tokens: generated.slice(),
    tokenLogprobs: row.logprobs.slice(),
    logprob: row.logprobs.reduce((a, b) => a + b, 0),
    finishReason: reason,
    ...(text !== undefined ? { text } : {}),
  }
  return chunk === undefined ? { result } : { chunk, result }
}

/**
 * The one decoding loop: a group of requests with equal prompt lengths, batched. Yields the
 * events of one step at a time: when streaming (`deltas`), an event per chosen token, otherwise
 * one per finished row, with its result; one yield per step rather than per row, since each
 * yield of an async generator costs a promise round trip. Holds exactly one cache
 * at a time and releases it on every exit: completion, error, abort, or the consumer stopping.
 */
async function* decodeGroup<C>(
  model: DecoderModel<C>,
  entries: readonly { readonly request: GenerationRequest; readonly index: number }[],
  key: Key,
  signal: AbortSignal | undefined,
  deltas: boolean,
): AsyncGenerator<readonly RowEvent[], void, undefined> {
  const rows: Row[] = entries.map(({ request, index }) => ({
    request,
    index,
    seqKey: foldIn(key, index),
    eos: eosSet(request.eosTokenId),
    processor: request.processor ?? identityProcessor,
    sampler: request.sampler ?? sample,
    stops: request.stop ?? [],
    generated: [],
    logprobs: [],
    emitted: '',
  }))
  const promptLength = rows[0].request.prompt.length
  if (promptLength >= model.contextLength) {
    // No room for even one token: finish without touching the model.
    yield rows.map((r, i) => {
      const text = r.request.decode?.([])
      return { row: i, result: { tokens: [], tokenLogprobs: [], logprob: 0, finishReason: 'context' as const, ...(text !== undefined ? { text } : {}) } }
    })
    return
  }
  let owned: C | undefined
  try {
    // Rows with the same tokens so far share one batch position, "slot" (slots.ts).
    const { prompts, slotOf: promptSlotOf } = promptSlots(rows.map((r) => r.request.prompt))
    let slots: SlotState = { slotOf: promptSlotOf, fed: prompts.map((p) => p[p.length - 1]) }
    const live = rows.map(() => true)
    let out: ModelOutput<C> = await callModel(model, () => model.prefill(prompts), undefined, signal)
    owned = out.cache
    checkOutput(model, out, prompts.length, 'prefill')
    for (;;) {
      const events: RowEvent[] = []
      // Rows of one slot have the same tokens so far: with the same processor and sampler,
      // their processed logits and the sampler's preparation are computed once.
      const shared = new Map<number, Prepared>()
      for (let i = 0; i < rows.length; i++) {
        if (!live[i]) continue
        const row = rows[i]
        const slot = slots.slotOf[i]
        let prepared = shared.get(slot)
        if (prepared === undefined || prepared.processor !== row.processor || prepared.sampler !== row.sampler) {
          prepared = prepare(row, out.logits[slot], model.vocabSize)
          if (!shared.has(slot)) shared.set(slot, prepared)
        }
        const { token, logprob } = chooseToken(row, prepared, model.vocabSize)
        const { chunk, result } = advance(row, token, logprob, model.contextLength, deltas)
        if (result !== undefined) live[i] = false
        if (chunk !== undefined || result !== undefined) events.push({ row: i, ...(chunk !== undefined ? { chunk } : {}), ...(result !== undefined ? { result } : {}) })
      }
      yield events
      const plan = planNextStep(
        slots,
        live,
        rows.map((r) => r.generated[r.generated.length - 1]),
        model.vocabSize,
      )
      if (plan === undefined) return
      if (plan.select !== undefined) {
        const kept: C = model.select(owned as C, plan.select)
        if (kept !== owned) model.release(owned as C)
        owned = kept
      }
      slots = plan.state
      const input = owned as C
      const feed = slots.fed
      owned = undefined // the call below owns it now
      out = await callModel(model, () => model.step(input, feed), input, signal)
      owned = out.cache
      checkOutput(model, out, feed.length, 'step')
    }
  } finally {
    if (owned !== undefined) model.release(owned)
  }
}

/**
 * Generates many sequences at once, each stopping on its own. Requests are grouped by prompt
 * length (each group one batch); results come back in request order. Sequence `i` uses the
 * keys `stepKey(key, firstIndex + i, t)`. Throws a RangeError for an invalid request; rejects with an
 * AbortError when `signal` aborts (all caches are released either way).
 */
export const generateBatch = async <C>(
  model: DecoderModel<C>,
  requests: readonly GenerationRequest[],
  key: Key,
  options: GenerateBatchOptions = {},
): Promise<readonly GenerationResult[]> => {
  requests.forEach((r, i) => checkRequest(model, r, `generateBatch: request ${i}`))
  const first = options.firstIndex ?? 0
  if (!Number.isInteger(first) || first < 0) throw new RangeError(`generateBatch: firstIndex must be an integer >= 0, got ${first}`)
  const groups = new Map<number, number[]>()
  requests.forEach((r, i) => groups.set(r.prompt.length, [...(groups.get(r.prompt.length) ?? []), i]))
  const results: GenerationResult[] = new Array(requests.length)
  for (const members of groups.values()) {
    const entries = members.map((i) => ({ request: requests[i], index: first + i }))
    for await (const events of decodeGroup(model, entries, key, options.signal, false)) {
      for (const ev of events) if (ev.result !== undefined) results[members[ev.row]] = ev.result
    }
  }
  return results
}

/**
 * Generates one sequence: the same as entry `index` (default 0) of {@link generateBatch} with
 * the same key.
 */
export const generate = async <C>(model: DecoderModel<C>, request: GenerationRequest, key: Key, options: GenerateOptions = {}): Promise<GenerationResult> => {
  const index = options.index ?? 0
  checkRequest(model, request, 'generate')
  let result: GenerationResult | undefined
  for await (const events of decodeGroup(model, [{ request, index }], key, options.signal, false)) {
    for (const ev of events) result = ev.result ?? result
  }
  return result as GenerationResult
}

/**
 * Streams one sequence token by token: yields exactly the tokens {@link generate} returns (same
 * key, same index), and finally returns the {@link GenerationResult}. Stopping the iteration
 * (`break`, `return()`) ends generation and releases the cache. When `signal` aborts, the
 * pending `next()` rejects promptly with an Error named 'AbortError' (the stream ends by
 * throwing, never by returning); a model call still in flight has its cache released when it
 * settles. The request is checked when `stream` is called (RangeError).
 */
export const stream = <C>(
  model: DecoderModel<C>,
  request: GenerationRequest,
  key: Key,
  options: GenerateOptions = {},
): AsyncGenerator<StreamChunk, GenerationResult, undefined> => {
  checkRequest(model, request, 'stream')
  const index = options.index ?? 0
  return (async function* () {
    let result: GenerationResult | undefined
    for await (const events of decodeGroup(model, [{ request, index }], key, options.signal, true)) {
      for (const ev of events) {
        if (ev.chunk !== undefined) yield ev.chunk
        result = ev.result ?? result
      }
    }
    if (result === undefined) throw new Error('stream: decoding ended without a result')
    return result
  })()
}
