/**
 * The safetensors format (Hugging Face), read and written on plain bytes: no tfjs, no files.
 *
 * A file is: 8 bytes, a little-endian u64 N; N bytes of UTF-8 JSON mapping tensor names to
 * `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`, plus an optional
 * `"__metadata__"` string→string map; then the data buffer, offsets counted from its start.
 *
 * {@link parseSafetensors} checks a file as strictly as the reference implementation
 * (huggingface/safetensors, `tensor.rs`) and returns every problem as a value naming the tensor:
 * it never throws and never allocates from sizes the header declares (tensors are views into the
 * input, checked against its real length first), so a hostile or damaged file costs at most its
 * own header. {@link toFloat32} and {@link toInt32} turn a tensor's bytes into arrays;
 * {@link serializeSafetensors} writes a file.
 *
 * @example
 * const file = serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }])
 * const parsed = parseSafetensors(file)  // Right({ metadata: {}, tensors: Map { 'w' => ... } })
 * if (E.isRight(parsed)) toFloat32(parsed.right.tensors.get('w')!)  // Float32Array [1, 2]
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { formatValidationErrors } from '../core/errors.js'
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from './float16.js'

// ---------------------------------------------------------------------------------------------
// Dtypes

type TypedArrayCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor

type DataViewGetter = 'getUint8' | 'getInt8' | 'getUint16' | 'getInt16' | 'getUint32' | 'getInt32' | 'getFloat32' | 'getFloat64' | 'getBigInt64' | 'getBigUint64'

interface DtypeInfo {
  /** Bytes per element. */
  readonly size: number
  /** The typed array holding one element per entry (F16/BF16: their bit patterns). */
  readonly array: TypedArrayCtor
  readonly get: DataViewGetter
  readonly kind: 'float' | 'int' | 'bool'
}

const DTYPES = {
  BOOL: { size: 1, array: Uint8Array, get: 'getUint8', kind: 'bool' },
  U8: { size: 1, array: Uint8Array, get: 'getUint8', kind: 'int' },
  I8: { size: 1, array: Int8Array, get: 'getInt8', kind: 'int' },
  U16: { size: 2, array: Uint16Array, get: 'getUint16', kind: 'int' },
  I16: { size: 2, array: Int16Array, get: 'getInt16', kind: 'int' },
  F16: { size: 2, array: Uint16Array, get: 'getUint16', kind: 'float' },
  BF16: { size: 2, array: Uint16Array, get: 'getUint16', kind: 'float' },
  U32: { size: 4, array: Uint32Array, get: 'getUint32', kind: 'int' },
  I32: { size: 4, array: Int32Array, get: 'getInt32', kind: 'int' },
  F32: { size: 4, array: Float32Array, get: 'getFloat32', kind: 'float' },
  F64: { size: 8, array: Float64Array, get: 'getFloat64', kind: 'float' },
  I64: { size: 8, array: BigInt64Array, get: 'getBigInt64', kind: 'int' },
  U64: { size: 8, array: BigUint64Array, get: 'getBigUint64', kind: 'int' },
} as const satisfies Record<string, DtypeInfo>

/** The element types this module reads and writes (the safetensors names). */
export type Dtype = keyof typeof DTYPES

/** Every supported dtype, narrowest first. */
export const DTYPE_NAMES: readonly Dtype[] = Object.freeze(Object.keys(DTYPES) as Dtype[])

/** True when `s` names a supported dtype. */
export const isDtype = (s: string): s is Dtype => Object.hasOwn(DTYPES, s)

/** Bytes per element of a dtype. */
export const dtypeSize = (d: Dtype): number => DTYPES[d].size

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// ---------------------------------------------------------------------------------------------
// Values

/** One tensor of a parsed file. `bytes` is a view into the parsed input (no copy). */
export interface TensorEntry {
  readonly name: string
  readonly dtype: Dtype
  readonly shape: readonly number[]
  readonly bytes: Uint8Array
}

