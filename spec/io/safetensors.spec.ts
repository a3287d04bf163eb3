import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import * as E from 'fp-ts/lib/Either.js'
import {
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  toInt32,
  type Safetensors,
  type SafetensorsError,
  type SafetensorsErrorTag,
  type TensorEntry,
} from '../../src/io/safetensors.js'
import { build, entry, metadataArb, tensorsArb } from './safetensors-helpers.js'

const ok = (bytes: Uint8Array): Safetensors => {
  const r = parseSafetensors(bytes)
  if (E.isLeft(r)) throw new Error(`expected a valid file, got ${r.left._tag}: ${r.left.message}`)
  return r.right
}

const fails = (bytes: Uint8Array, tag: SafetensorsErrorTag, options?: { maxHeaderBytes?: number }): SafetensorsError => {
  const r = parseSafetensors(bytes, options)
  if (E.isRight(r)) throw new Error(`expected ${tag}, got a valid file`)
  expect(r.left._tag, r.left.message).toBe(tag)
  return r.left
}

const f32Bytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer)
const get = (s: Safetensors, name: string): TensorEntry => {
  const e = s.tensors.get(name)
  if (e === undefined) throw new Error(`no tensor ${name}`)
  return e
}

describe('serializeSafetensors: byte-exact with the reference implementation', () => {
  // The expected bytes are those of the reference's own unit tests (safetensors/src/tensor.rs).
  it('one F32 tensor', () => {
    const out = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }])
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91,
      49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0,
      0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ])
  })

  it('pads the header with spaces to a multiple of 8 bytes', () => {
    const out = serializeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }])
    expect(Array.from(out.subarray(0, 8))).toEqual([72, 0, 0, 0, 0, 0, 0, 0])
    expect(new TextDecoder().decode(out.subarray(8, 80))).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ')
    const t = get(ok(out), 'attn0')
    expect(t.bytes.byteOffset % 4).toBe(0)
  })

  it('no tensors, with and without metadata', () => {
    expect(Array.from(serializeSafetensors([]))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
    expect(Array.from(serializeSafetensors([], { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34,
      125, 125, 32, 32, 32, 32, 32,
    ])
    expect(ok(serializeSafetensors([], { framework: 'pt' })).metadata).toEqual({ framework: 'pt' })
  })

  it("parses the reference's documentation example", () => {
    const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'
    expect(header.length).toBe(60) // '<' in the example's length prefix
    const s = ok(build(header, 16))
    const t = get(s, 'test')
    expect(t.dtype).toBe('I32')
    expect(t.shape).toEqual([2, 2])
    expect(Array.from(E.getOrElseW(() => [])(toInt32(t)))).toEqual([0, 0, 0, 0])
  })
})

describe('round trips', () => {
  test.prop([tensorsArb(), metadataArb], { numRuns: 150 })('serialize, parse, read back: same names (in order), dtypes, shapes and values', (tensors, metadata) => {
    const bytes = serializeSafetensors(
      tensors.map((t) => t.input),
      metadata,
    )
    const s = ok(bytes)
    expect([...s.tensors.keys()]).toEqual(tensors.map((t) => t.input.name))
    expect(Object.entries(s.metadata).sort()).toEqual(Object.entries(metadata ?? {}).sort())
    for (const t of tensors) {
      const e = get(s, t.input.name)
      expect(e.dtype).toBe(t.input.dtype)
      expect(e.shape).toEqual(t.input.shape)
      expect(e.bytes.buffer).toBe(bytes.buffer) // a view, not a copy
      expect(Array.from(toFloat32(e))).toEqual(t.floats)
      const ints = toInt32(e)
      if (t.ints !== undefined) expect(E.isRight(ints) && Array.from(ints.right)).toEqual(t.ints)
      else expect(E.isLeft(ints)).toBe(true)
    }
    // Writing the parsed entries back (raw bytes) gives the same file.
    expect(serializeSafetensors([...s.tensors.values()], metadata)).toEqual(bytes)
  })

  test.prop([tensorsArb(5, ['F32']), fc.integer({ min: 1, max: 7 })], { numRuns: 60 })('F32 reads are zero-copy when aligned and exact copies when not', (tensors, shift) => {
    const bytes = serializeSafetensors(tensors.map((t) => t.input))
    for (const t of tensors) {
      const f = toFloat32(get(ok(bytes), t.input.name))
      expect(f.buffer).toBe(bytes.buffer)
      expect(Array.from(f)).toEqual(t.floats)
    }
    // The same file at an odd place in a larger buffer: tensors are misaligned, reads copy.
    const shifted = new Uint8Array(bytes.length + shift)
    shifted.set(bytes, shift)
    const view = shifted.subarray(shift)
    for (const t of tensors) {
      const e = get(ok(view), t.input.name)
      expect(e.bytes.buffer).toBe(shifted.buffer)
      const f = toFloat32(e)
      if (shift % 4 !== 0 && e.bytes.byteLength > 0) expect(f.buffer).not.toBe(shifted.buffer)
      expect(Array.from(f)).toEqual(t.floats)
    }
  })

  it('encodes float32 data to F16 and BF16 (nearest even) when asked', () => {
    const data = new Float32Array([1, 0.1, 65504, 70000, -(2 ** -24), 2 ** -26])
    const s = ok(
      serializeSafetensors([
        { name: 'h', dtype: 'F16', shape: [6], data },
        { name: 'b', dtype: 'BF16', shape: [2, 3], data },
      ]),
    )
    expect(Array.from(new Uint16Array(get(s, 'h').bytes.slice().buffer))).toEqual([0x3c00, 0x2e66, 0x7bff, 0x7c00, 0x8001, 0x0000])
    expect(Array.from(toFloat32(get(s, 'h')))).toEqual([1, 0.0999755859375, 65504, Infinity, -(2 ** -24), 0])
    expect(Array.from(toFloat32(get(s, 'b')))).toEqual([1, 0.10009765625, 65536, 70144, -(2 ** -24), 2 ** -26])
  })

  it('accepts a Map, keeps its order, and handles awkward names', () => {
    const names = ['__proto__', 'constructor', '', '0', 'é\u{1F600}', '\ud800', 'a"b\\c\n']
    const m = new Map(names.map((n, i) => [n, { dtype: 'I32' as const, shape: [], data: [i] }]))
    const s = ok(
      serializeSafetensors(
        m,
        Object.fromEntries([
          ['__proto__', 'x'],
          ['k"', 'v\n'],
        ]),
      ),
    )
    expect([...s.tensors.keys()]).toEqual(names)
    names.forEach((n, i) => expect(E.getOrElseW(() => [])(toInt32(get(s, n)))).toEqual(Int32Array.from([i])))
    expect(Object.getPrototypeOf(s.metadata)).toBe(Object.prototype)
    expect(Object.entries(s.metadata)).toEqual([
      ['__proto__', 'x'],
      ['k"', 'v\n'],
    ])
  })

  it('writes raw bytes as given (a parsed entry can be written back)', () => {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6])
    const s = ok(serializeSafetensors([{ name: 'x', dtype: 'F16', shape: [3], bytes: raw }]))
    expect(Array.from(get(s, 'x').bytes)).toEqual([1, 2, 3, 4, 5, 6])
  })
})

