import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { key } from '../../src/core/key.js'
import { batches, bucketBatches, encodeExample, padBatch, parseNames, shuffle, splitTrainVal } from '../../src/data/names.js'
import { buildVocab, chars, decodeIds, encodeChars, EOS, PAD, SOS, vocabFromTokens, type CharVocab } from '../../src/data/vocab.js'

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const leftMessage = <A>(e: E.Either<{ message: string }, A>): string => (E.isLeft(e) ? e.left.message : 'no error')

describe('parseNames', () => {
  it('strips lines and skips blank lines and # lines (CRLF too)', () => {
    const text = '# header\n#\n  Aragorn  \n\n\t\nLegolas\r\nGimli\r\n   \n# another comment\nÉowyn\n'
    expect(parseNames(text)).toEqual(['Aragorn', 'Legolas', 'Gimli', 'Éowyn'])
  })

  it('keeps inner spaces, apostrophes and hyphens', () => {
    expect(parseNames("Tom Bombadil\nGríma-Wormtongue\nO'Brien")).toEqual(['Tom Bombadil', 'Gríma-Wormtongue', "O'Brien"])
  })
})

describe('buildVocab', () => {
  it('puts the three specials first, then the characters sorted by code point as Python does', () => {
    // Code points: 'a' 0x61, 'é' 0xE9, 'Ａ' (fullwidth A) 0xFF21, '𝒜' (mathematical script A) 0x1D49C.
    // JavaScript's default sort compares UTF-16 units and would put '𝒜' (0xD835 0xDC9C) before
    // 'Ａ' (0xFF21); Python's sorted() compares code points and puts it last.
    const v = buildVocab(['𝒜a', 'Ａé', 'a'])
    expect(v.tokens).toEqual([PAD, SOS, EOS, 'a', 'é', 'Ａ', '𝒜'])
    expect([...['𝒜', 'Ａ']].sort()).toEqual(['𝒜', 'Ａ']) // the trap the code point sort avoids
    expect([v.pad, v.sos, v.eos]).toEqual([0, 1, 2])
    expect(v.index.get('𝒜')).toBe(6)
  })

  test.prop([fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 8 })], { numRuns: 50 })(
    'has each code point of the names exactly once, in increasing code point order',
    (names) => {
      const v = buildVocab(names)
      const points = v.tokens.slice(3).map((c) => c.codePointAt(0)!)
      expect(v.tokens.slice(3).every((c) => chars(c).length === 1)).toBe(true)
      expect(points.every((p, i) => i === 0 || points[i - 1] < p)).toBe(true)
      const expected = [...new Set(names.flatMap((n) => Array.from(n, (c) => c.codePointAt(0)!)))].sort((a, b) => a - b)
      expect(points).toEqual(expected)
    },
  )
})

describe('encodeChars / decodeIds', () => {
  // An alphabet of distinct code points from all of Unicode (astral ones included), and names over it.
  const alphabetArb = fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), { minLength: 1, maxLength: 20 })
  const withNames = alphabetArb.chain((alphabet) =>
    fc.tuple(
      fc.constant(alphabet),
      fc.array(
        fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((cs) => cs.join('')),
        { minLength: 1, maxLength: 5 },
      ),
    ),
  )

  test.prop([withNames], { numRuns: 60 })('decode(encode(name)) = name for any Unicode name over the vocabulary', ([alphabet, names]) => {
    const v = buildVocab(alphabet)
    for (const name of names) {
      const ids = right(encodeChars(v, name))
      expect(ids.length).toBe(chars(name).length)
      expect(ids.every((id) => id >= 3 && id < v.tokens.length)).toBe(true)
      expect(decodeIds(v, ids)).toBe(name)
      expect(decodeIds(v, [v.sos, ...ids, v.eos, ...ids])).toBe(name) // stops at EOS, drops SOS
    }
  })

  it('lists the unknown characters in the error, once each; skip drops them', () => {
    const v = buildVocab(['abc'])
    expect(leftMessage(encodeChars(v, 'abxcyx'))).toBe('characters not in the vocabulary: "x", "y" (in "abxcyx")')
    expect(right(encodeChars(v, 'abxcyx', 'skip'))).toEqual([3, 4, 5])
    // The special tokens' names are not characters of the vocabulary.
    expect(leftMessage(encodeChars(v, '<'))).toBe('characters not in the vocabulary: "<" (in "<")')
  })

  it('decodeIds skips PAD and SOS and stops at the first EOS', () => {
    const v = buildVocab(['ab'])
    expect(decodeIds(v, [1, 3, 0, 4, 2, 3])).toBe('ab')
  })
})

