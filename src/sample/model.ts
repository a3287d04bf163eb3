/**
 * The model as the generation engine sees it: a pure, incremental step function whose cache is
 * an explicit value passed from call to call, plus the plumbing that keeps cache ownership
 * exact (every cache the engine receives is released exactly once) under errors and aborts.
 */

/** What a model call returns: one row of next-token logits per batch row, and the new cache. */
export interface ModelOutput<C> {
  /** One `Float32Array` of length `vocabSize` per batch row, in batch order. */
  readonly logits: readonly Float32Array[]
  /** The cache after this call; owned by the engine from now on. */
  readonly cache: C
}

/** What a prefill may be told besides the prompts. */
export interface PrefillOptions {
  /**
   * [row][prompt position]: 1 for a real token, 0 for padding (Hugging Face's
   * `attention_mask`), for left-padded prompts. A model that takes it keeps in its cache which
   * positions are padding (and where each row's positions start), so that every later step
   * sees only real tokens. The engine never passes it (its prompts are never padded); the
   * testing kit does, to check padding through the cache of a model that declares
   * `padding: 'left'`.
   */
  readonly attentionMask?: readonly (readonly number[])[]
}

/**
 * An autoregressive decoder with an explicit cache value `C` (a KV cache of tensors, or just
 * the token lists for a model without one).
 *
 * Ownership: every cache returned by `prefill`, `step` or `select` belongs to the engine, which
 * calls `release` on it exactly once, as soon as it is no longer needed: the input of `step`
 * and of `select` is released after the call has returned its new cache (unless the model
 * returned that very object), the last cache when decoding ends, errs or is aborted. A model
 * whose new cache shares resources with the old one (tensors kept across steps) must make
 * `release` of the old one leave them alive (clone or reference-count them). The engine never
 * uses a cache after releasing it, and never calls two methods of the model at once.
 */
export interface DecoderModel<C> {
  /** The vocabulary size: the length of every logits row. */
  readonly vocabSize: number
  /** The most positions the model can attend to; a sequence never grows past it. */
  readonly contextLength: number
  /** Feeds equal-length prompts for a batch of rows; returns each row's last-position logits and the cache. */
  prefill(prompts: readonly (readonly number[])[], options?: PrefillOptions): Promise<ModelOutput<C>>
  /** Feeds one new token per row; returns each row's next-token logits and the new cache. */
  step(cache: C, tokens: readonly number[]): Promise<ModelOutput<C>>
  /** Keeps rows (in this order, repeats allowed) of a cache: drops finished rows, reorders beams. */
  select(cache: C, rows: readonly number[]): C
  /** Frees a cache the engine no longer uses (its tensors, say). Called once per cache. */
  release(cache: C): void
}

/**
 * The error an aborted generation ends with: an Error whose `name` is `'AbortError'` (the
 * signal's reason itself when it is such an error, as `controller.abort()` gives; otherwise a
 * new one with the reason as its `cause`).
 */
export const abortError = (signal: AbortSignal): Error => {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const e = new Error('generation aborted', { cause: reason })
  e.name = 'AbortError'
  return e
}

/**
 * Runs one model call that consumes `input` (undefined for prefill), keeping ownership exact:
 * `input` is released once the call settles (unless returned as the new cache). When `signal`
 * aborts first, the promise rejects at once with {@link abortError}, and the call's eventual
 * cache is released when it arrives, so nothing leaks and nothing in use is freed.
 */
export const callModel = <C>(model: DecoderModel<C>, call: () => Promise<ModelOutput<C>>, input: C | undefined, signal: AbortSignal | undefined): Promise<ModelOutput<C>> =>
  new Promise((resolve, reject) => {
    const releaseInput = (out?: ModelOutput<C>): void => {
      if (input !== undefined && out?.cache !== input) model.release(input)
    }
    if (signal?.aborted) {
      releaseInput()
      reject(abortError(signal))
      return
    }
    let pending: Promise<ModelOutput<C>>
    try {
      pending = Promise.resolve(call())
    } catch (e) {
      releaseInput()
      reject(e)
      return
    }
    let abandoned = false
    const onAbort = (): void => {
      abandoned = true
      reject(abortError(signal as AbortSignal))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    pending.then(
      (out) => {
        signal?.removeEventListener('abort', onAbort)
        releaseInput(out)
        if (abandoned) model.release(out.cache)
        else resolve(out)
      },
      (e: unknown) => {
        signal?.removeEventListener('abort', onAbort)
        releaseInput()
        if (!abandoned) reject(e)
      },
    )
  })

/** Throws unless a model call returned `rows` logits rows of the model's vocabulary size. */
export const checkOutput = <C>(model: DecoderModel<C>, out: ModelOutput<C>, rows: number, what: string): void => {
  if (out.logits.length !== rows) {
    throw new Error(`DecoderModel.${what}: expected logits for ${rows} rows, got ${out.logits.length}`)
  }
  out.logits.forEach((row, i) => {
    if (row.length !== model.vocabSize) {
      throw new Error(`DecoderModel.${what}: logits row ${i} must have length vocabSize = ${model.vocabSize}, got ${row.length}`)
    }
  })
}

/** Throws a RangeError unless `prompt` is a non-empty list of token ids of the model's vocabulary. */
export const checkPrompt = <C>(model: DecoderModel<C>, prompt: readonly number[], where: string): void => {
  if (prompt.length === 0) throw new RangeError(`${where}: the prompt must hold at least one token`)
  prompt.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= model.vocabSize) {
      throw new RangeError(`${where}: prompt token ${i} is ${t}, outside the vocabulary [0, ${model.vocabSize})`)
    }
  })
  if (prompt.length > model.contextLength) {
    throw new RangeError(`${where}: the prompt has ${prompt.length} tokens, more than the model's contextLength ${model.contextLength}`)
  }
}

/** Normalises an end-of-sequence option to a set of token ids. */
export const eosSet = (eos: number | readonly number[] | undefined): ReadonlySet<number> => new Set(eos === undefined ? [] : typeof eos === 'number' ? [eos] : eos)