/** A parsed file: its `__metadata__` (empty when absent) and its tensors in file (offset) order. */
export interface Safetensors {
  readonly metadata: Readonly<Record<string, string>>
  readonly tensors: ReadonlyMap<string, TensorEntry>
}

/** Options for {@link parseSafetensors}. */
export interface ParseOptions {
  /** The largest header accepted, in bytes (default 100 000 000, as the reference). */
  readonly maxHeaderBytes?: number
}

/** The reference implementation's header cap: 100 MB. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000

/**
 * Everything that can be wrong with a safetensors file or a conversion, one tag per problem.
 * `message` is a sentence naming the tensor (when there is one) and the numbers involved.
 */
export type SafetensorsError =
  /** The input is shorter than the 8-byte length prefix. */
  | { readonly _tag: 'HeaderTooSmall'; readonly fileBytes: number; readonly message: string }
  /** The declared header length is over the cap. */
  | { readonly _tag: 'HeaderTooLarge'; readonly headerBytes: number; readonly maxHeaderBytes: number; readonly message: string }
  /** The declared header length runs past the end of the input. */
  | { readonly _tag: 'InvalidHeaderLength'; readonly headerBytes: number; readonly fileBytes: number; readonly message: string }
  /** The header bytes are not valid UTF-8. */
  | { readonly _tag: 'InvalidHeaderUtf8'; readonly message: string }
  /** The header is not valid JSON. */
  | { readonly _tag: 'InvalidHeaderJson'; readonly message: string }
  /** The header is JSON but not an object, or a tensor entry lacks or mistypes a field. */
  | { readonly _tag: 'InvalidHeaderStructure'; readonly tensor?: string; readonly message: string }
  /** `__metadata__` is not a map from strings to strings. */
  | { readonly _tag: 'InvalidMetadata'; readonly message: string }
  /** Two tensors have the same name. */
  | { readonly _tag: 'DuplicateTensorName'; readonly tensor: string; readonly message: string }
  /** A tensor's dtype is not one this module reads. */
  | { readonly _tag: 'UnsupportedDtype'; readonly tensor: string; readonly dtype: string; readonly message: string }
  /** A tensor's data_offsets have begin > end. */
  | { readonly _tag: 'InvalidOffsets'; readonly tensor: string; readonly begin: number; readonly end: number; readonly message: string }
  /** Sorted by offset, a tensor begins after the previous one ends (unused bytes between them). */
  | { readonly _tag: 'OffsetGap'; readonly tensor: string; readonly begin: number; readonly expected: number; readonly message: string }
  /** Sorted by offset, a tensor begins before the previous one ends (shared bytes). */
  | { readonly _tag: 'OffsetOverlap'; readonly tensor: string; readonly previous: string; readonly begin: number; readonly expected: number; readonly message: string }
  /** Element count or byte size of a shape is not a safe integer. */
  | { readonly _tag: 'ValidationOverflow'; readonly tensor: string; readonly message: string }
  /** A tensor's byte range does not match its shape and dtype. */
  | { readonly _tag: 'TensorSizeMismatch'; readonly tensor: string; readonly expectedBytes: number; readonly actualBytes: number; readonly message: string }
  /** The tensors need more data than the input has after the header. */
  | { readonly _tag: 'TruncatedData'; readonly tensor: string; readonly neededBytes: number; readonly availableBytes: number; readonly message: string }
  /** The input has bytes after the last tensor. */
  | { readonly _tag: 'TrailingBytes'; readonly usedBytes: number; readonly availableBytes: number; readonly message: string }
  /** {@link toInt32}: the tensor holds floats. */
  | { readonly _tag: 'NotAnIntegerDtype'; readonly tensor: string; readonly dtype: Dtype; readonly message: string }
  /** {@link toInt32}: a value does not fit in an int32. */
  | { readonly _tag: 'IntegerOutOfRange'; readonly tensor: string; readonly index: number; readonly value: string; readonly message: string }
  /** A bug: an exception escaped the checks. Never expected; reported rather than thrown. */
  | { readonly _tag: 'UnexpectedError'; readonly message: string }

