/**
 * Fuzzing parseSafetensors: random bytes and random damage to valid files. Whatever the input,
 * it returns an Either (never throws, never reaches its catch-all), every error names its tensor,
 * and every accepted tensor is a view lying inside the input, of exactly the size its shape says.
 * (Each property runs well under the test timeout; slowness would show up there, as timings are
 * not asserted in unit tests.)
 */
import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import { dtypeSize, parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/io/safetensors.js'
import { build, tensorsArb } from './safetensors-helpers.js'

/** Places `bytes` at an offset inside a larger buffer, so "inside the input" is a real check. */
const embed = (bytes: Uint8Array, before: number, after: number): Uint8Array => {
  const big = new Uint8Array(before + bytes.length + after).fill(0xab)
  big.set(bytes, before)
  return big.subarray(before, before + bytes.length)
}

/** Parses and checks every invariant; returns the tag (or 'ok') for coverage statistics. */
const check = (input: Uint8Array): string => {
  const r = parseSafetensors(input)
  if (E.isLeft(r)) {
    const e = r.left
    expect(e._tag).not.toBe('UnexpectedError')
    expect(typeof e.message).toBe('string')
    expect(e.message.length).toBeGreaterThan(0)
    if ('tensor' in e && e.tensor !== undefined) expect(e.message).toContain(JSON.stringify(e.tensor))
    return e._tag
  }
  const n = Number(new DataView(input.buffer, input.byteOffset).getBigUint64(0, true))
  const dataStart = input.byteOffset + 8 + n
  const end = input.byteOffset + input.byteLength
  let at = dataStart
  for (const [name, t] of r.right.tensors) {
    expect(t.name).toBe(name)
    expect(t.bytes.buffer).toBe(input.buffer)
    expect(t.bytes.byteOffset).toBe(at) // contiguous, in offset order, from the start of the data
    at += t.bytes.byteLength
    expect(at).toBeLessThanOrEqual(end)
    const count = t.shape.reduce((a, b) => a * b, 1)
    expect(t.bytes.byteLength).toBe(count * dtypeSize(t.dtype))
    expect(toFloat32(t).length).toBe(count)
  }
  expect(at).toBe(end)
  return 'ok'
}

const validFileArb = fc
  .tuple(tensorsArb(4), fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }), { nil: undefined }))
  .map(([tensors, metadata]) =>
    serializeSafetensors(
      tensors.map((t) => t.input),
      metadata,
    ),
  )

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'length'; value: bigint }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 300n })) }),
)

const mutate = (file: Uint8Array, m: Mutation): Uint8Array => {
  const at = file.length === 0 ? 0 : m.kind === 'length' ? 0 : (m as { at: number }).at % (file.length + 1)
  switch (m.kind) {
    case 'flip': {
      const out = file.slice()
      if (at < out.length) out[at] ^= 1 << m.bit
      return out
    }
    case 'set': {
      const out = file.slice()
      if (at < out.length) out[at] = m.value
      return out
    }
    case 'truncate':
      return file.slice(0, at)
    case 'insert': {
      const out = new Uint8Array(file.length + m.bytes.length)
      out.set(file.subarray(0, at))
      out.set(m.bytes, at)
      out.set(file.subarray(at), at + m.bytes.length)
      return out
    }
    case 'delete': {
      const out = new Uint8Array(Math.max(0, file.length - m.length))
      out.set(file.subarray(0, at).subarray(0, out.length))
      if (at < out.length) out.set(file.subarray(at + m.length), at)
      return out
    }
    case 'length': {
      const out = file.slice()
      if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, m.value, true)
      return out
    }
  }
}

/** Edits to the JSON header of a valid file, written back with a correct length prefix. */
type HeaderEdit =
  | { kind: 'setField'; tensor: number; field: string; value: unknown }
  | { kind: 'deleteField'; tensor: number; field: string }
  | { kind: 'shiftOffset'; tensor: number; which: 0 | 1; delta: number }
  | { kind: 'setDim'; tensor: number; dim: number; value: number }
  | { kind: 'dtype'; tensor: number; dtype: string }
  | { kind: 'duplicate'; tensor: number }
  | { kind: 'addEntry'; name: string; value: unknown }
  | { kind: 'metadata'; value: unknown }
  | { kind: 'replaceHeader'; value: unknown }

const fieldArb = fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra')
const headerEditArb: fc.Arbitrary<HeaderEdit> = fc.oneof(
  fc.record({ kind: fc.constant('setField' as const), tensor: fc.nat(), field: fieldArb, value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('deleteField' as const), tensor: fc.nat(), field: fieldArb }),
  fc.record({
    kind: fc.constant('shiftOffset' as const),
    tensor: fc.nat(),
    which: fc.constantFrom(0 as const, 1 as const),
    delta: fc.oneof(fc.integer({ min: -9, max: 9 }), fc.constantFrom(2 ** 40, 2 ** 53, -(2 ** 53), 0.5)),
  }),
  fc.record({
    kind: fc.constant('setDim' as const),
    tensor: fc.nat(),
    dim: fc.nat(),
    value: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(2 ** 31, 2 ** 53 - 1, 2 ** 64, -1, 1.5)),
  }),
  fc.record({ kind: fc.constant('dtype' as const), tensor: fc.nat(), dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'f32', '') }),
  fc.record({ kind: fc.constant('duplicate' as const), tensor: fc.nat() }),
  fc.record({ kind: fc.constant('addEntry' as const), name: fc.string({ maxLength: 4 }), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('metadata' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('replaceHeader' as const), value: fc.jsonValue({ maxDepth: 3 }) }),
)

