/**
 * The model description, validated before any invariant runs.
 *
 * A {@link CausalLm} arrives from user code as a plain object. A misspelled or missing field
 * (`vocabsize`, a `logits` that is a tensor instead of a function, `padding: 'masked'`) must
 * not quietly turn checks into skips — a model whose every invariant is skipped goes green in
 * CI. So the description is decoded with io-ts first, and every problem becomes a *failed*
 * report that names the field. Unknown fields are problems too (they are how a misspelling
 * shows), with the closest known name as a hint. Only a capability the model *declares* it
 * lacks (by leaving `incremental`, `padding` or `attention` out) skips an invariant.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { NonNegativeInt, PositiveInt } from '../core/codecs.js'
import { validationProblems } from '../core/errors.js'

/** A function of any arity (io-ts has none built in). */
const Fn = new t.Type<(...args: never[]) => unknown, (...args: never[]) => unknown, unknown>(
  'a function',
  (u): u is (...args: never[]) => unknown => typeof u === 'function',
  (u, c) =>
    typeof u === 'function'
      ? t.success(u as (...args: never[]) => unknown)
      : t.failure(u, c, `must be a function, got ${typeof u === 'object' ? (u === null ? 'null' : Array.isArray(u) ? 'an array' : 'an object') : typeof u}`),
  t.identity,
)

/** The generation engine's DecoderModel: prefill, step, select, release, its vocabulary size and context length. */
const DecoderModelCodec = t.type({ vocabSize: PositiveInt, contextLength: PositiveInt, prefill: Fn, step: Fn, select: Fn, release: Fn }, 'a DecoderModel')

const PaddingCodec = t.union([t.literal('mask'), t.literal('left'), t.strict({ padId: NonNegativeInt })], "'mask', 'left' or { padId }")

const Required = t.type({ vocabSize: PositiveInt, maxLength: PositiveInt, logits: Fn })
const Optional = t.partial({
  name: t.string,
  params: t.unknown,
  incremental: DecoderModelCodec,
  padding: PaddingCodec,
  attention: Fn,
})

/** The fields a {@link CausalLm} may have. */
export const MODEL_FIELDS: readonly string[] = ['name', 'vocabSize', 'maxLength', 'params', 'logits', 'incremental', 'padding', 'attention']

/** The members of a DecoderModel, for "did you mean" on the model's `incremental`. */
const DECODER_FIELDS: readonly string[] = ['vocabSize', 'contextLength', 'prefill', 'step', 'select', 'release']

/** Levenshtein distance, case-insensitive (for "did you mean"). */
const distance = (a: string, b: string): number => {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const cur = [i]
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[y.length]
}

const closest = (name: string, known: readonly string[]): string | undefined => {
  const best = [...known].sort((a, b) => distance(name, a) - distance(name, b))[0]
  return best !== undefined && distance(name, best) <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

const unknownFields = (u: Record<string, unknown>, known: readonly string[], where: string): string[] =>
  Object.keys(u)
    .filter((k) => !known.includes(k))
    .map((k) => {
      const hint = closest(k, known)
      return `${where}${k}: unknown field${hint === undefined ? '' : ` (did you mean ${hint}?)`}; a model description has only ${known.join(', ')}`
    })

/**
 * Checks a model description; resolves to the list of problems (empty when it is valid), each
 * naming the field: `vocabSize: missing, expected …`, `vocabsize: unknown field (did you mean
 * vocabSize?)`, `logits: must be a function, got object`, `padding.padId: must be < vocabSize=11`.
 */
export const describeProblems = (model: unknown): readonly string[] => {
  if (typeof model !== 'object' || model === null) return [`the model must be an object { vocabSize, maxLength, logits, … }, got ${model === null ? 'null' : typeof model}`]
  const u = model as Record<string, unknown>
  const problems: string[] = [...unknownFields(u, MODEL_FIELDS, '')]
  const required = Required.decode(u)
  if (E.isLeft(required)) problems.push(...validationProblems(required.left))
  const optional = Optional.decode(u)
  if (E.isLeft(optional)) problems.push(...validationProblems(optional.left).map(simplifyUnion))
  const inc = u.incremental
  if (DecoderModelCodec.is(inc)) {
    // A DecoderModel may carry members of its own; only a near miss of one of its names is flagged.
    const misspelt = Object.keys(inc).filter((k) => !DECODER_FIELDS.includes(k) && closest(k, DECODER_FIELDS) !== undefined)
    problems.push(...unknownFields(Object.fromEntries(misspelt.map((k) => [k, true])), DECODER_FIELDS, 'incremental.'))
  }
  const vocab = u.vocabSize
  if (PositiveInt.is(vocab)) {
    const pad = u.padding as { padId?: unknown } | undefined
    if (typeof pad === 'object' && pad !== null && typeof pad.padId === 'number' && Number.isInteger(pad.padId) && pad.padId >= vocab) {
      problems.push(`padding.padId: must be a token id in [0, ${vocab}) (below vocabSize), got ${pad.padId}`)
    }
    if (DecoderModelCodec.is(inc) && inc.vocabSize !== vocab)
      problems.push(`incremental.vocabSize: the DecoderModel's vocabSize ${inc.vocabSize} differs from the model's vocabSize ${vocab}`)
  }
  return [...new Set(problems)]
}

/** io-ts reports a failed union once per member; keep the field and say what the union takes. */
const simplifyUnion = (p: string): string =>
  p
    .replace(/^(incremental)(\.[^:]*)?: .*/, "$1: must be a DecoderModel { vocabSize, contextLength, prefill, step, select, release } (the generation engine's protocol)")
    .replace(/^padding(\.[^:]*)?: .*?(got .*)?$/, (_m, _f, got) => `padding: must be 'mask', 'left' or { padId }${got === undefined ? '' : `, ${got}`}`)
