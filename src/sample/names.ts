/**
 * Generating names with a character model, as the seed notebook's generate() does — SOS +
 * prompt, sample until EOS or the length limit — but batched, keyed, with every logits
 * processor and beam search available through the options.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Key } from '../core/key.js'
import { decodeIds, encodeChars, type CharVocab, type UnknownPolicy } from '../data/vocab.js'
import { beamSearch } from './beam.js'
import { generateBatch, type FinishReason } from './engine.js'
import type { DecoderModel } from './model.js'
import { beamRequestFromOptions, decodeOptions, optionsErrorMessage, requestFromOptions } from './options.js'

/** What to generate. */
export interface NamesRequest {
  /** How many names (with beam search: how many of the best hypotheses, ≤ num_beams). */
  readonly count: number
  /** The beginning of every name (default: none). */
  readonly prompt?: string
  /** Characters of the prompt not in the vocabulary: an error listing them (default) or dropped, as the seed does. */
  readonly unknown?: UnknownPolicy
  /**
   * Generation options (see docs/sampling.md): temperature, top_k, top_p, min_p, typical_p,
   * repetition_penalty, no_repeat_ngram_size, do_sample (false = greedy), num_beams … The
   * token budget defaults to what the model's context allows; PAD and SOS are never sampled.
   */
  readonly options?: Readonly<Record<string, unknown>>
  /**
   * The key index of the first name (default 0; sampling only): name `j` is drawn with the
   * keys of index `firstIndex + j`, so `count: 600` equals `count: 300` followed by
   * `count: 300, firstIndex: 300` — how `startNamesWorkers` (io) shares a request among processes.
   */
  readonly firstIndex?: number
}

/** A generated name. */
export interface GeneratedName {
  /** The prompt followed by the generated characters. */
  readonly text: string
  /** The log-probability of the generated tokens (EOS included) under the processed distributions. */
  readonly logprob: number
  readonly finishReason: FinishReason
}

/**
 * Generates names. Errors (as values): unknown prompt characters, invalid options (naming the
 * option and the value), a count < 1.
 */
export const generateNames = async <C>(model: DecoderModel<C>, vocab: CharVocab, request: NamesRequest, key: Key): Promise<E.Either<string, GeneratedName[]>> => {
  if (!Number.isInteger(request.count) || request.count < 1) return E.left(`count must be an integer ≥ 1, got ${request.count}`)
  const prompt = request.prompt ?? ''
  const encoded = encodeChars(vocab, prompt, request.unknown ?? 'error')
  if (E.isLeft(encoded)) return E.left(`prompt: ${encoded.left.message}`)
  const ids = [vocab.sos, ...encoded.right]
  const promptText = decodeIds(vocab, ids)
  const options = {
    max_new_tokens: Math.max(1, model.contextLength - ids.length),
    eos_token_id: vocab.eos,
    suppress_tokens: [vocab.pad, vocab.sos],
    ...request.options,
  }
  const checked = decodeOptions(options)
  if (E.isLeft(checked)) return E.left(optionsErrorMessage(checked.left))
  if ((checked.right.num_beams ?? 1) > 1) {
    const req = beamRequestFromOptions(ids, { num_return_sequences: request.count, ...options })
    if (E.isLeft(req)) return E.left(optionsErrorMessage(req.left))
    const hyps = await beamSearch(model, req.right)
    return E.right(hyps.map((h) => ({ text: promptText + decodeIds(vocab, h.tokens), logprob: h.logprob, finishReason: h.finishReason })))
  }
  const req = requestFromOptions(ids, options)
  if (E.isLeft(req)) return E.left(optionsErrorMessage(req.left))
  const firstIndex = request.firstIndex ?? 0
  if (!Number.isInteger(firstIndex) || firstIndex < 0) return E.left(`firstIndex must be an integer ≥ 0, got ${firstIndex}`)
  const results = await generateBatch(
    model,
    Array.from({ length: request.count }, () => req.right),
    key,
    { firstIndex },
  )
  return E.right(results.map((r) => ({ text: promptText + decodeIds(vocab, r.tokens), logprob: r.logprob, finishReason: r.finishReason })))
}
