/**
 * The seed notebook's character vocabulary: `[<PAD>, <SOS>, <EOS>, ...sorted characters]`.
 *
 * Characters are Unicode code points (the data has é, ë, ù, ' and -), sorted by code point as
 * Python's `sorted()` sorts them, so a vocabulary built here equals the notebook's for the
 * same names.
 */
import * as E from 'fp-ts/lib/Either.js'

/** The padding token (index 0 in the seed's vocabulary). */
export const PAD = '<PAD>'
/** The start-of-sequence token. */
export const SOS = '<SOS>'
/** The end-of-sequence token. */
export const EOS = '<EOS>'
const SPECIALS = [PAD, SOS, EOS] as const

/** A character vocabulary: tokens in index order and the ids of the special tokens. */
export interface CharVocab {
  readonly tokens: readonly string[]
  readonly index: ReadonlyMap<string, number>
  readonly pad: number
  readonly sos: number
  readonly eos: number
}

/** Why a vocabulary or an encoding failed. */
export interface VocabError {
  readonly _tag: 'VocabError'
  readonly message: string
}

const vocabError = (message: string): VocabError => ({ _tag: 'VocabError', message })

const byCodePoint = (a: string, b: string) => (a.codePointAt(0) ?? 0) - (b.codePointAt(0) ?? 0)

/** The code points of a string (not UTF-16 units). */
export const chars = (s: string): string[] => Array.from(s)

/** Builds the vocabulary of a list of names, as the seed does. */
export const buildVocab = (names: readonly string[]): CharVocab => {
  const set = new Set<string>()
  for (const n of names) for (const c of chars(n)) set.add(c)
  return makeVocab([...SPECIALS, ...[...set].sort(byCodePoint)])
}

const makeVocab = (tokens: readonly string[]): CharVocab => {
  const index = new Map(tokens.map((t, i) => [t, i] as const))
  return Object.freeze({
    tokens: Object.freeze([...tokens]),
    index,
    pad: index.get(PAD) ?? -1,
    sos: index.get(SOS) ?? -1,
    eos: index.get(EOS) ?? -1,
  })
}

/**
 * A vocabulary from a token list (a checkpoint's vocab.json): the three special tokens must be
 * present, every other token must be one character, and no token may repeat.
 */
export const vocabFromTokens = (tokens: readonly string[]): E.Either<VocabError, CharVocab> => {
  const missing = SPECIALS.filter((s) => !tokens.includes(s))
  if (missing.length > 0) return E.left(vocabError(`missing special tokens ${missing.join(', ')}`))
  const seen = new Set<string>()
  for (const [i, t] of tokens.entries()) {
    if (seen.has(t)) return E.left(vocabError(`token ${JSON.stringify(t)} appears twice (index ${i})`))
    seen.add(t)
    if (!(SPECIALS as readonly string[]).includes(t) && chars(t).length !== 1) {
      return E.left(vocabError(`token ${i} (${JSON.stringify(t)}) is not a single character`))
    }
  }
  return E.right(makeVocab(tokens))
}

/** What to do with characters that are not in the vocabulary. */
export type UnknownPolicy = 'error' | 'skip'

/**
 * Encodes text (characters only, no special tokens). Unknown characters are an error listing
 * them, or are dropped with `'skip'` (what the seed's generate() silently does).
 */
export const encodeChars = (v: CharVocab, text: string, unknown: UnknownPolicy = 'error'): E.Either<VocabError, number[]> => {
  const ids: number[] = []
  const bad: string[] = []
  for (const c of chars(text)) {
    const id = v.index.get(c)
    if (id === undefined || id === v.pad || id === v.sos || id === v.eos) {
      if (!bad.includes(c)) bad.push(c)
    } else ids.push(id)
  }
  if (bad.length > 0 && unknown === 'error') {
    return E.left(vocabError(`characters not in the vocabulary: ${bad.map((c) => JSON.stringify(c)).join(', ')} (in ${JSON.stringify(text)})`))
  }
  return E.right(ids)
}

/** Decodes ids to text, dropping special tokens and stopping at the first EOS. */
export const decodeIds = (v: CharVocab, ids: readonly number[]): string => {
  let s = ''
  for (const id of ids) {
    if (id === v.eos) break
    if (id === v.pad || id === v.sos) continue
    s += v.tokens[id] ?? ''
  }
  return s
}
