/**
 * Sharded Hugging Face checkpoints: `model.safetensors.index.json` (`{"metadata": {...},
 * "weight_map": {tensor: shard file}}`, what `save_pretrained(max_shard_size=…)` writes) and
 * its shards `model-0000K-of-0000N.safetensors`, read one shard at a time, in each of the two
 * passes a loader makes — the headers of every shard first (to validate the whole checkpoint
 * before allocating anything), then the tensors, shard by shard. Every shard of an index is
 * read into one buffer the size of the largest (made at the first read, shared by both passes):
 * at most one shard's bytes are held at a time, whatever the garbage collector does (a shard
 * read into a buffer of its own stayed alive while the next was read: two shards' bytes at
 * once, bench/shards.mjs). The index and the shards must agree exactly: every tensor in the
 * shard the index names, none elsewhere, no shard outside the folder.
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { fileSize, readBytesInto, readJson } from './files.js'
import { parseSafetensors, type TensorEntry } from './safetensors.js'

/** The index file's name. */
export const SHARD_INDEX = 'model.safetensors.index.json'

/** What is wrong with a sharded checkpoint: one line naming the file. */
export interface ShardProblem {
  readonly kind: 'file' | 'safetensors' | 'dtype' | 'shards'
  readonly path: string
  readonly message: string
}

const IndexCodec = t.intersection([t.type({ weight_map: t.record(t.string, t.string) }), t.partial({ metadata: t.UnknownRecord })])

const SHARD_NAME = /^[A-Za-z0-9_.-]+\.safetensors$/

const problem = (kind: ShardProblem['kind'], path: string, p: string): ShardProblem => ({ kind, path, message: `${path}: ${p}` })

/** The shards of an index, in the order of their first tensor (by name), each file name checked to stay in the folder. */
export interface ShardIndex {
  readonly path: string
  readonly shards: readonly string[]
  readonly weightMap: ReadonlyMap<string, string>
}

/** Reads and checks `model.safetensors.index.json`. */
export const readShardIndex = async (dir: string): Promise<E.Either<ShardProblem, ShardIndex>> => {
  const path = join(dir, SHARD_INDEX)
  const r = await readJson(path, IndexCodec)()
  if (E.isLeft(r)) return E.left({ kind: 'file', path, message: r.left.message })
  const weightMap = new Map(Object.entries(r.right.weight_map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const shards: string[] = []
  for (const [tensor, shard] of weightMap) {
    if (!SHARD_NAME.test(shard) || shard.startsWith('.'))
      return E.left(problem('shards', path, `weight_map maps '${tensor}' to ${JSON.stringify(shard)}, not a .safetensors file name in this folder`))
    if (!shards.includes(shard)) shards.push(shard)
  }
  if (shards.length === 0) return E.left(problem('shards', path, 'weight_map is empty'))
  return E.right({ path, shards, weightMap })
}

/** Each index's read buffer, the size of its largest shard (made at its first read). */
const buffers = new WeakMap<ShardIndex, Uint8Array>()

const shardBuffer = async (dir: string, index: ShardIndex): Promise<E.Either<ShardProblem, Uint8Array>> => {
  const known = buffers.get(index)
  if (known !== undefined) return E.right(known)
  let largest = 0
  for (const shard of index.shards) {
    const size = await fileSize(join(dir, shard))()
    if (E.isLeft(size)) return E.left({ kind: 'file', path: size.left.path, message: size.left.message })
    largest = Math.max(largest, size.right)
  }
  const buffer = new Uint8Array(largest)
  buffers.set(index, buffer)
  return E.right(buffer)
}

/** A shard read into the index's buffer and parsed: its tensors are views of the buffer, valid until the next shard is read. */
const readShard = async (dir: string, index: ShardIndex, shard: string) => {
  const path = join(dir, shard)
  const buffer = await shardBuffer(dir, index)
  if (E.isLeft(buffer)) return buffer
  const bytes = await readBytesInto(path, buffer.right)()
  if (E.isLeft(bytes)) return E.left<ShardProblem>({ kind: 'file', path, message: bytes.left.message })
  if (bytes.right.byteLength === 0) return E.left<ShardProblem>({ kind: 'file', path, message: `${path}: file is empty` })
  const r = parseSafetensors(bytes.right)
  return E.isLeft(r) ? E.left<ShardProblem>({ kind: r.left._tag === 'UnsupportedDtype' ? 'dtype' : 'safetensors', path, message: `${path}: ${r.left.message}` }) : E.right(r.right)
}

/**
 * Visits every tensor of every shard, one shard at a time (read into the index's buffer, which
 * the next shard overwrites), after checking that the shard holds exactly the tensors the index
 * maps to it. `visit` sees entries whose bytes are views into the shard: it must copy what it
 * keeps. A Left from `visit` stops the walk.
 */
export const forEachShardTensor = async <L>(
  dir: string,
  index: ShardIndex,
  visit: (entry: TensorEntry, metadata: Readonly<Record<string, string>>) => E.Either<L, void>,
): Promise<E.Either<ShardProblem | L, void>> => {
  for (const shard of index.shards) {
    const file = await readShard(dir, index, shard)
    if (E.isLeft(file)) return file
    const path = join(dir, shard)
    for (const name of file.right.tensors.keys()) {
      const mapped = index.weightMap.get(name)
      if (mapped !== shard) {
        return E.left(
          problem(
            'shards',
            path,
            mapped === undefined ? `holds tensor '${name}', which ${SHARD_INDEX} does not list` : `holds tensor '${name}', which ${SHARD_INDEX} puts in ${mapped}`,
          ),
        )
      }
    }
    for (const [name, mapped] of index.weightMap) {
      if (mapped === shard && !file.right.tensors.has(name)) return E.left(problem('shards', path, `lacks tensor '${name}', which ${SHARD_INDEX} puts in it`))
    }
    for (const entry of file.right.tensors.values()) {
      const r = visit(entry, file.right.metadata)
      if (E.isLeft(r)) return r
    }
  }
  return E.right(undefined)
}

/** Every shard's tensor headers (dtype and shape), by tensor name: the first pass. */
export const shardHeaders = async (
  dir: string,
  index: ShardIndex,
): Promise<E.Either<ShardProblem, ReadonlyMap<string, { readonly dtype: string; readonly shape: readonly number[]; readonly quantized: boolean }>>> => {
  const headers = new Map<string, { dtype: string; shape: readonly number[]; quantized: boolean }>()
  const r = await forEachShardTensor(dir, index, (e, metadata) => {
    headers.set(e.name, { dtype: e.dtype, shape: e.shape, quantized: metadata['minigpt_fp.quant'] !== undefined })
    return E.right(undefined)
  })
  return E.isLeft(r) ? r : E.right(headers)
}
