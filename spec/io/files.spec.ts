import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { formatValidationErrors } from '../../src/core/errors.js'
import { ensureDir, readBytes, readJson, readSafetensorsFile, readText, writeFileAtomic } from '../../src/io/files.js'
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js'

let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'minigpt-io-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const right = <A>(e: E.Either<unknown, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got ${JSON.stringify(e.left)}`)
  return e.right
}
const leftMessage = (e: E.Either<{ message: string }, unknown>): string => {
  if (E.isRight(e)) throw new Error('expected Left')
  return e.left.message
}

const PositiveInt = t.brand(t.number, (n): n is t.Branded<number, { readonly PositiveInt: unique symbol }> => Number.isInteger(n) && n > 0, 'PositiveInt')
const positiveInt = new t.Type<number, number, unknown>(
  'a positive integer',
  (u): u is number => PositiveInt.is(u),
  (u, c) => (PositiveInt.is(u) ? t.success(u) : t.failure(u, c)),
  (n) => n,
)
const Config = t.type({ num_heads: positiveInt, name: t.string, layers: t.array(t.type({ size: positiveInt })), act: t.union([t.literal('gelu'), t.literal('relu')]) })

describe('readBytes / readText', () => {
  it('reads the whole file as a plain Uint8Array', async () => {
    const p = join(dir, 'bytes.bin')
    await writeFile(p, new Uint8Array([1, 2, 3]))
    const b = right(await readBytes(p)())
    expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype)
    expect(Array.from(b)).toEqual([1, 2, 3])
    expect(b.byteOffset).toBe(0)
    expect(b.buffer.byteLength).toBe(3) // owns its memory, not a slice of Node's pool
  })

  it('says what is wrong in one line naming the path', async () => {
    const missing = join(dir, 'nope', 'model.safetensors')
    const r = await readBytes(missing)()
    expect(leftMessage(r)).toBe(`${missing}: no such file`)
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'IoError', path: missing, code: 'ENOENT' })
    expect(leftMessage(await readBytes(dir)())).toBe(`${dir}: is a directory`)
  })

  it('reads UTF-8 text, dropping a byte-order mark, and refuses invalid UTF-8', async () => {
    const p = join(dir, 'text.txt')
    await writeFile(p, '\ufeffhé\n')
    expect(right(await readText(p)())).toBe('hé\n')
    await writeFile(p, new Uint8Array([0x68, 0xff]))
    expect(leftMessage(await readText(p)())).toBe(`${p}: not valid UTF-8 text`)
  })
})

describe('readJson', () => {
  const good = { num_heads: 4, name: 'x', layers: [{ size: 2 }], act: 'gelu' }
  const write = async (name: string, content: string) => {
    const p = join(dir, name)
    await writeFile(p, content)
    return p
  }

  it('decodes a valid file', async () => {
    expect(right(await readJson(await write('ok.json', JSON.stringify(good)), Config)())).toEqual(good)
  })

  it('names the file and the field, with what was expected and what was there', async () => {
    const p = await write('config.json', JSON.stringify({ ...good, num_heads: '4' }))
    expect(leftMessage(await readJson(p, Config)())).toBe(`${p}: num_heads: expected a positive integer, got "4"`)
    const q = await write('config2.json', JSON.stringify({ ...good, num_heads: undefined, layers: [{ size: 1 }, { size: 0 }] }))
    expect(leftMessage(await readJson(q, Config)())).toBe(`${q}: num_heads: missing, expected a positive integer; layers.1.size: expected a positive integer, got 0`)
    const r = await write('config3.json', JSON.stringify({ ...good, act: 'tanh', name: ['a'] }))
    expect(leftMessage(await readJson(r, Config)())).toBe(
      `${r}: name: expected a string, got an array of 1 item; act: expected "gelu", got "tanh"; act: expected "relu", got "tanh"`,
    )
    const s = await write('config4.json', '[1, 2]')
    expect(leftMessage(await readJson(s, Config)())).toBe(`${s}: expected an object, got an array of 2 items`)
  })

  it('says when the file is empty or not JSON', async () => {
    const e = await write('empty.json', ' \n')
    expect(leftMessage(await readJson(e, Config)())).toBe(`${e}: file is empty`)
    const b = await write('bad.json', '{"a": 1,}')
    expect(leftMessage(await readJson(b, Config)())).toMatch(new RegExp(`^${b.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON \\(.+\\)$`))
    const m = join(dir, 'missing.json')
    expect(leftMessage(await readJson(m, Config)())).toBe(`${m}: no such file`)
  })

  it('formatValidationErrors caps the number of messages', () => {
    const r = t.array(t.string).decode([1, 2, 3, 4, 5, 6, 7])
    expect(E.isLeft(r) && formatValidationErrors(r.left, 2)).toBe('0: expected a string, got 1; 1: expected a string, got 2; and 5 more')
  })
})

