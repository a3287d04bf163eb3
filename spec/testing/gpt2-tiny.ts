/** GPT-2 with the gpt2-tiny fixture's weights (Hugging Face names, `transformer.` prefix, mask buffers dropped). */
import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { key } from '../../src/core/key.js'
import * as tree from '../../src/core/tree.js'
import { readSafetensorsFile } from '../../src/io/files.js'
import { floatTensors } from '../../src/io/tensors.js'
import { decodeGpt2Config, gpt2, type Gpt2Config, type Gpt2Params } from '../../src/models/gpt2/index.js'

/** Loads spec/fixtures/gpt2-tiny: its config and trained parameters (the caller owns them). */
export const gpt2Tiny = async (): Promise<{ config: Gpt2Config; params: Gpt2Params }> => {
  const dir = fileURLToPath(new URL('../fixtures/gpt2-tiny/', import.meta.url))
  const config = decodeGpt2Config(JSON.parse(readFileSync(`${dir}config.json`, 'utf8')))
  if (E.isLeft(config)) throw new Error(config.left.problems.join('; '))
  const file = await readSafetensorsFile(`${dir}model.safetensors`)()
  if (E.isLeft(file)) throw new Error(file.left.message)
  const flat = floatTensors(file.right, (n) => !n.endsWith('.attn.bias') && !n.endsWith('.attn.masked_bias'))
  if (E.isLeft(flat)) throw new Error(flat.left)
  const named = new Map([...flat.right].map(([n, t]) => [n.replace(/^transformer\./, ''), t]))
  const like = gpt2(config.right).init(key(0))
  const { tree: params, problems } = tree.unflattenLike(like, named)
  tree.dispose(like)
  if (problems.length > 0) throw new Error(problems.join('; '))
  return { config: config.right, params }
}
