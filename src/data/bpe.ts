/**
 * GPT-2's byte-level byte-pair-encoding tokenizer, faithful to OpenAI's `encoder.py` and to
 * Hugging Face's `GPT2Tokenizer`.
 *
 * Text is split on the special token (`<|endoftext|>`), each remaining span is cut into
 * words by GPT-2's pre-tokenization regex, each word's UTF-8 bytes are spelled with the
 * printable `bytes_to_unicode` alphabet, and the word's symbols are merged pair by pair, the
 * lowest-ranked merge first, until no listed merge applies. Decoding maps tokens back to
 * bytes and decodes them as UTF-8, replacing invalid sequences with U+FFFD (Python's
 * `errors="replace"`).
 *
 * Pure and portable: no Node APIs, no tfjs; it runs in a browser. Loading the files from
 * disk is in `src/io/tokenizer-files.ts`.
 *
 * @example
 * const tok = bpeTokenizer({ vocab, merges })   // Either<TokenizerError, BpeTokenizer>
 * // Right(tok): tok.encode('Hello world') → [15496, 995]; tok.decode([15496, 995]) → 'Hello world'
 */
import * as E from 'fp-ts/lib/Either.js'

/** Why a vocabulary or merges list was rejected: which input, which merges line, and what is wrong. */
export interface TokenizerError {
  readonly _tag: 'TokenizerError'
  /** The input at fault: the vocabulary (vocab.json), the merges (merges.txt) or the options. */
  readonly source: 'vocab' | 'merges' | 'options'
  /** For merges errors, the 1-based line number in the merges list as given (header included). */
  readonly line?: number
  readonly message: string
}

/** Options for {@link bpeTokenizer}. */
export interface BpeTokenizerOptions {
  /** Token string → id, as in Hugging Face's vocab.json (OpenAI's encoder.json). */
  readonly vocab: Readonly<Record<string, number>>
  /**
   * Merge rules, one `"a b"` per entry, highest priority first, as in merges.txt (OpenAI's
   * vocab.bpe). Lines starting with `#version` are skipped, as Hugging Face does.
   */
  readonly merges: readonly string[]
  /**
   * The end-of-text token, recognised as one token in text. Default `<|endoftext|>` when the
   * vocabulary has it (otherwise none); a token named here must be in the vocabulary.
   */
  readonly eosToken?: string
  /** How many distinct words' encodings to remember (least recently used evicted). Default 10,000. */
  readonly cacheSize?: number
}

/** A GPT-2 byte-level BPE tokenizer: encodes text to token ids and back. */
export interface BpeTokenizer {
  /** One more than the largest id: the number of rows a model's token embedding needs. */
  readonly vocabSize: number
  /** The end-of-text token's string, when there is one. */
  readonly eosToken: string | undefined
  /** The end-of-text token's id (50256 for GPT-2), when there is one. */
  readonly eosTokenId: number | undefined
  /** Tokens that {@link BpeTokenizer.encode} recognises whole in text (the eos token). */
  readonly specialTokens: readonly string[]
  /** The vocabulary, token → id. */
  readonly vocab: ReadonlyMap<string, number>
  /** The merge rules `"a b"` in rank order (without a `#version` header), as given. */
  readonly merges: readonly string[]
  /** Text → ids. Special tokens in the text become their single id (as Hugging Face does). */
  readonly encode: (text: string) => number[]
  /** Text → ids, treating special-token strings in the text as ordinary text (as OpenAI's encoder.py does). */
  readonly encodeOrdinary: (text: string) => number[]
  /** Text → token strings in the byte-level alphabet (`'Hello world'` → `['Hello', 'Ġworld']`). */
  readonly tokenize: (text: string) => string[]
  /**
   * Ids → text. Bytes that are not valid UTF-8 (a character cut between tokens) decode to
   * U+FFFD; ids not in the vocabulary are skipped (as Hugging Face's fast tokenizer does).
   */
  readonly decode: (ids: ArrayLike<number>) => string
  /** The id of a token string, if it is in the vocabulary. */
  readonly tokenToId: (token: string) => number | undefined
  /** The token string of an id, if the id is in the vocabulary. */
  readonly idToToken: (id: number) => string | undefined
}