/** The tag of a {@link SafetensorsError}. */
export type SafetensorsErrorTag = SafetensorsError['_tag']

const q = (name: string) => JSON.stringify(name)
const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`

// ---------------------------------------------------------------------------------------------
// Header codecs

const isNonNegativeSafeInteger = (u: unknown): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0

/** A JSON number that is a safe, non-negative integer (a dimension or an offset). */
const NonNegativeSafeInteger = new t.Type<number, number, unknown>(
  'a non-negative integer',
  isNonNegativeSafeInteger,
  (u, c) => (isNonNegativeSafeInteger(u) ? t.success(u) : t.failure(u, c)),
  (n) => n,
)

/** Exactly two offsets (io-ts tuples would silently drop extra items). */
const OffsetPair = new t.Type<readonly [number, number], readonly [number, number], unknown>(
  'an array of 2 non-negative integers [begin, end]',
  (u): u is readonly [number, number] => Array.isArray(u) && u.length === 2 && u.every(isNonNegativeSafeInteger),
  (u, c) => (Array.isArray(u) && u.length === 2 && u.every(isNonNegativeSafeInteger) ? t.success([u[0], u[1]] as const) : t.failure(u, c)),
  (p) => p,
)

/**
 * One tensor's header entry. Unknown extra fields are ignored, as the reference does; a
 * missing or mistyped field is an error.
 */
const TensorInfoCodec = t.type({
  dtype: t.string,
  shape: t.array(NonNegativeSafeInteger),
  data_offsets: OffsetPair,
})

const MetadataCodec = t.record(t.string, t.string)

// ---------------------------------------------------------------------------------------------
// Parsing

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

interface Info {
  readonly name: string
  readonly dtype: Dtype
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
}

/**
 * Parses and checks a safetensors file held in memory. Tensors are views into `bytes`, which
 * must not be modified while they are in use. Returns the first problem found as a
 * {@link SafetensorsError}; never throws.
 */
export const parseSafetensors = (bytes: Uint8Array, options: ParseOptions = {}): E.Either<SafetensorsError, Safetensors> => {
  try {
    return parse(bytes, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES)
  } catch (e) {
    return E.left({ _tag: 'UnexpectedError', message: `safetensors: unexpected error while parsing: ${String(e)}` })
  }
}

const parse = (input: Uint8Array, maxHeaderBytes: number): E.Either<SafetensorsError, Safetensors> => {
  // A plain view of the same memory, so that tensors are plain Uint8Arrays even for a Node Buffer.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  const fileBytes = bytes.byteLength
  if (fileBytes < 8) {
    return E.left({
      _tag: 'HeaderTooSmall',
      fileBytes,
      message: `file is ${plural(fileBytes, 'byte')} long, shorter than the 8-byte header length`,
    })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lo = view.getUint32(0, true)
  const hi = view.getUint32(4, true)
  const n = hi * 2 ** 32 + lo // exact up to 2^53; anything above is far over any cap anyway
  if (n > maxHeaderBytes) {
    return E.left({
      _tag: 'HeaderTooLarge',
      headerBytes: n,
      maxHeaderBytes,
      message: `header length ${view.getBigUint64(0, true)} bytes is over the limit of ${maxHeaderBytes} bytes`,
    })
  }
  if (8 + n > fileBytes) {
    return E.left({
      _tag: 'InvalidHeaderLength',
      headerBytes: n,
      fileBytes,
      message: `header length ${n} bytes runs past the end of the file (${fileBytes} bytes, so at most ${fileBytes - 8} bytes of header)`,
    })
  }

  const text = decodeUtf8(bytes.subarray(8, 8 + n))
  if (text === undefined) return E.left({ _tag: 'InvalidHeaderUtf8', message: 'header is not valid UTF-8' })
  const json = parseJson(text)
  if (E.isLeft(json)) return E.left({ _tag: 'InvalidHeaderJson', message: `header is not valid JSON: ${json.left}` })
  const root = json.right
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    return E.left({ _tag: 'InvalidHeaderStructure', message: `header is not a JSON object (got ${root === null ? 'null' : Array.isArray(root) ? 'an array' : typeof root})` })
  }
  const keys = topLevelKeys(text)
  if (E.isLeft(keys)) return keys

  let metadata: Readonly<Record<string, string>> = Object.freeze({})
  const infos: Info[] = []
  for (const name of keys.right) {
    const value = (root as Record<string, unknown>)[name] // an own property: JSON.parse defines even "__proto__"
    if (name === '__metadata__') {
      const m = MetadataCodec.decode(value)
      if (E.isLeft(m)) {
        return E.left({ _tag: 'InvalidMetadata', message: `__metadata__: ${formatValidationErrors(m.left)} (it must map strings to strings)` })
      }
      // Rebuilt with defineProperty semantics so that a key like "__proto__" stays a plain key.
      metadata = Object.freeze(Object.fromEntries(Object.entries(value as Record<string, string>)))
      continue
    }
    const decoded = TensorInfoCodec.decode(value)
    if (E.isLeft(decoded)) {
      return E.left({ _tag: 'InvalidHeaderStructure', tensor: name, message: `tensor ${q(name)}: ${formatValidationErrors(decoded.left)}` })
    }
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = decoded.right
    if (!isDtype(dtype)) {
      return E.left({
        _tag: 'UnsupportedDtype',
        tensor: name,
        dtype,
        message: `tensor ${q(name)}: dtype ${q(dtype)} is not supported (supported: ${DTYPE_NAMES.join(', ')})`,
      })
    }
    infos.push({ name, dtype, shape: Object.freeze([...shape]), begin, end })
  }

  // As the reference: sort by (begin, end), then the ranges must tile [0, end of data) exactly.
  // The sort is stable, so zero-size tensors at the same offset keep their header order.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let start = 0
  let previous: string | undefined
  for (const info of infos) {
    const { name, begin, end } = info
    if (end < begin) {
      return E.left({ _tag: 'InvalidOffsets', tensor: name, begin, end, message: `tensor ${q(name)}: data_offsets [${begin}, ${end}] end before they begin` })
    }
    if (begin > start) {
      return E.left({
        _tag: 'OffsetGap',
        tensor: name,
        begin,
        expected: start,
        message: `tensor ${q(name)}: data begins at byte ${begin} but the ${previous === undefined ? 'data buffer starts at 0' : `previous tensor ${q(previous)} ends at ${start}`} (a hole of ${plural(begin - start, 'byte')})`,
      })
    }
    if (begin < start) {
      return E.left({
        _tag: 'OffsetOverlap',
        tensor: name,
        previous: previous ?? '',
        begin,
        expected: start,
        message: `tensor ${q(name)}: data begins at byte ${begin}, inside tensor ${q(previous ?? '')} which ends at ${start}`,
      })
    }
    const size = byteSize(info)
    if (size === undefined) {
      return E.left({
        _tag: 'ValidationOverflow',
        tensor: name,
        message: `tensor ${q(name)}: shape [${info.shape.join(', ')}] of ${info.dtype} has more bytes than can be counted exactly`,
      })
    }
    if (end - begin !== size) {
      return E.left({
        _tag: 'TensorSizeMismatch',
        tensor: name,
        expectedBytes: size,
        actualBytes: end - begin,
        message: `tensor ${q(name)}: shape [${info.shape.join(', ')}] of ${info.dtype} needs ${plural(size, 'byte')} but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      })
    }
    start = end
    previous = name
  }

  const dataStart = 8 + n
  const available = fileBytes - dataStart
  if (start > available) {
    const first = infos.find((i) => i.end > available) as Info
    return E.left({
      _tag: 'TruncatedData',
      tensor: first.name,
      neededBytes: start,
      availableBytes: available,
      message: `tensor ${q(first.name)}: data ends at byte ${first.end} of the data buffer but the file has only ${plural(available, 'byte')} of data (truncated?)`,
    })
  }
  if (start < available) {
    return E.left({
      _tag: 'TrailingBytes',
      usedBytes: start,
      availableBytes: available,
      message:
        previous === undefined
          ? `file has ${plural(available, 'byte')} of data but no tensors`
          : `file has ${plural(available - start, 'byte')} after the end of the last tensor ${q(previous)} (at byte ${start} of ${available})`,
    })
  }

  const tensors = new Map<string, TensorEntry>()
  for (const { name, dtype, shape, begin, end } of infos) {
    tensors.set(name, Object.freeze({ name, dtype, shape, bytes: bytes.subarray(dataStart + begin, dataStart + end) }))
  }
  return E.right(Object.freeze({ metadata, tensors }))
}

