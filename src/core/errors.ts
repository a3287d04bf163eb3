/**
 * Error values and messages shared by the library.
 *
 * Inside the math, a wrong shape is a programming error: {@link checkShape} throws a
 * {@link ShapeError} naming the layer, the tensor and both shapes. At boundaries (files,
 * configs, options) errors are values: io-ts decoding failures become one readable line per
 * problem with {@link formatValidationErrors}.
 */
import type * as t from 'io-ts'

/** A tensor of the wrong shape reached a layer. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError'
}

/**
 * Throws a {@link ShapeError} unless `shape` matches `expected`, where `null` in `expected`
 * matches any size (`[null, null, 64]`: any batch and length, 64 features).
 */
export const checkShape = (
  where: string,
  what: string,
  shape: readonly number[],
  expected: readonly (number | null)[],
): void => {
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

const isCombinator = (type: t.Decoder<unknown, unknown> | undefined): boolean => {
  const tag = (type as { _tag?: string } | undefined)?._tag
  return tag === 'IntersectionType' || tag === 'UnionType'
}

const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  try {
    const s = JSON.stringify(v)
    return s.length > 60 ? s.slice(0, 57) + '...' : s
  } catch {
    return typeof v
  }
}

/**
 * Turns io-ts validation errors into readable lines: `num_heads: must divide embed_dim=64, got 5`
 * when the codec carries a message, `vocab_size: expected PositiveInt, got "81"` otherwise.
 */
export const formatValidationErrors = (errors: t.Errors): string[] => {
  const lines = errors.map((e) => {
    // Skip the positional keys io-ts adds for the members of intersections and unions.
    const path = e.context
      .filter((c, i) => c.key !== '' && !isCombinator(e.context[i - 1]?.type))
      .map((c) => c.key)
      .join('.')
    const last = e.context[e.context.length - 1]
    const msg = e.message ?? `expected ${last?.type.name ?? 'a valid value'}, got ${show(e.value)}`
    return path === '' ? msg : `${path}: ${msg}`
  })
  return [...new Set(lines)]
}