/** The default end-of-text token of GPT-2. */
export const GPT2_EOS_TOKEN = '<|endoftext|>'

/**
 * GPT-2's `bytes_to_unicode` table: byte b → a printable character standing for it. Printable
 * Latin-1 bytes stand for themselves; the rest (controls, space, soft hyphen...) are mapped to
 * U+0100 onwards in byte order, so the space 0x20 is `Ġ` and the newline 0x0A is `Ċ`.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const table: (string | undefined)[] = new Array<string | undefined>(256).fill(undefined)
  const keep = (lo: number, hi: number) => {
    for (let b = lo; b <= hi; b++) table[b] = String.fromCharCode(b)
  }
  keep(0x21, 0x7e)
  keep(0xa1, 0xac)
  keep(0xae, 0xff)
  let n = 0
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++)
  return Object.freeze(table as string[])
})()

const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]))

/**
 * GPT-2's pre-tokenization pattern, with `\s` spelled `\p{White_Space}`: Python's `regex`
 * module (which GPT-2 and Hugging Face use) matches exactly the Unicode White_Space
 * characters for `\s`, while JavaScript's `\s` also matches U+FEFF and misses U+0085.
 */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+"

const SPLIT_RE = new RegExp(GPT2_SPLIT_PATTERN, 'gu')

/** Cuts text into GPT-2's pre-tokens (words with their leading space, numbers, punctuation runs, whitespace). */
export const pretokenize = (text: string): string[] => Array.from(text.matchAll(SPLIT_RE), (m) => m[0])

const fail = (source: TokenizerError['source'], message: string, line?: number): E.Either<TokenizerError, never> =>
  E.left(line === undefined ? { _tag: 'TokenizerError', source, message } : { _tag: 'TokenizerError', source, line, message })

const show = (s: string): string => JSON.stringify(s)

/** A binary min-heap of non-negative numbers. */
class MinHeap {
  private readonly a: number[] = []
  get size(): number {
    return this.a.length
  }
  peek(): number {
    return this.a[0]
  }
  push(x: number): void {
    const a = this.a
    let i = a.length
    a.push(x)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (a[p] <= x) break
      a[i] = a[p]
      i = p
    }
    a[i] = x
  }
  pop(): number {
    const a = this.a
    const top = a[0]
    const last = a.pop() as number
    const n = a.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && a[r] < a[l] ? r : l
        if (a[c] >= last) break
        a[i] = a[c]
        i = c
      }
      a[i] = last
    }
    return top
  }
}

/**
 * Builds a GPT-2 byte-level BPE tokenizer from a vocabulary and merge rules, or says what is
 * wrong with them: ids that are not non-negative integers or are shared by two tokens, a
 * byte of the 256-character alphabet missing from the vocabulary, a merges line that is not
 * two tokens separated by one space, or a merge whose parts or result are not in the
 * vocabulary (each naming the line), or an eos token not in the vocabulary.
 */