const decodeUtf8 = (b: Uint8Array): string | undefined => {
  try {
    return utf8.decode(b)
  } catch {
    return undefined
  }
}

const parseJson = (text: string): E.Either<string, unknown> => {
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch (e) {
    return E.left((e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')) // one line
  }
}

/** Product of the shape times the element size, or undefined if it is not a safe integer at any step. */
const byteSize = (info: { readonly dtype: Dtype; readonly shape: readonly number[] }): number | undefined => {
  let count = 1
  for (const d of info.shape) {
    count *= d
    if (!Number.isSafeInteger(count)) return undefined
  }
  const size = count * DTYPES[info.dtype].size
  return Number.isSafeInteger(size) ? size : undefined
}

/**
 * The keys of the top-level object of a valid JSON text, in the order written, or the first key
 * repeated at the top level or one level down (JSON.parse silently keeps the last one):
 * top-level keys are tensor names, the next ones fields or metadata keys. Linear and iterative,
 * so any nesting depth is fine.
 */
const topLevelKeys = (text: string): E.Either<SafetensorsError, readonly string[]> => {
  const order: string[] = []
  const stack: Array<Set<string> | null> = [] // a Set for an object, null for an array
  let prev = 0 // the last structural character: a string is a key right after '{' or ','
  let tensor = '' // the current top-level key
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      let j = i + 1
      let escaped = false
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j)
        if (d === 0x5c /* \ */) {
          escaped = true
          j++
        } else if (d === 0x22) break
      }
      const top = stack[stack.length - 1]
      // Only tensor names, entry fields and metadata keys matter (depth 1 and 2); deeper objects
      // sit in ignored extra fields or in values that fail to decode anyway.
      if (top && stack.length <= 2 && (prev === 0x7b || prev === 0x2c)) {
        const raw = text.slice(i, j + 1)
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1)
        if (top.has(key)) {
          if (stack.length === 1) {
            return E.left(
              key === '__metadata__'
                ? { _tag: 'InvalidMetadata', message: 'header has two "__metadata__" entries' }
                : { _tag: 'DuplicateTensorName', tensor: key, message: `tensor ${q(key)} appears twice in the header` },
            )
          }
          return E.left(
            tensor === '__metadata__'
              ? { _tag: 'InvalidMetadata', message: `__metadata__: key ${q(key)} appears twice` }
              : { _tag: 'InvalidHeaderStructure', tensor, message: `tensor ${q(tensor)}: field ${q(key)} appears twice` },
          )
        }
        top.add(key)
        if (stack.length === 1) {
          tensor = key
          order.push(key)
        }
      }
      prev = 0x22
      i = j
    } else if (c === 0x7b /* { */) {
      stack.push(new Set())
      prev = c
    } else if (c === 0x5b /* [ */) {
      stack.push(null)
      prev = c
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
      prev = c
    } else if (c === 0x2c /* , */ || c === 0x3a /* : */) {
      prev = c
    } else if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      prev = 1 // part of a number or literal
    }
  }
  return E.right(order)
}

