/**
 * Beam search over a {@link DecoderModel}, with Hugging Face's scoring and stopping rules
 * (`BeamSearchScorer`): a finished hypothesis scores `sum_logprobs / length ** lengthPenalty`,
 * `length` counting its generated tokens (the EOS included, as in current transformers); at
 * each step the best `2 · numBeams` continuations are ranked, an EOS continuation ranked within
 * the first `numBeams` becomes a finished hypothesis, and the best `numBeams` others go on.
 *
 * The prompt is prefilled once as one row; `select` expands it to the beams and reorders them.
 * Log-probabilities are those of the processed distribution (processors, then log-softmax).
 * Deterministic: ties go to the lower beam, then the lower token id.
 */
import { callModel, checkOutput, checkPrompt, eosSet, type DecoderModel, type ModelOutput } from './model.js'
import { identityProcessor, processorContext, type LogitsProcessor } from './processors.js'
import { logSoftmax } from './softmax.js'

/**
 * When beam search stops (as Hugging Face's `early_stopping`): `true` as soon as `numBeams`
 * hypotheses are finished; `false` when the best running beam, scored at the current length,
 * cannot beat the worst kept hypothesis (a heuristic); `'never'` only when no running beam can
 * beat it at any reachable length (the canonical algorithm).
 */
export type EarlyStopping = boolean | 'never'

/** One beam search. */
export interface BeamSearchRequest {
  /** The prompt's token ids (at least one). */
  readonly prompt: readonly number[]
  /** The most tokens to generate (an integer >= 1). */
  readonly maxNewTokens: number
  /** How many beams to keep (an integer >= 1); one beam is greedy decoding. */
  readonly numBeams: number
  /** The exponent of the length normalisation (default 1; > 0 favours longer sequences). */
  readonly lengthPenalty?: number
  /** The stopping rule (default false). */
  readonly earlyStopping?: EarlyStopping
  /** How many hypotheses to return, best first (default 1, at most numBeams). */
  readonly numReturnSequences?: number
  /** Token id(s) that finish a hypothesis. */
  readonly eosTokenId?: number | readonly number[]
  /** Applied to each beam's logits before the log-softmax (default: none). */
  readonly processor?: LogitsProcessor
}

/** A finished hypothesis. */
export interface BeamHypothesis {
  /** The generated token ids, the EOS included when it finished the hypothesis. */
  readonly tokens: readonly number[]
  /** Each token's log-probability under the processed distribution. */
  readonly tokenLogprobs: readonly number[]
  /** Their sum. */
  readonly logprob: number
  /** `logprob / tokens.length ** lengthPenalty` (0 for an empty hypothesis): what beams are ranked by. */
  readonly score: number
  /** Why it ended: its EOS token, maxNewTokens, or the model's context length. */
  readonly finishReason: 'eos' | 'length' | 'context'
}

/** Options of {@link beamSearch}. */
export interface BeamSearchOptions {
  /** Aborts the search: the promise rejects with an AbortError and caches are released. */
  readonly signal?: AbortSignal
}

interface Beam {
  readonly tokens: readonly number[]
  readonly logprobs: readonly number[]
  readonly sum: number
}

interface Candidate {
  readonly beam: number
  readonly token: number
  readonly logprob: number
  readonly score: number
}

const better = (a: Candidate, b: Candidate): boolean => (a.score !== b.score ? a.score > b.score : a.beam !== b.beam ? a.beam < b.beam : a.token < b.token)

/** The `width` best finite entries of a row, best first (ties: lower index). */
const topEntries = (row: Float64Array, width: number): number[] => {
  const best: number[] = []
  for (let i = 0; i < row.length; i++) {
    const x = row[i]
    if (x === -Infinity || (best.length === width && x <= row[best[width - 1]])) continue
    let at = best.length
    while (at > 0 && row[best[at - 1]] < x) at--
    best.splice(at, 0, i)
    if (best.length > width) best.pop()
  }
  return best
}