export const bpeTokenizer = (options: BpeTokenizerOptions): E.Either<TokenizerError, BpeTokenizer> => {
  const { vocab, merges } = options
  const cacheSize = options.cacheSize ?? 10_000
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    return fail('options', `cacheSize must be a non-negative integer, got ${cacheSize}`)
  }

  // Vocabulary: token → id and id → token, one token per id.
  const tokenIds = new Map<string, number>()
  const idTokens = new Map<number, string>()
  let maxId = -1
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      return fail('vocab', `token ${show(token)} has id ${typeof id === 'number' ? id : JSON.stringify(id)}; ids must be non-negative integers`)
    }
    const other = idTokens.get(id)
    if (other !== undefined) return fail('vocab', `id ${id} is given to two tokens, ${show(other)} and ${show(token)}`)
    tokenIds.set(token, id)
    idTokens.set(id, token)
    if (id > maxId) maxId = id
  }
  const missingBytes = BYTE_TO_UNICODE.flatMap((c, b) => (tokenIds.has(c) ? [] : [`${show(c)} (byte 0x${b.toString(16).padStart(2, '0')})`]))
  if (missingBytes.length > 0) {
    const more = missingBytes.length > 8 ? ` and ${missingBytes.length - 8} more` : ''
    return fail('vocab', `a byte-level vocabulary needs all 256 byte tokens; missing ${missingBytes.slice(0, 8).join(', ')}${more}`)
  }
  const byteIds = Int32Array.from(BYTE_TO_UNICODE, (c) => tokenIds.get(c) as number)

  // Merges: (left id, right id) → rank, and rank → merged id. A repeated pair takes its last
  // rank, as both OpenAI's dict(zip(merges, range(n))) and Hugging Face do.
  const base = maxId + 1
  const pairRanks = new Map<number, number>()
  const mergeResult: number[] = []
  const kept: string[] = []
  for (let i = 0; i < merges.length; i++) {
    const line = merges[i]
    const lineNo = i + 1
    if (line.startsWith('#version')) continue
    const parts = line.split(' ')
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      return fail('merges', `line ${lineNo}: expected two tokens separated by one space, got ${show(line)}`, lineNo)
    }
    const [a, b] = parts
    const ia = tokenIds.get(a)
    const ib = tokenIds.get(b)
    const iab = tokenIds.get(a + b)
    if (ia === undefined || ib === undefined || iab === undefined) {
      const absent = ia === undefined ? a : ib === undefined ? b : a + b
      return fail('merges', `line ${lineNo}: merge ${show(line)} uses token ${show(absent)}, which is not in the vocabulary`, lineNo)
    }
    const rank = kept.length
    kept.push(line)
    mergeResult.push(iab)
    pairRanks.set(ia * base + ib, rank)
  }

  // The eos token, the one special token recognised in text.
  if (options.eosToken !== undefined && !tokenIds.has(options.eosToken)) {
    return fail('options', `eosToken ${show(options.eosToken)} is not in the vocabulary`)
  }
  const eosToken = options.eosToken ?? (tokenIds.has(GPT2_EOS_TOKEN) ? GPT2_EOS_TOKEN : undefined)
  const eosTokenId = eosToken === undefined ? undefined : tokenIds.get(eosToken)
  const specialTokens: readonly string[] = Object.freeze(eosToken === undefined || eosToken === '' ? [] : [eosToken])
  const specialIds = new Set(specialTokens.map((t) => tokenIds.get(t) as number))

  // Ids → bytes, computed when first decoded. A token outside the byte alphabet (a special or
  // added token) stands for its own UTF-8 bytes, as in Hugging Face's ByteLevel decoder.
  const utf8 = new TextEncoder()
  const idBytes = new Map<number, Uint8Array>()
  const bytesOf = (id: number): Uint8Array | undefined => {
    const cached = idBytes.get(id)
    if (cached !== undefined) return cached
    const token = idTokens.get(id)
    if (token === undefined) return undefined
    let bytes: Uint8Array | undefined
    if (!specialIds.has(id)) {
      const out = new Uint8Array(token.length)
      let ok = true
      for (let i = 0; i < token.length && ok; i++) {
        const b = UNICODE_TO_BYTE.get(token[i])
        if (b === undefined) ok = false
        else out[i] = b
      }
      if (ok) bytes = out
    }
    bytes ??= utf8.encode(token)
    idBytes.set(id, bytes)
    return bytes
  }

  /** BPE over one word's byte ids: a heap of candidate merges over a linked list of symbols. */
  const bpe = (symbols: Int32Array): number[] => {
    const n = symbols.length
    if (n < 2) return Array.from(symbols)
    const tok = symbols
    const prev = new Int32Array(n)
    const next = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1
      next[i] = i + 1
    }
    next[n - 1] = -1
    // A heap entry rank * n + pos stands for merging the symbol at pos with its successor.
    const heap = new MinHeap()
    for (let i = 0; i + 1 < n; i++) {
      const r = pairRanks.get(tok[i] * base + tok[i + 1])
      if (r !== undefined) heap.push(r * n + i)
    }
    const pending: number[] = []
    while (heap.size > 0) {
      // One round: every occurrence of the lowest-ranked pair, left to right without overlap,
      // as GPT-2 does, before any pair this round creates is considered.
      const rank = Math.floor(heap.peek() / n)
      while (heap.size > 0 && Math.floor(heap.peek() / n) === rank) {
        const pos = heap.pop() - rank * n
        const right = next[pos]
        if (tok[pos] < 0 || right < 0 || pairRanks.get(tok[pos] * base + tok[right]) !== rank) continue
        tok[pos] = mergeResult[rank]
        tok[right] = -1
        const after = next[right]
        next[pos] = after
        if (after >= 0) prev[after] = pos
        const before = prev[pos]
        if (before >= 0) {
          const r = pairRanks.get(tok[before] * base + tok[pos])
          if (r !== undefined) pending.push(r * n + before)
        }
        if (after >= 0) {
          const r = pairRanks.get(tok[pos] * base + tok[after])
          if (r !== undefined) pending.push(r * n + pos)
        }
      }
      for (const p of pending) heap.push(p)
      pending.length = 0
    }
    const out: number[] = []
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i])
    return out
  }

  // Word → ids, least recently used evicted. Internal memo: encode stays a pure function.
  const cache = new Map<string, readonly number[]>()
  const encodeWord = (word: string): readonly number[] => {
    const hit = cache.get(word)
    if (hit !== undefined) {
      cache.delete(word)
      cache.set(word, hit)
      return hit
    }
    const bytes = utf8.encode(word)
    const symbols = new Int32Array(bytes.length)
    for (let i = 0; i < bytes.length; i++) symbols[i] = byteIds[bytes[i]]
    const ids = bpe(symbols)
    if (cacheSize > 0) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string)
      cache.set(word, ids)
    }
    return ids
  }

  const encodeOrdinary = (text: string): number[] => {
    const out: number[] = []
    for (const m of text.matchAll(SPLIT_RE)) {
      for (const id of encodeWord(m[0])) out.push(id)
    }
    return out
  }

  const encode = (text: string): number[] => {
    if (specialTokens.length === 0) return encodeOrdinary(text)
    const out: number[] = []
    let start = 0
    for (;;) {
      // The earliest special token in the rest of the text (the longest one when two start there).
      let at = -1
      let found = ''
      for (const s of specialTokens) {
        const j = text.indexOf(s, start)
        if (j >= 0 && (at < 0 || j < at || (j === at && s.length > found.length))) {
          at = j
          found = s
        }
      }
      if (at < 0) break
      for (const id of encodeOrdinary(text.slice(start, at))) out.push(id)
      out.push(tokenIds.get(found) as number)
      start = at + found.length
    }
    for (const id of encodeOrdinary(text.slice(start))) out.push(id)
    return out
  }

  const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  const decode = (ids: ArrayLike<number>): string => {
    const parts: Uint8Array[] = []
    let total = 0
    for (let i = 0; i < ids.length; i++) {
      const bytes = bytesOf(ids[i])
      if (bytes !== undefined) {
        parts.push(bytes)
        total += bytes.length
      }
    }
    const all = new Uint8Array(total)
    let o = 0
    for (const p of parts) {
      all.set(p, o)
      o += p.length
    }
    return utf8Decoder.decode(all)
  }

  const idToToken = (id: number): string | undefined => idTokens.get(id)

  return E.right(
    Object.freeze({
      vocabSize: maxId + 1,
      eosToken,
      eosTokenId,
      specialTokens,
      vocab: tokenIds as ReadonlyMap<string, number>,
      merges: Object.freeze(kept),
      encode,
      encodeOrdinary,
      tokenize: (text: string): string[] => encode(text).map((id) => idToToken(id) as string),
      decode,
      tokenToId: (token: string): number | undefined => tokenIds.get(token),
      idToToken,
    }),
  )
}
