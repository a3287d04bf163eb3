/**
 * Helpers for the safetensors specs: hand-built files (any header text, any declared length)
 * and fast-check arbitraries of valid tensors.
 */
import { fc } from '@fast-check/vitest'
import { DTYPE_NAMES, type Dtype, type TensorData, type TensorInput } from '../../src/io/safetensors.js'
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../../src/io/float16.js'

/** A file from header text (or a value to JSON.stringify) and data, with an optional lying length prefix. */
export const build = (header: string | object, data: Uint8Array | number = 0, declaredLength?: number | bigint): Uint8Array => {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header))
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data
  const out = new Uint8Array(8 + json.length + bytes.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true)
  out.set(json, 8)
  out.set(bytes, 8 + json.length)
  return out
}

/** A header entry. */
export const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] })

/** A valid tensor with values of its dtype, and the values its reads should give back. */
export interface GeneratedTensor {
  readonly input: TensorInput
  /** What toFloat32 must return. */
  readonly floats: readonly number[]
  /** What toInt32 must return, when every value fits (integer dtypes only). */
  readonly ints?: readonly number[]
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

type Values = Omit<GeneratedTensor, 'input'> & { readonly data: TensorData }

const valuesFor = (dtype: Dtype, n: number): fc.Arbitrary<Values> => {
  const ints = (min: number, max: number, make: (xs: number[]) => TensorData): fc.Arbitrary<Values> =>
    fc
      .array(fc.integer({ min, max }), { minLength: n, maxLength: n })
      .map((xs) => ({ data: make(xs), floats: xs.map(Math.fround), ints: xs.every((x) => x >= -(2 ** 31) && x < 2 ** 31) ? xs : undefined }))
  switch (dtype) {
    case 'F32':
      return fc.array(fc.float(), { minLength: n, maxLength: n }).map((xs) => ({ data: Float32Array.from(xs), floats: xs }))
    case 'F64':
      return fc.array(fc.double(), { minLength: n, maxLength: n }).map((xs) => ({ data: Float64Array.from(xs), floats: xs.map(Math.fround) }))
    case 'F16':
    case 'BF16': {
      const decode = dtype === 'F16' ? float16BitsToFloat32 : bfloat16BitsToFloat32
      return fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n }), fc.boolean()).map(([bits, asFloats]) => {
        const floats = bits.map(decode)
        // Either the bit patterns themselves, or float32 values that are exactly representable (no NaN, whose payload may change).
        return asFloats && floats.every((x) => !Number.isNaN(x)) ? { data: Float32Array.from(floats), floats } : { data: Uint16Array.from(bits), floats }
      })
    }
    case 'BOOL':
      return ints(0, 1, (xs) => Uint8Array.from(xs))
    case 'U8':
      return ints(0, 255, (xs) => Uint8Array.from(xs))
    case 'I8':
      return ints(-128, 127, (xs) => xs) // plain numbers, converted on write
    case 'U16':
      return ints(0, 65535, (xs) => Uint16Array.from(xs))
    case 'I16':
      return ints(-32768, 32767, (xs) => Int16Array.from(xs))
    case 'U32':
      return ints(0, 2 ** 32 - 1, (xs) => Uint32Array.from(xs))
    case 'I32':
      return ints(-(2 ** 31), 2 ** 31 - 1, (xs) => Int32Array.from(xs))
    case 'I64':
      return ints(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, (xs) => BigInt64Array.from(xs.map(BigInt)))
    case 'U64':
      return ints(0, Number.MAX_SAFE_INTEGER, (xs) => xs)
  }
}

/** Tensor names: any string (astral characters, escapes, lone surrogates, "__proto__") but the reserved one. */
export const nameArb = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.constantFrom('', '__proto__', 'constructor', 'a"b\\c', 'layers.0.attn.W_q.weight', '0', '12'))
  .filter((s) => s !== '__metadata__')

/** Shapes with up to 4 small dimensions, including scalars `[]` and zero-size dimensions. */
export const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 })

/** One valid tensor with a given name. */
export const tensorArb = (name: string, dtypes: readonly Dtype[] = DTYPE_NAMES): fc.Arbitrary<GeneratedTensor> =>
  fc
    .record({ dtype: fc.constantFrom(...dtypes), shape: shapeArb })
    .chain(({ dtype, shape }) => valuesFor(dtype, count(shape)).map(({ data, floats, ints }) => ({ input: { name, dtype, shape, data }, floats, ints })))

/** A list of tensors with distinct names. */
export const tensorsArb = (maxLength = 6, dtypes: readonly Dtype[] = DTYPE_NAMES): fc.Arbitrary<GeneratedTensor[]> =>
  fc.uniqueArray(nameArb, { maxLength }).chain((names) => (names.length === 0 ? fc.constant([]) : fc.tuple(...names.map((n) => tensorArb(n, dtypes)))))

/** Metadata maps, including awkward keys. */
export const metadataArb = fc.option(fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constant('__proto__')), fc.string({ maxLength: 12 }), { maxKeys: 4 }), {
  nil: undefined,
})
