/**
 * Mini-GPT's checkpoint layout, beside its model: the seed notebook's PyTorch `state_dict` ↔
 * the model's tree. The names are the tree's paths (`layers.0.attn.W_q.weight`); the one
 * conversion is the layout of the linear weights — the leaves whose layers declare them
 * `'dense'` — stored [out, in] (nn.Linear's) in the file and [in, out] in the tree; and the
 * file carries the sinusoidal table as the buffer `pos_encoding.pe`, written and ignored on
 * load. Pure: src/io/minigpt-state-dict.ts reads and writes the bytes.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '../../core/tree.js'
import { sinusoidalTable } from '../../nn/positional.js'
import { contextLength, type MiniGptConfig } from './config.js'
import { miniGptShapes, type MiniGptParams } from './model.js'

/** The name of the positional-encoding buffer in the seed's state_dict (written, ignored on load). */
export const PE_BUFFER = 'pos_encoding.pe'

/** One tensor of a state_dict: float32 values in PyTorch's layout. */
export interface StateDictTensor {
  readonly name: string
  readonly dtype: 'F32'
  readonly shape: readonly number[]
  readonly data: Float32Array
}

/** The tree's paths whose leaves PyTorch stores transposed: the 'dense' matrices (nn.Linear weights). */
const transposedPaths = (config: MiniGptConfig): ReadonlySet<string> =>
  new Set([...T.flatten(miniGptShapes(config))].filter(([, ref]) => T.roleOf(ref) === 'dense').map(([path]) => path))

/** The state_dict of a Mini-GPT: PyTorch's names and layouts, the pe buffer included (after the embedding, where PyTorch puts it). */
export const stateDict = (config: MiniGptConfig, params: MiniGptParams): StateDictTensor[] => {
  const transposed = transposedPaths(config)
  const entries: StateDictTensor[] = []
  for (const [name, tensor] of T.flatten(params)) {
    const data = tf.tidy(() => (transposed.has(name) ? tf.transpose(tensor) : tensor.clone()))
    entries.push({ name, dtype: 'F32', shape: data.shape, data: data.dataSync() as Float32Array })
    data.dispose()
  }
  entries.splice(1, 0, { name: PE_BUFFER, dtype: 'F32', shape: [1, contextLength(config), config.embed_dim], data: sinusoidalTable(contextLength(config), config.embed_dim) })
  return entries
}

/**
 * A state_dict (PyTorch's layouts, without the pe buffer) as the model's tree, or one line
 * listing what does not match the config. Takes the tensors over: on failure they are disposed.
 */
export const paramsFromStateDict = (config: MiniGptConfig, flat: ReadonlyMap<string, tf.Tensor>): E.Either<string, MiniGptParams> => {
  const transposed = transposedPaths(config)
  const converted = new Map<string, tf.Tensor>()
  for (const [name, t0] of flat) converted.set(name, transposed.has(name) && t0.rank === 2 ? tf.tidy(() => tf.transpose(t0)) : t0)
  for (const [name, t0] of flat) if (converted.get(name) !== t0) t0.dispose()
  const { tree, problems } = T.unflattenLike(miniGptShapes(config), converted)
  if (problems.length === 0) return E.right(tree)
  tf.dispose([...converted.values()])
  const shown = problems.slice(0, 4).join('; ') + (problems.length > 4 ? `; and ${problems.length - 4} more` : '')
  return E.left(`does not match config.json: ${shown} (shapes in PyTorch's layout are transposed for linear weights)`)
}
