/**
 * GPT-2's checkpoint layout, beside its model: Hugging Face's tensor names ↔ the tree's paths,
 * and the checks of a checkpoint's tensors against a config, before any tensor is allocated.
 * Pure (names, dtypes and shapes in, problems out): src/io/hf-gpt2.ts reads and writes the files.
 *
 * The tree flattens to Hugging Face's names without the `transformer.` prefix, with their
 * Conv1D layouts ([in, out], the tree's), so there is no layout conversion: a file's names lose
 * the prefix (a file may carry it or not), older checkpoints' attention buffers
 * (`h.N.attn.bias`, `h.N.attn.masked_bias`) are ignored, and `lm_head.weight` is the tied
 * `wte.weight`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { shapeOnly, unflattenLike } from '../../core/tree.js'
import type { Gpt2Config } from './config.js'
import { gpt2Shapes } from './model.js'

/** The prefix Hugging Face's GPT2LMHeadModel gives its transformer's tensors (`transformer.h.0.ln_1.weight`). */
export const HF_PREFIX = 'transformer.'

/** The file name of a tree path, as `save_pretrained` writes it. */
export const hfName = (path: string): string => HF_PREFIX + path

const BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/

/** The dtypes a float GPT-2 checkpoint may store its weights in (converted to float32 on load). */
export const GPT2_WEIGHT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16'])

/** A tensor's dtype and shape: what a header says, before any data is read. */
export interface TensorHeader {
  readonly dtype: string
  readonly shape: readonly number[]
}

/** What is wrong with a checkpoint's tensors: one message naming the tensor (the caller adds the file). */
export interface CheckpointProblem {
  readonly kind: 'dtype' | 'missing' | 'unexpected' | 'shape' | 'tied'
  readonly message: string
}

const problem = (kind: CheckpointProblem['kind'], message: string): CheckpointProblem => ({ kind, message })

/** Up to `limit` problems in one line, and how many more there are. */
export const listProblems = (problems: readonly string[], limit = 4): string =>
  problems.length <= limit ? problems.join('; ') : `${problems.slice(0, limit).join('; ')}; and ${problems.length - limit} more`

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`

/**
 * Checks the tensor headers of a float checkpoint (one file, or all shards together) against a
 * config: names normalised (prefix dropped, buffers ignored), dtypes checked, shapes validated
 * against {@link gpt2Shapes} — before any tensor is allocated. GPT-2 names → the file's names,
 * and the file's name of `lm_head.weight` when it has one.
 */
export const checkGpt2Headers = (
  config: Gpt2Config,
  headers: ReadonlyMap<string, TensorHeader>,
): E.Either<CheckpointProblem, { readonly names: ReadonlyMap<string, string>; readonly lmHead?: string }> => {
  const names = new Map<string, string>()
  let lmHead: string | undefined
  for (const [rawName, entry] of headers) {
    const name = rawName.startsWith(HF_PREFIX) ? rawName.slice(HF_PREFIX.length) : rawName
    if (BUFFER.test(name)) continue
    if (!GPT2_WEIGHT_DTYPES.has(entry.dtype)) {
      return E.left(problem('dtype', `tensor '${rawName}' has dtype ${entry.dtype}, unsupported: GPT-2 weights must be F32, F16 or BF16`))
    }
    if (name === 'lm_head.weight') {
      lmHead = rawName
      continue
    }
    if (names.has(name)) return E.left(problem('unexpected', `tensor '${name}' appears both with and without the '${HF_PREFIX}' prefix`))
    names.set(name, rawName)
  }
  const { problems } = unflattenLike(gpt2Shapes(config), new Map([...names].map(([n, raw]) => [n, shapeOnly((headers.get(raw) as TensorHeader).shape)])))
  if (problems.length > 0) {
    const kind = problems[0].startsWith('missing') ? 'missing' : problems[0].startsWith('unexpected') ? 'unexpected' : 'shape'
    return E.left(problem(kind, listProblems(problems.map((p) => p.replace(/, expected (\[[^\]]*\])$/, ', but config.json implies $1')))))
  }
  if (lmHead !== undefined) {
    const [h, w] = [headers.get(lmHead) as TensorHeader, headers.get(names.get('wte.weight') as string) as TensorHeader]
    if (fmt(h.shape) !== fmt(w.shape)) return E.left(problem('tied', `lm_head.weight has shape ${fmt(h.shape)}, wte.weight ${fmt(w.shape)}: GPT-2's head is tied to wte.weight`))
  }
  return E.right(lmHead === undefined ? { names } : { names, lmHead })
}

/** lm_head.weight's values checked equal to wte.weight's (the head is tied). */
export const checkTiedHead = (head: Float32Array, wte: Float32Array): E.Either<CheckpointProblem, void> => {
  const at = head.findIndex((v, i) => !Object.is(v, wte[i]))
  return at < 0
    ? E.right(undefined)
    : E.left(problem('tied', `lm_head.weight differs from wte.weight (first at element ${at}: ${head[at]} vs ${wte[at]}); this library ties GPT-2's head to wte.weight`))
}
