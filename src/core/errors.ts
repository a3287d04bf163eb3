/**
 * Error values and messages shared by the library.
 *
 * Inside the math, a wrong shape is a programming error: {@link checkShape} throws a
 * {@link ShapeError} naming the layer, the tensor and both shapes. At boundaries (files,
 * configs, options) errors are values ({@link ConfigError}, io-ts decoding failures).
 *
 * Turning io-ts validation errors into one-line messages a user can act on:
 * io-ts reports where a value failed as a context (a path of keys and codecs); its stock
 * reporter prints the codecs' full structural names, which are unreadable for records. Here a
 * failure reads `num_heads: expected a positive integer, got "4"`: the dotted path to the field,
 * what the codec wanted (its name, so give refinements and brands a readable name such as
 * `'a positive integer'`) and a short description of what was there.
 */
import * as t from 'io-ts'

const ARTICLE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
  bigint: 'a bigint',
  Int: 'an integer',
  UnknownRecord: 'an object',
  UnknownArray: 'an array',
  Function: 'a function',
}

/** A readable name for what a codec accepts: its own name, or a plain word for structural codecs. */
export const describeCodec = (codec: t.Decoder<unknown, unknown>): string => {
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType || codec instanceof t.ExactType) return 'an object'
  if (codec instanceof t.DictionaryType) return 'an object'
  if (codec instanceof t.ArrayType || codec instanceof t.ReadonlyArrayType)
    return codec.name.startsWith('Array<') || codec.name.startsWith('ReadonlyArray<') ? 'an array' : codec.name
  if (codec instanceof t.TupleType) return `an array of ${(codec.types as readonly unknown[]).length} items`
  if (codec instanceof t.LiteralType) return JSON.stringify(codec.value)
  return ARTICLE_NAMES[codec.name] ?? codec.name
}

/** A short description of a value for an error message: primitives as JSON, containers by kind and size. */
export const describeValue = (v: unknown): string => {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : `an array of ${v.length} item${v.length === 1 ? '' : 's'}`
  switch (typeof v) {
    case 'string': {
      const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
      return s
    }
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : String(v)
    case 'boolean':
      return String(v)
    case 'bigint':
      return `${v}n`
    case 'object':
      return 'an object'
    default:
      return `a ${typeof v}`
  }
}

/**
 * The dotted path of an io-ts failure (`layers.0.num_heads`), without the indices io-ts adds
 * for the members of unions and intersections. Empty for a failure at the root.
 */
export const validationPath = (context: t.Context): string => {
  const keys: string[] = []
  for (let i = 1; i < context.length; i++) {
    const parent = context[i - 1].type
    if (parent instanceof t.UnionType || parent instanceof t.IntersectionType) continue
    if (context[i].key !== '') keys.push(context[i].key)
  }
  return keys.join('.')
}

/** One io-ts failure as `path: expected X, got Y` (or `path: missing, expected X`). */
export const formatValidationError = (e: t.ValidationError): string => {
  const last = e.context[e.context.length - 1]
  const path = validationPath(e.context)
  const expected = last === undefined ? 'a valid value' : describeCodec(last.type)
  const body = e.message !== undefined ? e.message : e.value === undefined && path !== '' ? `missing, expected ${expected}` : `expected ${expected}, got ${describeValue(e.value)}`
  return path === '' ? body : `${path}: ${body}`
}

/**
 * All failures of one decode as a single line: distinct messages joined with `; `, at most
 * `limit` of them (default 5) followed by how many more there were.
 */
export const formatValidationErrors = (errors: t.Errors, limit = 5): string => {
  const messages = [...new Set(errors.map(formatValidationError))]
  if (messages.length === 0) return 'invalid value'
  const shown = messages.slice(0, limit).join('; ')
  return messages.length > limit ? `${shown}; and ${messages.length - limit} more` : shown
}

/** Each distinct failure of one decode as its own line (for {@link ConfigError}'s problems). */
export const validationProblems = (errors: t.Errors): string[] => [...new Set(errors.map(formatValidationError))]

/** A tensor of the wrong shape reached a layer. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError'
}

/**
 * Throws a {@link ShapeError} unless `shape` matches `expected`, where `null` in `expected`
 * matches any size (`[null, null, 64]`: any batch and length, 64 features).
 */
export const checkShape = (where: string, what: string, shape: readonly number[], expected: readonly (number | null)[]): void => {
  const ok = shape.length === expected.length && expected.every((d, i) => d === null || d === shape[i])
  if (!ok) {
    const fmt = expected.map((d) => (d === null ? '*' : String(d))).join(', ')
    throw new ShapeError(`${where}: ${what} must have shape [${fmt}], got [${shape.join(', ')}]`)
  }
}

/** A user-supplied value (option, config field) is invalid. */
export interface ConfigError {
  readonly _tag: 'ConfigError'
  /** One line per problem, each naming the field. */
  readonly problems: readonly string[]
}

/** Makes a {@link ConfigError}. */
export const configError = (...problems: string[]): ConfigError => ({ _tag: 'ConfigError', problems })

/** The message of a {@link ConfigError}: its problems joined by '; '. */
export const configErrorMessage = (e: ConfigError): string => e.problems.join('; ')