describe('serializeSafetensors rejects inconsistent input, naming the tensor', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      'duplicate names',
      () =>
        serializeSafetensors([
          { name: 'w', dtype: 'F32', shape: [], data: [1] },
          { name: 'w', dtype: 'F32', shape: [], data: [1] },
        ]),
      /"w" is given twice/,
    ],
    ['the reserved name', () => serializeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [], data: [1] }]), /reserved/],
    ['wrong length', () => serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]), /"w".*needs 4 elements, got 3 elements/],
    ['wrong raw length', () => serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], bytes: new Uint8Array(7) }]), /"w".*got 7 bytes/],
    ['bad shape', () => serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [-1], data: [] }]), /"w".*non-negative integers/],
    ['BOOL not 0/1', () => serializeSafetensors([{ name: 'm', dtype: 'BOOL', shape: [2], data: [0, 2] }]), /"m": element 1 is 2/],
    ['int out of range', () => serializeSafetensors([{ name: 'i', dtype: 'U8', shape: [1], data: [256] }]), /"i": element 0 is 256, out of range for U8/],
    ['non-integer', () => serializeSafetensors([{ name: 'i', dtype: 'I32', shape: [1], data: new Float32Array([1.5]) }]), /"i": element 0 is 1.5, not an integer/],
    ['bad dtype', () => serializeSafetensors([{ name: 'w', dtype: 'Q4' as 'F32', shape: [], data: [1] }]), /"w": unsupported dtype "Q4"/],
  ]
  for (const [what, f, message] of cases) it(what, () => expect(f).toThrow(message))
})

