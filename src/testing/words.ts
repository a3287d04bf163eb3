/**
 * How the kit puts numbers, token lists and differences into words, and how it compares two
 * rows of logits. Failure messages are read by people: token lists print as `[1, 5, 9]`,
 * differences with two significant digits, tolerances as `1e-5`.
 */

/** A token list as `[1, 5, 9]` (long lists keep their first and last 12 tokens). */
export const tokensInWords = (xs: ArrayLike<number>): string => {
  const all = Array.from(xs)
  if (all.length <= 32) return `[${all.join(', ')}]`
  return `[${all.slice(0, 12).join(', ')}, … (${all.length - 24} more), ${all.slice(-12).join(', ')}]`
}

/** A batch of token lists as `[[1, 5], [2, 0]]`. */
export const batchInWords = (rows: readonly ArrayLike<number>[]): string => `[${rows.map(tokensInWords).join(', ')}]`

/** A number with `digits` significant digits: `0.41`, `3.2e-7`, `1e-5`, `NaN`, `-Infinity`. */
export const numberInWords = (x: number, digits = 2): string => {
  if (!Number.isFinite(x)) return String(x)
  if (x === 0) return '0'
  const a = Math.abs(x)
  if (a < 1e-3 || a >= 1e5) {
    const [m, e] = x.toExponential(digits - 1).split('e')
    return `${m.includes('.') ? m.replace(/\.?0+$/, '') : m}e${e.replace('+', '')}`
  }
  return String(Number(x.toPrecision(digits)))
}

/** Where two rows of numbers differ the most, and by how much. */
export interface RowDifference {
  /** The largest absolute difference (NaN when exactly one side is NaN at some entry). */
  readonly by: number
  /** The entry (vocabulary index, key index …) where it occurs. */
  readonly at: number
  readonly actual: number
  readonly expected: number
  /** True when every entry is within `tolerance · max(1, |expected|)`. */
  readonly within: boolean
}

/**
 * Compares `actual` with `expected` entry by entry. An entry agrees when the two are equal
 * (NaN agrees with NaN, ±Infinity with itself) or differ by at most `tolerance · max(1, |expected|)`:
 * absolute below 1, relative above, as float32 rounding scales with the values. Reports the
 * worst entry (one where exactly one side is NaN counts as worst of all).
 */
export const compareRows = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): RowDifference => {
  let worst = { by: -1, at: 0, actual: 0, expected: 0 }
  let within = actual.length === expected.length
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    const a = actual[i]
    const e = expected[i]
    if (Object.is(a, e) || a === e || (Number.isNaN(a) && Number.isNaN(e))) continue
    const by = Number.isNaN(a) || Number.isNaN(e) ? NaN : Math.abs(a - e)
    const ok = by <= tolerance * Math.max(1, Math.abs(e))
    if (!ok) within = false
    const worse = Number.isNaN(by) ? !Number.isNaN(worst.by) : !Number.isNaN(worst.by) && by > worst.by
    if (worse) worst = { by, at: i, actual: a, expected: e }
  }
  return { ...worst, by: worst.by < 0 ? 0 : worst.by, within }
}

/** Names for the two sides of a comparison, expected first: `['before', 'after']`, `['on cpu', 'on wasm']`. */
export type Sides = readonly [expected: string, actual: string]

/** `token 7's logit: 1.234 before, 0.824 after`, for the worst entry of a comparison. */
export const entryInWords = (d: RowDifference, sides: Sides = ['expected', 'got']): string =>
  `token ${d.at}'s logit: ${numberInWords(d.expected, 4)} ${sides[0]}, ${numberInWords(d.actual, 4)} ${sides[1]}`

/** `0.41 (token 7's logit: 1.234 before, 0.824 after; tolerance 1e-5)`. */
export const differenceInWords = (d: RowDifference, tolerance: number, sides?: Sides): string =>
  `${numberInWords(d.by)} (${entryInWords(d, sides)}; tolerance ${numberInWords(tolerance)})`

/** `row 1 of 3`, or nothing for a batch of one. */
export const rowInWords = (row: number, batch: number): string => (batch > 1 ? ` (row ${row} of ${batch})` : '')