describe('vocabFromTokens', () => {
  it('accepts a checkpoint’s token list and rejects broken ones', () => {
    const v = right(vocabFromTokens([PAD, SOS, EOS, 'a', '𝒜']))
    expect([v.pad, v.sos, v.eos, v.index.get('𝒜')]).toEqual([0, 1, 2, 4])
    expect(leftMessage(vocabFromTokens([PAD, 'a']))).toBe('missing special tokens <SOS>, <EOS>')
    expect(leftMessage(vocabFromTokens([PAD, SOS, EOS, 'a', 'a']))).toBe('token "a" appears twice (index 4)')
    expect(leftMessage(vocabFromTokens([PAD, SOS, EOS, 'ab']))).toBe('token 3 ("ab") is not a single character')
  })
})

describe('encodeExample', () => {
  const v = buildVocab(['abcdefghijklmnopqrstuvwxyz'])
  const id = (c: string) => v.index.get(c)!

  it('is SOS + name + EOS, input all but the last token, target all but the first', () => {
    // The seed: encoded = [sos] + [char2idx[c] for c in name] + [eos]; input = encoded[:-1]; target = encoded[1:].
    const e = encodeExample(v, 'abc', 25)
    expect(e.input).toEqual([1, id('a'), id('b'), id('c')])
    expect(e.target).toEqual([id('a'), id('b'), id('c'), 2])
  })

  it('cuts at max_len + 2 tokens: a name of exactly max_len keeps its EOS, a longer one loses it', () => {
    const exact = encodeExample(v, 'abcde', 5)
    expect(exact.input.length).toBe(6)
    expect(exact.target.at(-1)).toBe(2)
    const long = encodeExample(v, 'abcdefgh', 5) // [SOS a b c d e f] after the cut at 7
    expect(long.input).toEqual([1, ...'abcde'].map((c) => (typeof c === 'number' ? c : id(c))))
    expect(long.target).toEqual([...'abcdef'].map(id))
    expect(long.target).not.toContain(2)
  })

  it('an empty name is SOS → EOS; an unknown character is an error naming it', () => {
    expect(encodeExample(v, '', 25)).toEqual({ input: [1], target: [2] })
    expect(() => encodeExample(v, 'aÆ', 25)).toThrow('encodeExample: character "Æ" of "aÆ" is not in the vocabulary')
  })
})