describe('parseSafetensors: each violation is its own error, naming the tensor', () => {
  const w = entry('F32', [2], 0, 8)

  it('HeaderTooSmall: shorter than 8 bytes', () => {
    for (let n = 0; n < 8; n++) expect(fails(new Uint8Array(n), 'HeaderTooSmall').message).toMatch(`${n} byte`)
  })

  it('HeaderTooLarge: over the cap (default 100 MB, or as given)', () => {
    expect(fails(build('{}', 0, 2n ** 63n), 'HeaderTooLarge').message).toMatch('9223372036854775808')
    expect(fails(build('{}', 0, 100_000_001), 'HeaderTooLarge').message).toMatch('limit of 100000000')
    fails(build('{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', 4), 'HeaderTooLarge', { maxHeaderBytes: 16 })
  })

  it('InvalidHeaderLength: the header runs past the end of the file', () => {
    expect(fails(build('{}', 0, 100), 'InvalidHeaderLength').message).toMatch('header length 100 bytes runs past the end of the file (10 bytes')
  })

  it('InvalidHeaderUtf8', () => {
    const bytes = build('{"w":{}}')
    bytes[10] = 0xff
    fails(bytes, 'InvalidHeaderUtf8')
  })

  it('InvalidHeaderJson: not JSON, a byte-order mark, trailing garbage', () => {
    fails(build('{"w":'), 'InvalidHeaderJson')
    fails(build('\ufeff{}'), 'InvalidHeaderJson')
    fails(build('{}x'), 'InvalidHeaderJson')
    fails(build('{}\0\0'), 'InvalidHeaderJson')
    fails(build(''), 'InvalidHeaderJson')
  })

  it('InvalidHeaderStructure: not an object', () => {
    for (const h of ['[]', '1', 'null', '"x"']) expect(fails(build(h), 'InvalidHeaderStructure').message).toMatch('not a JSON object')
  })

  it('InvalidHeaderStructure: an entry with missing or mistyped fields names the tensor and the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ shape: [2], data_offsets: [0, 8] }, /tensor "w": dtype: missing, expected a string/],
      [{ dtype: 'F32', data_offsets: [0, 8] }, /tensor "w": shape: missing, expected an array/],
      [{ dtype: 'F32', shape: [2] }, /tensor "w": data_offsets: missing/],
      [{ dtype: 4, shape: [2], data_offsets: [0, 8] }, /tensor "w": dtype: expected a string, got 4/],
      [{ dtype: 'F32', shape: [-2], data_offsets: [0, 8] }, /tensor "w": shape.0: expected a non-negative integer, got -2/],
      [{ dtype: 'F32', shape: [2.5], data_offsets: [0, 8] }, /shape.0: expected a non-negative integer, got 2.5/],
      [{ dtype: 'F32', shape: [2 ** 53], data_offsets: [0, 8] }, /shape.0: expected a non-negative integer/],
      [{ dtype: 'F32', shape: '2', data_offsets: [0, 8] }, /shape: expected an array, got "2"/],
      [{ dtype: 'F32', shape: [2], data_offsets: [0, 8, 16] }, /data_offsets: expected an array of 2 non-negative integers/],
      [{ dtype: 'F32', shape: [2], data_offsets: ['0', '8'] }, /data_offsets: expected an array of 2/],
      [{ dtype: 'F32', shape: [2], data_offsets: [-8, 0] }, /data_offsets: expected an array of 2/],
      [[1, 2], /tensor "w": expected an object, got an array of 2 items/],
      ['F32', /tensor "w": expected an object, got "F32"/],
    ]
    for (const [value, message] of cases) {
      const e = fails(build({ w: value }, 8), 'InvalidHeaderStructure')
      expect(e.message).toMatch(message)
      expect(e._tag === 'InvalidHeaderStructure' && e.tensor).toBe('w')
    }
  })

  it('InvalidHeaderStructure: a field given twice', () => {
    const e = fails(build('{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8), 'InvalidHeaderStructure')
    expect(e.message).toBe('tensor "w": field "dtype" appears twice')
  })

  it('extra fields in an entry are ignored, as the reference does', () => {
    expect(ok(build({ w: { ...w, extra: true } }, 8)).tensors.size).toBe(1)
    expect(ok(build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":{"a":1,"a":2}}}`, 8)).tensors.size).toBe(1)
  })

  it('InvalidMetadata: not a string map, or a key twice', () => {
    expect(fails(build({ __metadata__: { a: 1 } }), 'InvalidMetadata').message).toMatch('__metadata__: a: expected a string, got 1')
    fails(build({ __metadata__: 'x' }), 'InvalidMetadata')
    fails(build({ __metadata__: null }), 'InvalidMetadata')
    fails(build({ __metadata__: ['a'] }), 'InvalidMetadata')
    fails(build('{"__metadata__":{"a":"1","a":"2"}}'), 'InvalidMetadata')
    fails(build('{"__metadata__":{},"__metadata__":{}}'), 'InvalidMetadata')
  })

  it('DuplicateTensorName, also when spelled with escapes', () => {
    const h = JSON.stringify(w)
    const e = fails(build(`{"w":${h},"w":${h}}`, 8), 'DuplicateTensorName')
    expect(e.message).toBe('tensor "w" appears twice in the header')
    expect(fails(build(`{"w":${h},"\\u0077":${h}}`, 8), 'DuplicateTensorName').message).toMatch('"w"')
    // The same name nested deeper is not a duplicate; a string value equal to a key is not a key.
    expect(ok(build(`{"w":${h},"v":{"dtype":"F32","shape":[2],"data_offsets":[8,16],"w":"w"}}`, 16)).tensors.size).toBe(2)
  })

  it('UnsupportedDtype names the tensor and the dtype', () => {
    for (const d of ['F8_E4M3', 'C64', 'f32', '']) {
      const e = fails(build({ w: entry(d, [2], 0, 2) }, 2), 'UnsupportedDtype')
      expect(e.message).toMatch(`tensor "w": dtype ${JSON.stringify(d)} is not supported`)
    }
  })

  it('InvalidOffsets: begin after end', () => {
    expect(fails(build({ w: entry('F32', [1], 8, 4) }, 8), 'InvalidOffsets').message).toBe('tensor "w": data_offsets [8, 4] end before they begin')
  })

  it('OffsetGap: data not starting at 0, or a hole between tensors', () => {
    expect(fails(build({ w: entry('F32', [1], 4, 8) }, 8), 'OffsetGap').message).toMatch('tensor "w": data begins at byte 4 but the data buffer starts at 0')
    const e = fails(build({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, 12), 'OffsetGap')
    expect(e.message).toMatch('tensor "b": data begins at byte 8 but the previous tensor "a" ends at 4 (a hole of 4 bytes)')
  })

  it('OffsetOverlap: two tensors sharing bytes', () => {
    const e = fails(build({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, 12), 'OffsetOverlap')
    expect(e.message).toBe('tensor "b": data begins at byte 4, inside tensor "a" which ends at 8')
    fails(build({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 0, 8) }, 8), 'OffsetOverlap')
  })

  it('tensors may be listed in any order; zero-size tensors may share an offset', () => {
    const s = ok(build({ b: entry('F32', [1], 4, 8), e1: entry('F32', [0], 4, 4), a: entry('F32', [1], 0, 4), e2: entry('I8', [3, 0], 8, 8) }, f32Bytes([1, 2])))
    expect([...s.tensors.keys()]).toEqual(['a', 'e1', 'b', 'e2'])
    expect(Array.from(toFloat32(get(s, 'b')))).toEqual([2])
    expect(toFloat32(get(s, 'e1')).length).toBe(0)
  })

  it('ValidationOverflow: a shape whose size is not a safe integer', () => {
    expect(fails(build({ w: entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], 0, 8) }, 8), 'ValidationOverflow').message).toMatch('tensor "w": shape [1073741824, 1073741824, 1073741824]')
    fails(build({ w: entry('F64', [2 ** 25, 2 ** 25], 0, 8) }, 8), 'ValidationOverflow') // count fits, bytes do not
  })

  it('TensorSizeMismatch: byte range not matching shape and dtype', () => {
    expect(fails(build({ w: entry('F32', [3], 0, 8) }, 8), 'TensorSizeMismatch').message).toBe('tensor "w": shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8')
    fails(build({ w: entry('F32', [], 0, 0) }, 0), 'TensorSizeMismatch') // a scalar has one element
    fails(build({ w: entry('F16', [2], 0, 8) }, 8), 'TensorSizeMismatch')
  })

  it('TruncatedData: the tensors need more bytes than the file has', () => {
    const e = fails(build({ a: entry('F32', [1], 0, 4), b: entry('F32', [2], 4, 12) }, 10), 'TruncatedData')
    expect(e.message).toBe('tensor "b": data ends at byte 12 of the data buffer but the file has only 10 bytes of data (truncated?)')
  })

  it('TrailingBytes: data after the last tensor', () => {
    expect(fails(build({ w }, 9), 'TrailingBytes').message).toBe('file has 1 byte after the end of the last tensor "w" (at byte 8 of 9)')
    expect(fails(build({}, 3), 'TrailingBytes').message).toBe('file has 3 bytes of data but no tensors')
  })

  it('a header declaring a huge tensor is an error, without allocating for it', () => {
    const huge = 10 ** 12 // 1 TB of F32
    const file = build({ w: entry('F32', [huge / 4], 0, huge) }, 4)
    expect(file.length).toBeLessThan(100)
    const before = process.memoryUsage().arrayBuffers
    const e = fails(file, 'TruncatedData')
    const after = process.memoryUsage().arrayBuffers
    expect(e.message).toMatch('tensor "w": data ends at byte 1000000000000')
    expect(after - before).toBeLessThan(1 << 20)
    // And one whose count overflows before it could be compared with the file.
    fails(build({ w: entry('U8', [2 ** 26, 2 ** 26, 2 ** 26], 0, 4) }, 4), 'ValidationOverflow')
  })

  it('an exception inside (here: null instead of bytes) is returned as UnexpectedError, not thrown', () => {
    const r = parseSafetensors(null as unknown as Uint8Array)
    expect(E.isLeft(r) && r.left._tag).toBe('UnexpectedError')
  })

  it('accepts a Node Buffer (a Uint8Array subclass) sliced from a larger one', () => {
    const file = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [1], data: [3] }])
    const buf = Buffer.concat([Buffer.from('xyz'), Buffer.from(file)]).subarray(3)
    expect(Array.from(toFloat32(get(ok(buf), 'w')))).toEqual([3])
  })

  it('deeply nested JSON in the header is an error value, not a stack overflow', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000)
    fails(build(`{"w":${deep}}`), 'InvalidHeaderStructure')
    fails(build(`{"__metadata__":{"a":${deep}}}`), 'InvalidMetadata')
  })
})