// ---------------------------------------------------------------------------------------------
// Conversions

type NativeArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array

/**
 * The tensor's elements in their own typed array (F16/BF16 as bit patterns): a view over the
 * same bytes when they are aligned (and the machine is little-endian), otherwise a copy.
 */
const nativeArray = (entry: TensorEntry): NativeArray => {
  const { size, array, get } = DTYPES[entry.dtype]
  const { bytes } = entry
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`safetensors: tensor ${q(entry.name)} has ${bytes.byteLength} bytes, not a multiple of ${size} (${entry.dtype})`)
  }
  const count = bytes.byteLength / size
  if (LITTLE_ENDIAN || size === 1) {
    const source = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes) // a copy (Buffer#slice would not be)
    return new array(source.buffer as ArrayBuffer, source.byteOffset, count)
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new array(count)
  const read = dv[get].bind(dv) as (offset: number, littleEndian: boolean) => never
  for (let i = 0; i < count; i++) out[i] = read(i * size, true)
  return out
}

/**
 * A tensor's values as float32. F32 is a zero-copy view into the file's bytes when its offset is
 * 4-aligned (safetensors writers align it), else one copy; F16 and BF16 are decoded exactly; F64
 * and the integer dtypes are rounded to the nearest float32 (I64/U64 through a float64, exact
 * for safe integers); BOOL gives 0 and 1. Throws only for an entry whose byte length does not
 * fit its dtype, which parsed entries never have.
 */