describe('padBatch and batches', () => {
  it('pads inputs and targets to the batch’s longest example and counts non-PAD targets', () => {
    const b = padBatch(
      [
        { input: [1, 5], target: [5, 2] },
        { input: [1, 6, 7, 8], target: [6, 7, 8, 2] },
        { input: [1], target: [2] },
      ],
      0,
    )
    expect([b.size, b.length, b.tokens]).toEqual([3, 4, 2 + 4 + 1])
    expect(Array.from(b.input)).toEqual([1, 5, 0, 0, 1, 6, 7, 8, 1, 0, 0, 0])
    expect(Array.from(b.target)).toEqual([5, 2, 0, 0, 6, 7, 8, 2, 2, 0, 0, 0])
  })

  test.prop([fc.array(fc.integer({ min: 0, max: 26 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 16 })], { numRuns: 30 })(
    'batches cover every example once, in order, in batches of batch_size',
    (lengths, size) => {
      const v = buildVocab(['abcdefghijklmnopqrstuvwxyz'])
      const examples = lengths.map((n) => encodeExample(v, 'abcdefghijklmnopqrstuvwxyz'.slice(0, n), 25))
      const bs = batches(examples, size, v.pad)
      expect(bs.map((b) => b.size)).toEqual(Array.from({ length: Math.ceil(lengths.length / size) }, (_, i) => Math.min(size, lengths.length - i * size)))
      // name + EOS, at most max_len + 1 = 26 targets (a 26-character name loses its EOS).
      const targets = (l: number) => Math.min(l + 1, 26)
      expect(bs.reduce((n, b) => n + b.tokens, 0)).toBe(lengths.reduce((n, l) => n + targets(l), 0))
      bs.forEach((b, i) => expect(b.length).toBe(Math.max(...lengths.slice(i * size, (i + 1) * size).map(targets))))
    },
  )

  it('rejects a batch size that is not a positive integer', () => {
    expect(() => batches([], 0, 0)).toThrow('batches: batch_size must be a positive integer, got 0')
  })
})

describe('bucketBatches (length bucketing)', () => {
  // Example i starts with the token i + 1 (PAD is 0), so every row names its example.
  const exampleOf = (i: number, len: number) => ({
    input: Array.from({ length: len }, (_, j) => (j === 0 ? i + 1 : 1000 + j)),
    target: Array.from({ length: len }, (_, j) => 2000 + i * 30 + j),
  })
  const rows = (b: { size: number; length: number; input: Int32Array; target: Int32Array }) =>
    Array.from({ length: b.size }, (_, r) => {
      const input = Array.from(b.input.subarray(r * b.length, (r + 1) * b.length))
      const target = Array.from(b.target.subarray(r * b.length, (r + 1) * b.length))
      const n = input.indexOf(0) < 0 ? b.length : input.indexOf(0)
      return { id: input[0] - 1, input: input.slice(0, n), target: target.slice(0, n), pad: input.slice(n).concat(target.slice(n)) }
    })

  test.prop([fc.array(fc.integer({ min: 1, max: 26 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 2 ** 31 })], { numRuns: 60 })(
    'every example once, unchanged; each batch padded to its longest; batch length ranges do not overlap; one smaller batch at most, of the longest',
    (lengths, size, seed) => {
      const examples = lengths.map((n, i) => exampleOf(i, n))
      const bs = bucketBatches(key(seed), examples, size, 0)
      expect(bs.length).toBe(Math.ceil(lengths.length / size))
      const seen = bs.flatMap(rows)
      expect(seen.map((r) => r.id).sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i))
      for (const r of seen) {
        expect(r.input).toEqual(examples[r.id].input)
        expect(r.target).toEqual(examples[r.id].target)
        expect(r.pad.every((t) => t === 0)).toBe(true)
      }
      const ranges = bs.map((b) => {
        const ls = rows(b).map((r) => r.input.length)
        expect(b.length).toBe(Math.max(...ls))
        expect(b.tokens).toBe(ls.reduce((a, l) => a + l, 0))
        return [Math.min(...ls), Math.max(...ls)] as const
      })
      // Sorted by their shortest, each batch's longest is at most the next batch's shortest.
      const byMin = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1])
      for (let i = 1; i < byMin.length; i++) expect(byMin[i - 1][1]).toBeLessThanOrEqual(byMin[i][0])
      const small = bs.filter((b) => b.size < size)
      expect(small.length).toBe(lengths.length % size === 0 ? 0 : 1)
      if (small.length === 1) expect(small[0].length).toBe(Math.max(...lengths))
      expect(bucketBatches(key(seed), examples, size, 0)).toEqual(bs)
    },
  )

  it('the key shuffles names of equal length and the batch order', () => {
    const examples = Array.from({ length: 64 }, (_, i) => exampleOf(i, 1 + (i % 4)))
    const order = (seed: number) => bucketBatches(key(seed), examples, 4, 0).flatMap((b) => rows(b).map((r) => r.id))
    expect(order(1)).not.toEqual(order(2))
    // Ties in length are not left in input order: some batch of length-1 names is not 0, 4, 8, 12.
    const firstOfLength1 = bucketBatches(key(1), examples, 4, 0).filter((b) => b.length === 1)
    expect(firstOfLength1.map((b) => rows(b).map((r) => r.id))).not.toContainEqual([0, 4, 8, 12])
    // The first batch is not always the shortest one.
    expect([1, 2, 3, 4, 5, 6].map((s) => bucketBatches(key(s), examples, 4, 0)[0].length)).not.toEqual([1, 1, 1, 1, 1, 1])
  })

  it('rejects a batch size that is not a positive integer', () => {
    expect(() => bucketBatches(key(0), [], 0, 0)).toThrow('batches: batch_size must be a positive integer, got 0')
  })
})