const editHeader = (file: Uint8Array, edit: HeaderEdit): Uint8Array => {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true))
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>
  const data = file.subarray(8 + n)
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return file // after a replaceHeader
  const names = Object.keys(header).filter((k) => k !== '__metadata__')
  const pick = (i: number): Record<string, unknown> | undefined => {
    const e: unknown = names.length === 0 ? undefined : header[names[i % names.length]]
    return typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : undefined
  }
  let text: string | undefined
  switch (edit.kind) {
    case 'setField': {
      const e = pick(edit.tensor)
      if (e) e[edit.field] = edit.value
      break
    }
    case 'deleteField': {
      const e = pick(edit.tensor)
      if (e) delete e[edit.field]
      break
    }
    case 'shiftOffset': {
      const offsets = pick(edit.tensor)?.data_offsets
      if (Array.isArray(offsets) && typeof offsets[edit.which] === 'number') offsets[edit.which] += edit.delta
      break
    }
    case 'setDim': {
      const e = pick(edit.tensor)
      const shape: unknown = e?.shape
      if (Array.isArray(shape) && shape.length > 0) shape[edit.dim % shape.length] = edit.value
      else if (Array.isArray(shape)) shape.push(edit.value)
      break
    }
    case 'dtype': {
      const e = pick(edit.tensor)
      if (e) e.dtype = edit.dtype
      break
    }
    case 'duplicate': {
      if (names.length > 0) {
        const name = names[edit.tensor % names.length]
        const body = JSON.stringify(header)
        text = `${body.slice(0, -1)}${body.length > 2 ? ',' : ''}${JSON.stringify(name)}:${JSON.stringify(header[name])}}`
      }
      break
    }
    case 'addEntry':
      header[edit.name] = edit.value as Record<string, unknown>
      break
    case 'metadata':
      header.__metadata__ = edit.value as Record<string, unknown>
      break
    case 'replaceHeader':
      text = JSON.stringify(edit.value) ?? 'undefined'
      break
  }
  const body = text ?? JSON.stringify(header)
  const json = new TextEncoder().encode(body)
  return build(body, data, json.length)
}

describe('parseSafetensors never throws and never accepts a tensor outside its input', () => {
  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat(16), fc.nat(16)], { numRuns: 2000 })('(a) random bytes', (bytes, before, after) => {
    check(embed(bytes, before, after))
  })

  test.prop([fc.bigInt({ min: 0n, max: 200n }), fc.string({ maxLength: 120 }), fc.uint8Array({ maxLength: 64 })], { numRuns: 2000 })(
    '(a) random bytes behind a plausible length prefix',
    (n, text, tail) => {
      const file = build(text, tail, n)
      check(embed(file, 3, 5))
    },
  )

  test.prop([validFileArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.nat(8)], { numRuns: 700 })(
    '(b) bit flips, truncation, insertion, deletion and length edits of valid files',
    (file, mutations, before) => {
      expect(check(file)).toBe('ok')
      const damaged = mutations.reduce(mutate, file)
      check(embed(damaged, before, 7))
    },
  )

  test.prop([validFileArb, fc.array(headerEditArb, { minLength: 1, maxLength: 3 })], { numRuns: 700 })('(b) edits of the JSON header of valid files', (file, edits) => {
    const edited = edits.reduce(editHeader, file)
    check(embed(edited, 1, 1))
  })
})

describe('the fuzzers reach the checks', () => {
  it('damaged files hit every parse check, and some damage is harmless', () => {
    const tags = new Map<string, number>()
    const tally = (tag: string) => tags.set(tag, (tags.get(tag) ?? 0) + 1)
    const damaged = fc.sample(fc.tuple(validFileArb, fc.array(mutationArb, { minLength: 1, maxLength: 2 })), { numRuns: 600, seed: 42 })
    for (const [file, ms] of damaged) tally(check(ms.reduce(mutate, file)))
    const edited = fc.sample(fc.tuple(validFileArb, fc.array(headerEditArb, { minLength: 1, maxLength: 2 })), { numRuns: 600, seed: 42 })
    for (const [file, es] of edited) tally(check(es.reduce(editHeader, file)))
    // With this seed every parse check is reached at least once (the rarest: overflow, overlap).
    expect([...tags.keys()].sort()).toEqual([
      'DuplicateTensorName',
      'HeaderTooLarge',
      'HeaderTooSmall',
      'InvalidHeaderJson',
      'InvalidHeaderLength',
      'InvalidHeaderStructure',
      'InvalidHeaderUtf8',
      'InvalidMetadata',
      'InvalidOffsets',
      'OffsetGap',
      'OffsetOverlap',
      'TensorSizeMismatch',
      'TrailingBytes',
      'TruncatedData',
      'UnsupportedDtype',
      'ValidationOverflow',
      'ok',
    ])
  })
})