export const toFloat32 = (entry: TensorEntry): Float32Array => {
  const values = nativeArray(entry)
  switch (entry.dtype) {
    case 'F32':
      return values as Float32Array
    case 'F16': {
      const out = new Float32Array(values.length)
      for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(values[i] as number)
      return out
    }
    case 'BF16': {
      const out = new Float32Array(values.length)
      for (let i = 0; i < out.length; i++) out[i] = bfloat16BitsToFloat32(values[i] as number)
      return out
    }
    case 'I64':
    case 'U64': {
      const out = new Float32Array(values.length)
      for (let i = 0; i < out.length; i++) out[i] = Number(values[i] as bigint)
      return out
    }
    default:
      return Float32Array.from(values as ArrayLike<number>)
  }
}

/**
 * A tensor's values as int32, for integer and BOOL dtypes (token ids, masks). I32 is a
 * zero-copy view when aligned. U32, I64 and U64 values must fit in an int32, else
 * `IntegerOutOfRange` names the first that does not; float dtypes give `NotAnIntegerDtype`.
 */
export const toInt32 = (entry: TensorEntry): E.Either<SafetensorsError, Int32Array> => {
  const { kind } = DTYPES[entry.dtype]
  if (kind === 'float') {
    return E.left({
      _tag: 'NotAnIntegerDtype',
      tensor: entry.name,
      dtype: entry.dtype,
      message: `tensor ${q(entry.name)}: dtype ${entry.dtype} holds floats, not integers`,
    })
  }
  const values = nativeArray(entry)
  switch (entry.dtype) {
    case 'I32':
      return E.right(values as Int32Array)
    case 'U32':
    case 'I64':
    case 'U64': {
      const out = new Int32Array(values.length)
      for (let i = 0; i < values.length; i++) {
        const v = values[i]
        const x = typeof v === 'bigint' ? (v >= -(2n ** 31n) && v < 2n ** 31n ? Number(v) : NaN) : v
        if (!(x >= -(2 ** 31) && x < 2 ** 31)) {
          return E.left({
            _tag: 'IntegerOutOfRange',
            tensor: entry.name,
            index: i,
            value: String(v),
            message: `tensor ${q(entry.name)}: element ${i} is ${v}, outside the int32 range`,
          })
        }
        out[i] = x
      }
      return E.right(out)
    }
    default:
      return E.right(Int32Array.from(values as ArrayLike<number>))
  }
}

// ---------------------------------------------------------------------------------------------
// Serializing