describe('shuffle and splitTrainVal', () => {
  test.prop([fc.integer({ min: 0, max: 300 }), fc.double({ min: 0, max: 0.99, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 })], { numRuns: 40 })(
    'split sizes are n − ⌊f·n⌋ and ⌊f·n⌋, disjoint, covering every item; the same key gives the same split',
    (n, f, seed) => {
      const items = Array.from({ length: n }, (_, i) => i)
      const { train, val } = splitTrainVal(key(seed), items, f)
      expect(val.length).toBe(Math.floor(f * n))
      expect(train.length).toBe(n - Math.floor(f * n))
      expect([...train, ...val].sort((a, b) => a - b)).toEqual(items)
      expect(splitTrainVal(key(seed), items, f)).toEqual({ train, val })
      expect(shuffle(key(seed), items).slice(0, train.length)).toEqual(train)
    },
  )

  it('the seed’s 10 % of 5,639 names is 563 for validation and 5,076 for training', () => {
    const { train, val } = splitTrainVal(
      key(0),
      Array.from({ length: 5639 }, (_, i) => i),
      0.1,
    )
    expect([train.length, val.length]).toEqual([5076, 563])
  })

  it('rejects a fraction outside [0, 1)', () => {
    expect(() => splitTrainVal(key(0), [1, 2], 1)).toThrow('splitTrainVal: fraction must be in [0, 1), got 1')
    expect(() => splitTrainVal(key(0), [1, 2], NaN)).toThrow(RangeError)
  })
})

// The real data set, read at test time from shared/ beside the repository (never copied in).
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const dataFile = [join(repoRoot, '../shared/data/fantasy_names.txt'), join(repoRoot, '../../shared/data/fantasy_names.txt')].find((p) => existsSync(p))

describe('the seed’s fantasy_names.txt', () => {
  const load = (ctx: { skip: (condition: boolean, note?: string) => void }): { names: string[]; vocab: CharVocab } => {
    ctx.skip(dataFile === undefined, 'shared/data/fantasy_names.txt not found beside the repository: skipping the real-data checks')
    const names = parseNames(readFileSync(dataFile!, 'utf8'))
    return { names, vocab: buildVocab(names) }
  }

  it('has 5,639 names and 81 tokens (78 characters + 3 specials), as the notebook prints', (ctx) => {
    const { names, vocab } = load(ctx)
    expect(names.length).toBe(5639)
    expect(new Set(names).size).toBe(5639)
    expect([names[0], names.at(-1)]).toEqual(['Aalana', 'Óin'])
    expect(vocab.tokens.length).toBe(81)
    // Python: ''.join(sorted(set(''.join(names)))) on the same file.
    expect(vocab.tokens.slice(3).join('')).toBe("'-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzÉÍÎÓàáâäèéêëìíîïñòóôöùúû")
  })

  it('every name round-trips and fits max_len 25 with its EOS', (ctx) => {
    const { names, vocab } = load(ctx)
    for (const name of names) {
      expect(decodeIds(vocab, right(encodeChars(vocab, name)))).toBe(name)
      expect(encodeExample(vocab, name, 25).target.at(-1)).toBe(vocab.eos)
    }
  })
})
