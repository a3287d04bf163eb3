/**
 * Generation options as they arrive from users and config files (Hugging Face
 * `generation_config.json` / OpenAI-style names, snake_case), validated with io-ts into values
 * or an {@link OptionsError} whose messages name the option and the offending value
 * (`top_p must be in (0, 1], got 1.5`), then turned into a processor chain and requests.
 *
 * The chain runs in the conventional order: penalties, bans, minimum length and logit bias
 * first (they edit the raw scores), then temperature → top-k → top-p → min-p → typical-p
 * (they reshape and truncate the distribution).
 */
import * as t from 'io-ts'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { BeamSearchRequest } from './beam.js'
import type { GenerationRequest } from './engine.js'
import {
  badWords,
  bannedTokens,
  composeProcessors,
  frequencyPenalty,
  logitBias,
  minLength,
  minNewTokens,
  minP,
  noRepeatNgram,
  presencePenalty,
  repetitionPenalty,
  temperature,
  topK,
  topP,
  typicalP,
  type LogitsProcessor,
} from './processors.js'
import { greedySampler, sample } from './samplers.js'

/** Invalid generation options: one line per problem, each naming the option and the value. */
export interface OptionsError {
  readonly _tag: 'OptionsError'
  readonly problems: readonly string[]
}

/** Makes an {@link OptionsError}. */
export const optionsError = (...problems: string[]): OptionsError => ({ _tag: 'OptionsError', problems })

/** An {@link OptionsError}'s problems on one line, joined by '; '. */
export const optionsErrorMessage = (e: OptionsError): string => e.problems.join('; ')

const show = (u: unknown): string => {
  if (typeof u === 'number') return Object.is(u, -0) ? '-0' : String(u)
  if (typeof u === 'string') return JSON.stringify(u)
  if (u === undefined || u === null || typeof u === 'boolean') return String(u)
  try {
    const s = JSON.stringify(u)
    return s.length > 60 ? `${s.slice(0, 57)}...` : s
  } catch {
    return typeof u
  }
}

/** An io-ts codec that accepts what `is` accepts, failing with "`name` must be `must`, got ...". */
const checked = <A>(name: string, is: (u: unknown) => u is A, must: string): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c, `${name} must be ${must}, got ${show(u)}`)), t.identity)

const isNum = (u: unknown): u is number => typeof u === 'number'
const isInt =
  (min: number) =>
  (u: unknown): u is number =>
    Number.isInteger(u) && (u as number) >= min
const isTokenList = (u: unknown): u is readonly number[] => Array.isArray(u) && u.every(isInt(0))
const num = (name: string, ok: (x: number) => boolean, must: string) => checked(name, (u): u is number => isNum(u) && ok(u), must)
const int = (name: string, min: number) => checked(name, isInt(min), `an integer >= ${min}`)
const finite = (name: string) => num(name, Number.isFinite, 'a finite number')