/** Element values for {@link serializeSafetensors}: a typed array or plain numbers. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | readonly number[]

/**
 * One tensor to write. Give either `data`, element values converted to `dtype` (float32 values
 * with `dtype: 'F16'` or `'BF16'` are encoded, round to nearest even; a Uint16Array for F16/BF16
 * is taken as bit patterns; integers must be integral and in range; BOOL values must be 0 or 1),
 * or `bytes`, the raw little-endian bytes (so a parsed {@link TensorEntry} can be written back).
 */
export type TensorInput =
  | { readonly name: string; readonly dtype: Dtype; readonly shape: readonly number[]; readonly data: TensorData }
  | { readonly name: string; readonly dtype: Dtype; readonly shape: readonly number[]; readonly bytes: Uint8Array }

type WithoutName<T> = T extends unknown ? Omit<T, 'name'> : never

/** A {@link TensorInput} without its name, for the Map form of {@link serializeSafetensors}. */
export type UnnamedTensorInput = WithoutName<TensorInput>

/**
 * Writes a safetensors file. Tensors are laid out contiguously in the order given (array order,
 * or the Map's insertion order), not re-sorted; the header lists `__metadata__` first (when
 * given) then the tensors in that order, and is padded with spaces to a multiple of 8 bytes as
 * the reference does. For zero-copy reads of every tensor, put wider dtypes first (F64/I64,
 * then F32/I32, then 16-bit, then bytes); otherwise a misaligned tensor is copied once on read.
 *
 * The inputs are the program's own values, so inconsistent ones are bugs: a duplicate or
 * reserved name, a bad shape, data of the wrong length or out of range for the dtype throw a
 * RangeError/TypeError naming the tensor.
 */
export const serializeSafetensors = (tensors: ReadonlyArray<TensorInput> | ReadonlyMap<string, UnnamedTensorInput>, metadata?: Readonly<Record<string, string>>): Uint8Array => {
  const list: readonly TensorInput[] = Array.isArray(tensors)
    ? (tensors as readonly TensorInput[])
    : [...(tensors as ReadonlyMap<string, UnnamedTensorInput>)].map(([name, v]) => ({ ...v, name }) as TensorInput)
  const seen = new Set<string>()
  const parts: Uint8Array[] = []
  const entries: string[] = []
  if (metadata !== undefined) {
    const pairs = Object.entries(metadata)
    for (const [k, v] of pairs) {
      if (typeof v !== 'string') throw new TypeError(`serializeSafetensors: metadata ${q(k)} must be a string, got ${typeof v}`)
    }
    entries.push(`"__metadata__":{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`)
  }
  let offset = 0
  for (const tensor of list) {
    const { name, dtype, shape } = tensor
    if (name === '__metadata__') throw new RangeError('serializeSafetensors: "__metadata__" is reserved and cannot name a tensor')
    if (seen.has(name)) throw new RangeError(`serializeSafetensors: tensor ${q(name)} is given twice`)
    seen.add(name)
    if (!isDtype(dtype)) throw new RangeError(`serializeSafetensors: tensor ${q(name)}: unsupported dtype ${q(String(dtype))}`)
    if (!shape.every((d) => isNonNegativeSafeInteger(d))) {
      throw new RangeError(`serializeSafetensors: tensor ${q(name)}: shape [${shape.join(', ')}] must hold non-negative integers`)
    }
    const size = byteSize({ dtype, shape })
    if (size === undefined) throw new RangeError(`serializeSafetensors: tensor ${q(name)}: shape [${shape.join(', ')}] is too large`)
    const bytes = 'bytes' in tensor ? tensor.bytes : encode(name, dtype, tensor.data)
    if (bytes.byteLength !== size) {
      const what = 'bytes' in tensor ? `${plural(bytes.byteLength, 'byte')}` : `${plural(tensor.data.length, 'element')}`
      throw new RangeError(`serializeSafetensors: tensor ${q(name)}: shape [${shape.join(', ')}] of ${dtype} needs ${plural(size / DTYPES[dtype].size, 'element')}, got ${what}`)
    }
    entries.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + size}]}`)
    parts.push(bytes)
    offset += size
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`)
  const headerBytes = Math.ceil(json.byteLength / 8) * 8
  const out = new Uint8Array(8 + headerBytes + offset)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, headerBytes % 2 ** 32, true)
  dv.setUint32(4, Math.floor(headerBytes / 2 ** 32), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.byteLength, 8 + headerBytes)
  let at = 8 + headerBytes
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