describe('toFloat32 and toInt32', () => {
  const one = (dtype: string, shape: number[], data: Uint8Array) => get(ok(build({ x: entry(dtype, shape, 0, data.length) }, data)), 'x')

  it('convert every dtype', () => {
    expect(Array.from(toFloat32(one('BOOL', [3], new Uint8Array([1, 0, 1]))))).toEqual([1, 0, 1])
    expect(Array.from(toFloat32(one('I8', [2], new Uint8Array([0xff, 0x7f]))))).toEqual([-1, 127])
    expect(Array.from(toFloat32(one('I64', [2], new Uint8Array(BigInt64Array.from([-5n, 2n ** 40n]).buffer))))).toEqual([-5, 2 ** 40])
    expect(Array.from(toFloat32(one('U64', [1], new Uint8Array(BigUint64Array.from([2n ** 64n - 1n]).buffer))))).toEqual([2 ** 64])
    expect(Array.from(toFloat32(one('F64', [1], new Uint8Array(Float64Array.from([0.1]).buffer))))).toEqual([Math.fround(0.1)])
    expect(Array.from(toFloat32(one('F16', [1], new Uint8Array([0x00, 0x3c]))))).toEqual([1])
    expect(Array.from(toFloat32(one('BF16', [1], new Uint8Array([0x80, 0x3f]))))).toEqual([1])
  })

  it('toInt32 is a zero-copy view for aligned I32', () => {
    const bytes = serializeSafetensors([{ name: 'ids', dtype: 'I32', shape: [3], data: new Int32Array([5, -1, 7]) }])
    const r = toInt32(get(ok(bytes), 'ids'))
    expect(E.isRight(r) && r.right.buffer === bytes.buffer).toBe(true)
    expect(E.isRight(r) && Array.from(r.right)).toEqual([5, -1, 7])
  })

  it('toInt32 refuses floats and values outside int32, naming the tensor', () => {
    const f = toInt32(one('F32', [1], f32Bytes([1])))
    expect(E.isLeft(f) && f.left._tag).toBe('NotAnIntegerDtype')
    expect(E.isLeft(f) && f.left.message).toBe('tensor "x": dtype F32 holds floats, not integers')
    const big = toInt32(one('I64', [2], new Uint8Array(BigInt64Array.from([1n, 2n ** 31n]).buffer)))
    expect(E.isLeft(big) && big.left.message).toBe('tensor "x": element 1 is 2147483648, outside the int32 range')
    const u = toInt32(one('U32', [1], new Uint8Array(Uint32Array.from([2 ** 31]).buffer)))
    expect(E.isLeft(u) && u.left._tag).toBe('IntegerOutOfRange')
    const fine = toInt32(one('I64', [2], new Uint8Array(BigInt64Array.from([-(2n ** 31n), 2n ** 31n - 1n]).buffer)))
    expect(E.isRight(fine) && Array.from(fine.right)).toEqual([-(2 ** 31), 2 ** 31 - 1])
  })
})