describe('writeFileAtomic / ensureDir', () => {
  it('writes, replaces the old content, and leaves no temporary file', async () => {
    const d = join(dir, 'atomic')
    right(await ensureDir(d)())
    const p = join(d, 'model.safetensors')
    right(await writeFileAtomic(p, 'old content, longer than the new one')())
    right(await writeFileAtomic(p, new Uint8Array([7, 8, 9]))())
    expect(Array.from(await readFile(p))).toEqual([7, 8, 9])
    right(await writeFileAtomic(p, 'new')())
    expect(await readFile(p, 'utf8')).toBe('new')
    expect(await readdir(d)).toEqual(['model.safetensors'])
  })

  it('fails cleanly: a missing directory, a directory in the way', async () => {
    const missing = join(dir, 'no-such-dir', 'f.json')
    expect(leftMessage(await writeFileAtomic(missing, 'x')())).toBe(`${missing}: no such directory ${join(dir, 'no-such-dir')}`)
    const d = join(dir, 'target-is-dir')
    await mkdir(join(d, 'f.json'), { recursive: true })
    expect(leftMessage(await writeFileAtomic(join(d, 'f.json'), 'x')())).toBe(`${join(d, 'f.json')}: is a directory`)
    expect(await readdir(d)).toEqual(['f.json']) // the temporary file was removed
  })

  it('ensureDir creates parents, accepts an existing directory, and refuses a file', async () => {
    const deep = join(dir, 'a', 'b', 'c')
    right(await ensureDir(deep)())
    right(await ensureDir(deep)())
    const f = join(dir, 'a', 'file')
    await writeFile(f, '')
    expect(leftMessage(await ensureDir(f)())).toBe(`${f}: exists and is not a directory`)
    expect(leftMessage(await ensureDir(join(f, 'sub'))())).toBe(`${join(f, 'sub')}: a part of the path is not a directory`)
  })
})

describe('readSafetensorsFile', () => {
  it('reads a file written atomically', async () => {
    const p = join(dir, 'w.safetensors')
    const bytes = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }], { format: 'pt' })
    right(await writeFileAtomic(p, bytes)())
    const s = right(await readSafetensorsFile(p)())
    expect(s.metadata).toEqual({ format: 'pt' })
    expect(Array.from(toFloat32(s.tensors.get('w')!))).toEqual([1.5, -2])
  })

  it('prefixes parse errors with the path and keeps their tag', async () => {
    const p = join(dir, 'bad.safetensors')
    const bytes = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) }])
    await writeFile(p, bytes.subarray(0, bytes.length - 1))
    const r = await readSafetensorsFile(p)()
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'TruncatedData', path: p, tensor: 'w' })
    expect(leftMessage(r)).toMatch(`${p}: tensor "w": data ends at byte 8`)
    const inner = parseSafetensors(bytes.subarray(0, bytes.length - 1))
    expect(leftMessage(r)).toBe(`${p}: ${leftMessage(inner)}`)
  })

  it('says when the file is empty or missing', async () => {
    const e = join(dir, 'empty.safetensors')
    await writeFile(e, '')
    expect(leftMessage(await readSafetensorsFile(e)())).toBe(`${e}: file is empty`)
    const m = join(dir, 'x', 'model.safetensors')
    expect(leftMessage(await readSafetensorsFile(m)())).toBe(`${m}: no such file`)
  })
})