const INT_RANGES: Partial<Record<Dtype, readonly [number, number]>> = {
  U8: [0, 255],
  I8: [-128, 127],
  U16: [0, 65535],
  I16: [-32768, 32767],
  U32: [0, 2 ** 32 - 1],
  I32: [-(2 ** 31), 2 ** 31 - 1],
  I64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  U64: [0, Number.MAX_SAFE_INTEGER],
}

/** The little-endian bytes of `data` as `dtype`, converting element values where needed. */
const encode = (name: string, dtype: Dtype, data: TensorData): Uint8Array => {
  const { array } = DTYPES[dtype]
  const native = nativeFor(name, dtype, data, array)
  return littleEndianBytes(native, DTYPES[dtype])
}

const nativeFor = (name: string, dtype: Dtype, data: TensorData, array: TypedArrayCtor): NativeArray => {
  const isBigInt = data instanceof BigInt64Array || data instanceof BigUint64Array
  const badValue = (i: number, why: string): never => {
    throw new RangeError(`serializeSafetensors: tensor ${q(name)}: element ${i} is ${String(data[i])}, ${why}`)
  }
  if (dtype === 'BOOL') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]
      if (v !== 0 && v !== 1 && v !== 0n && v !== 1n) badValue(i, 'not 0 or 1 (BOOL)')
    }
    return data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number | bigint>, Number)
  }
  if (data instanceof array) return data as NativeArray // already the dtype's own elements (F16/BF16: bit patterns)
  switch (dtype) {
    case 'F16':
    case 'BF16': {
      const f = dtype === 'F16' ? float32ToFloat16Bits : float32ToBfloat16Bits
      const out = new Uint16Array(data.length)
      for (let i = 0; i < data.length; i++) out[i] = f(Number(data[i]))
      return out
    }
    case 'F32':
    case 'F64': {
      const out = new array(data.length) as Float32Array | Float64Array
      for (let i = 0; i < data.length; i++) out[i] = Number(data[i])
      return out
    }
    default: {
      const [lo, hi] = INT_RANGES[dtype] as readonly [number, number]
      const out = new array(data.length)
      for (let i = 0; i < data.length; i++) {
        const v = data[i]
        if (isBigInt) {
          const b = v as bigint
          const ok = dtype === 'I64' ? b >= -(2n ** 63n) && b < 2n ** 63n : dtype === 'U64' ? b >= 0n && b < 2n ** 64n : b >= BigInt(lo) && b <= BigInt(hi)
          if (!ok) badValue(i, `out of range for ${dtype}`)
          out[i] = (dtype === 'I64' || dtype === 'U64' ? b : Number(b)) as never
        } else {
          const x = v as number
          if (!Number.isInteger(x)) badValue(i, `not an integer (${dtype})`)
          if (x < lo || x > hi) badValue(i, `out of range for ${dtype}`)
          out[i] = (dtype === 'I64' || dtype === 'U64' ? BigInt(x) : x) as never
        }
      }
      return out
    }
  }
}

const littleEndianBytes = (native: NativeArray, info: DtypeInfo): Uint8Array => {
  if (LITTLE_ENDIAN || info.size === 1) return new Uint8Array(native.buffer, native.byteOffset, native.byteLength)
  const out = new Uint8Array(native.byteLength)
  const dv = new DataView(out.buffer)
  const set = ('s' + info.get.slice(1)) as `set${string}`
  const write = (dv as unknown as Record<string, (o: number, v: unknown, le: boolean) => void>)[set].bind(dv)
  for (let i = 0; i < native.length; i++) write(i * info.size, native[i], true)
  return out
}