const checkBeamRequest = <C>(model: DecoderModel<C>, r: BeamSearchRequest): void => {
  const where = 'beamSearch'
  checkPrompt(model, r.prompt, where)
  const int = (v: number, min: number, name: string): void => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${v}`)
  }
  int(r.maxNewTokens, 1, 'maxNewTokens')
  int(r.numBeams, 1, 'numBeams')
  int(r.numReturnSequences ?? 1, 1, 'numReturnSequences')
  if ((r.numReturnSequences ?? 1) > r.numBeams) {
    throw new RangeError(`${where}: numReturnSequences (${r.numReturnSequences}) must be <= numBeams (${r.numBeams})`)
  }
  if (!Number.isFinite(r.lengthPenalty ?? 1)) throw new RangeError(`${where}: lengthPenalty must be finite, got ${r.lengthPenalty}`)
}

/**
 * Runs beam search and returns the best `numReturnSequences` hypotheses, best first. With
 * `numBeams = 1` it is greedy decoding (the stopping rule is then irrelevant: the first EOS
 * ends it). Throws a RangeError for an invalid request; rejects with an AbortError when
 * `signal` aborts (all caches are released either way).
 */
export const beamSearch = async <C>(model: DecoderModel<C>, request: BeamSearchRequest, options: BeamSearchOptions = {}): Promise<readonly BeamHypothesis[]> => {
  checkBeamRequest(model, request)
  const { prompt, numBeams, maxNewTokens } = request
  const lengthPenalty = request.lengthPenalty ?? 1
  const earlyStopping: EarlyStopping = numBeams === 1 ? true : (request.earlyStopping ?? false)
  const keep = request.numReturnSequences ?? 1
  const processor = request.processor ?? identityProcessor
  const eos = eosSet(request.eosTokenId)
  const maxLength = Math.min(maxNewTokens, model.contextLength - prompt.length)
  if (maxLength <= 0) return [{ tokens: [], tokenLogprobs: [], logprob: 0, score: 0, finishReason: 'context' }]

  const scoreOf = (sum: number, length: number): number => sum / length ** lengthPenalty
  const finished: BeamHypothesis[] = [] // best first, at most numBeams
  const addHypothesis = (beam: Beam, finishReason: BeamHypothesis['finishReason']): void => {
    const score = scoreOf(beam.sum, beam.tokens.length)
    if (finished.length === numBeams && !(score > finished[numBeams - 1].score)) return
    let at = finished.length
    while (at > 0 && finished[at - 1].score < score) at--
    finished.splice(at, 0, { tokens: beam.tokens, tokenLogprobs: beam.logprobs, logprob: beam.sum, score, finishReason })
    if (finished.length > numBeams) finished.pop()
  }
  const isDone = (bestSum: number, length: number): boolean => {
    if (finished.length < numBeams) return false
    if (earlyStopping === true) return true
    const worst = finished[numBeams - 1].score
    const reachable = earlyStopping === 'never' && lengthPenalty > 0 ? maxLength : length
    return worst >= scoreOf(bestSum, reachable)
  }

  let beams: readonly Beam[] = [{ tokens: [], logprobs: [], sum: 0 }]
  let owned: C | undefined
  try {
    let out: ModelOutput<C> = await callModel(model, () => model.prefill([prompt]), undefined, options.signal)
    owned = out.cache
    checkOutput(model, out, 1, 'prefill')
    for (;;) {
      const width = 2 * numBeams
      const candidates: Candidate[] = []
      beams.forEach((beam, b) => {
        const processed = processor(processorContext(prompt, beam.tokens))(out.logits[b])
        if (processed.length !== model.vocabSize) {
          throw new Error(`beamSearch: the processor returned ${processed.length} logits, expected ${model.vocabSize}`)
        }
        const logp = logSoftmax(processed)
        for (const token of topEntries(logp, width)) {
          candidates.push({ beam: b, token, logprob: logp[token], score: beam.sum + logp[token] })
        }
      })
      if (candidates.length === 0) {
        throw new Error(`beamSearch: step ${beams[0].tokens.length}: every token was filtered out, nothing can be chosen`)
      }
      candidates.sort((a, c) => (better(a, c) ? -1 : better(c, a) ? 1 : 0))
      const ranked = candidates.slice(0, width)
      const length = beams[0].tokens.length + 1
      const extend = (c: Candidate): Beam => {
        const parent = beams[c.beam]
        return { tokens: [...parent.tokens, c.token], logprobs: [...parent.logprobs, c.logprob], sum: c.score }
      }
      const next: Candidate[] = []
      for (let rank = 0; rank < ranked.length && next.length < numBeams; rank++) {
        const c = ranked[rank]
        if (!eos.has(c.token)) next.push(c)
        else if (rank < numBeams) addHypothesis(extend(c), 'eos')
      }
      if (isDone(ranked[0].score, length) || next.length === 0) break
      const nextBeams = next.map(extend)
      if (length >= maxLength) {
        for (const beam of nextBeams) addHypothesis(beam, length >= maxNewTokens ? 'length' : 'context')
        break
      }
      const reordered: C = model.select(
        owned as C,
        next.map((c) => c.beam),
      )
      if (reordered !== owned) model.release(owned as C)
      owned = reordered
      beams = nextBeams
      const input = owned
      owned = undefined // the call below owns it now
      out = await callModel(
        model,
        () =>
          model.step(
            input,
            next.map((c) => c.token),
          ),
        input,
        options.signal,
      )
      owned = out.cache
      checkOutput(model, out, beams.length, 'step')
    }
  } finally {
    if (owned !== undefined) model.release(owned)
  }
  return finished.slice(0, keep)
}