/** Every option, each optional; see docs/sampling.md for their meaning and defaults. */
export const GenerationOptions = t.readonly(
  t.partial({
    max_new_tokens: int('max_new_tokens', 1),
    min_length: int('min_length', 0),
    min_new_tokens: int('min_new_tokens', 0),
    do_sample: checked('do_sample', (u): u is boolean => typeof u === 'boolean', 'a boolean'),
    temperature: num('temperature', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0'),
    top_k: int('top_k', 1),
    top_p: num('top_p', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    min_p: num('min_p', (x) => x >= 0 && x <= 1, 'in [0, 1]'),
    typical_p: num('typical_p', (x) => x > 0 && x <= 1, 'in (0, 1]'),
    repetition_penalty: num('repetition_penalty', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0'),
    frequency_penalty: finite('frequency_penalty'),
    presence_penalty: finite('presence_penalty'),
    no_repeat_ngram_size: int('no_repeat_ngram_size', 1),
    bad_words_ids: checked(
      'bad_words_ids',
      (u): u is readonly (readonly number[])[] => Array.isArray(u) && u.every((s) => isTokenList(s) && s.length > 0),
      'a list of non-empty lists of token ids',
    ),
    suppress_tokens: checked('suppress_tokens', isTokenList, 'a list of token ids'),
    logit_bias: checked(
      'logit_bias',
      (u): u is Readonly<Record<string, number>> =>
        typeof u === 'object' && u !== null && !Array.isArray(u) && Object.entries(u).every(([k, v]) => /^(0|[1-9][0-9]*)$/.test(k) && isNum(v) && Number.isFinite(v)),
      'an object mapping token ids to finite numbers',
    ),
    eos_token_id: checked('eos_token_id', (u): u is number | readonly number[] => isInt(0)(u) || isTokenList(u), 'a token id or a list of token ids'),
    stop: checked(
      'stop',
      (u): u is string | readonly string[] => (typeof u === 'string' && u.length > 0) || (Array.isArray(u) && u.every((s) => typeof s === 'string' && s.length > 0)),
      'a non-empty string or a list of them',
    ),
    num_beams: int('num_beams', 1),
    length_penalty: finite('length_penalty'),
    early_stopping: checked('early_stopping', (u): u is boolean | 'never' => typeof u === 'boolean' || u === 'never', "true, false or 'never'"),
    num_return_sequences: int('num_return_sequences', 1),
  }),
)

/** Validated generation options. */
export type GenerationOptions = t.TypeOf<typeof GenerationOptions>

const KNOWN = new Set(Object.keys(GenerationOptions.type.props))

const pathOf = (c: t.Context): string =>
  c
    .map((e) => e.key)
    .filter((k) => k !== '')
    .join('.') || 'options'

/**
 * Validates user options: the types and ranges of every field, unknown names (typos such as
 * `topP`), and the constraints between fields. Collects every problem, not just the first.
 */
export const decodeOptions = (u: unknown): E.Either<OptionsError, GenerationOptions> => {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) {
    return E.left(optionsError(`options must be an object, got ${show(u)}`))
  }
  const problems = Object.keys(u)
    .filter((k) => !KNOWN.has(k))
    .map((k) => `unknown option ${k}`)
  const decoded = GenerationOptions.decode(u)
  if (E.isLeft(decoded)) problems.push(...decoded.left.map((e) => e.message ?? `${pathOf(e.context)} is invalid, got ${show(e.value)}`))
  else {
    const o = decoded.right
    if ((o.num_return_sequences ?? 1) > (o.num_beams ?? 1)) {
      problems.push(`num_return_sequences must be <= num_beams (${o.num_beams ?? 1}), got ${o.num_return_sequences}`)
    }
    for (const k of ['min_length', 'min_new_tokens'] as const) {
      if (o[k] !== undefined && o[k] > 0 && o.eos_token_id === undefined) problems.push(`${k} needs eos_token_id`)
    }
  }
  return problems.length > 0 || E.isLeft(decoded) ? E.left(optionsError(...problems)) : E.right(decoded.right)
}

/** One link of the processor chain built from options, named by the option it comes from. */
export interface ProcessorStep {
  readonly option: keyof GenerationOptions
  readonly processor: LogitsProcessor
}

/** The processor chain for validated options, in the conventional order (see the module doc). */
export const processorSteps = (o: GenerationOptions): readonly ProcessorStep[] => {
  const eos = o.eos_token_id ?? []
  const steps: (ProcessorStep | undefined)[] = [
    o.repetition_penalty !== undefined && o.repetition_penalty !== 1 ? { option: 'repetition_penalty', processor: repetitionPenalty(o.repetition_penalty) } : undefined,
    o.frequency_penalty ? { option: 'frequency_penalty', processor: frequencyPenalty(o.frequency_penalty) } : undefined,
    o.presence_penalty ? { option: 'presence_penalty', processor: presencePenalty(o.presence_penalty) } : undefined,
    o.no_repeat_ngram_size !== undefined ? { option: 'no_repeat_ngram_size', processor: noRepeatNgram(o.no_repeat_ngram_size) } : undefined,
    o.bad_words_ids?.length ? { option: 'bad_words_ids', processor: badWords(o.bad_words_ids) } : undefined,
    o.suppress_tokens?.length ? { option: 'suppress_tokens', processor: bannedTokens(o.suppress_tokens) } : undefined,
    o.min_length ? { option: 'min_length', processor: minLength(o.min_length, eos) } : undefined,
    o.min_new_tokens ? { option: 'min_new_tokens', processor: minNewTokens(o.min_new_tokens, eos) } : undefined,
    o.logit_bias !== undefined && Object.keys(o.logit_bias).length > 0 ? { option: 'logit_bias', processor: logitBias(o.logit_bias) } : undefined,
    o.temperature !== undefined && o.temperature !== 1 ? { option: 'temperature', processor: temperature(o.temperature) } : undefined,
    o.top_k !== undefined ? { option: 'top_k', processor: topK(o.top_k) } : undefined,
    o.top_p !== undefined && o.top_p < 1 ? { option: 'top_p', processor: topP(o.top_p) } : undefined,
    o.min_p ? { option: 'min_p', processor: minP(o.min_p) } : undefined,
    o.typical_p !== undefined && o.typical_p < 1 ? { option: 'typical_p', processor: typicalP(o.typical_p) } : undefined,
  ]
  return steps.filter((s): s is ProcessorStep => s !== undefined)
}

/** Validates options (unknown input) and composes their processors into one. */
export const processorsFromOptions = (u: unknown): E.Either<OptionsError, LogitsProcessor> =>
  pipe(
    decodeOptions(u),
    E.map((o) => composeProcessors(...processorSteps(o).map((s) => s.processor))),
  )

/** What options cannot carry: functions supplied by the caller. */
export interface RequestExtras {
  /** Turns tokens into text: needed for `stop`, and gives results a `text`. */
  readonly decode?: (tokens: readonly number[]) => string
}

/** The default of `max_new_tokens`. */
export const DEFAULT_MAX_NEW_TOKENS = 20

/**
 * A {@link GenerationRequest} for `prompt` from user options: the processor chain, sampling
 * (`do_sample`, default true) or greedy, `max_new_tokens` (default 20), `eos_token_id`, `stop`.
 * Beam options (`num_beams` > 1) belong to {@link beamRequestFromOptions} and are refused here.
 */
export const requestFromOptions = (prompt: readonly number[], u: unknown, extras: RequestExtras = {}): E.Either<OptionsError, GenerationRequest> =>
  pipe(
    decodeOptions(u),
    E.chain((o) => {
      const problems: string[] = []
      if ((o.num_beams ?? 1) > 1) problems.push(`num_beams is ${o.num_beams}: use beamRequestFromOptions and beamSearch`)
      if ((o.num_return_sequences ?? 1) > 1) problems.push(`num_return_sequences is ${o.num_return_sequences}: make one request per sequence`)
      if (o.stop !== undefined && extras.decode === undefined) problems.push('stop needs a decode function')
      if (problems.length > 0) return E.left(optionsError(...problems))
      return E.right<OptionsError, GenerationRequest>({
        prompt,
        maxNewTokens: o.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
        processor: composeProcessors(...processorSteps(o).map((s) => s.processor)),
        sampler: o.do_sample === false ? greedySampler : sample,
        ...(o.eos_token_id !== undefined ? { eosTokenId: o.eos_token_id } : {}),
        ...(o.stop !== undefined ? { stop: typeof o.stop === 'string' ? [o.stop] : o.stop } : {}),
        ...(extras.decode !== undefined ? { decode: extras.decode } : {}),
      })
    }),
  )

/**
 * A {@link BeamSearchRequest} for `prompt` from user options: `num_beams` (default 1),
 * `length_penalty` (default 1), `early_stopping` (default false), `num_return_sequences`,
 * `max_new_tokens`, `eos_token_id` and the processor chain. Beam search is deterministic, so
 * `do_sample: true` and `stop` are refused.
 */
export const beamRequestFromOptions = (prompt: readonly number[], u: unknown): E.Either<OptionsError, BeamSearchRequest> =>
  pipe(
    decodeOptions(u),
    E.chain((o) => {
      const problems: string[] = []
      if (o.do_sample === true) problems.push('do_sample must not be true for beam search (it is deterministic)')
      if (o.stop !== undefined) problems.push('stop is not supported by beam search')
      if (problems.length > 0) return E.left(optionsError(...problems))
      return E.right<OptionsError, BeamSearchRequest>({
        prompt,
        maxNewTokens: o.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
        numBeams: o.num_beams ?? 1,
        lengthPenalty: o.length_penalty ?? 1,
        earlyStopping: o.early_stopping ?? false,
        numReturnSequences: o.num_return_sequences ?? 1,
        processor: composeProcessors(...processorSteps(o).map((s) => s.processor)),
        ...(o.eos_token_id !== undefined ? { eosTokenId: o.eos_token_id } : {}),
      })
    }),
  )
