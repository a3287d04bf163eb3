/**
 * Small io-ts codecs shared by every config: numbers with constraints and readable messages.
 */
import * as t from 'io-ts'

// JSON.stringify turns NaN and ±Infinity into "null", which would report `got null` for a
// NaN field; numbers are shown as JavaScript prints them.
const showValue = (u: unknown): string => (typeof u === 'number' ? String(u) : (JSON.stringify(u) ?? String(u)))

const refine = <A>(base: t.Type<A, A, unknown>, ok: (a: A) => boolean, name: string, message: string) =>
  new t.Type<A, A, unknown>(
    name,
    (u): u is A => base.is(u) && ok(u),
    (u, c) => {
      if (!base.is(u) || !ok(u)) return t.failure(u, c, `${message}, got ${showValue(u)}`)
      return t.success(u)
    },
    t.identity,
  )

/** An integer ≥ 1. */
export const PositiveInt = refine(t.number, (n) => Number.isInteger(n) && n >= 1, 'PositiveInt', 'must be an integer ≥ 1')

/** An integer ≥ 0. */
export const NonNegativeInt = refine(t.number, (n) => Number.isInteger(n) && n >= 0, 'NonNegativeInt', 'must be an integer ≥ 0')

/** A finite number > 0. */
export const PositiveNumber = refine(t.number, (n) => Number.isFinite(n) && n > 0, 'PositiveNumber', 'must be a finite number > 0')

/** A probability in [0, 1). */
export const Rate = refine(t.number, (n) => n >= 0 && n < 1, 'Rate', 'must be a number in [0, 1)')

/** A finite number. */
export const FiniteNumber = refine(t.number, (n) => Number.isFinite(n), 'FiniteNumber', 'must be a finite number')

/** Adds a cross-field check to a codec, reported under `field` with `message(value)`. */
export const withCheck = <C extends t.Any>(
  codec: C,
  field: string,
  ok: (a: t.TypeOf<C>) => boolean,
  message: (a: t.TypeOf<C>) => string,
): t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> =>
  new t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>(
    codec.name,
    (u): u is t.TypeOf<C> => codec.is(u) && ok(u),
    (u, c) => {
      const r = codec.validate(u, c)
      if (r._tag === 'Left') return r
      return ok(r.right) ? r : t.failure((r.right as Record<string, unknown>)[field], [...c, { key: field, type: codec, actual: u }], message(r.right))
    },
    codec.encode,
  )
