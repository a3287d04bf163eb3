/**
 * Numerically stable softmax and log-softmax over plain rows of logits.
 *
 * Both work in float64 whatever the input type, treat `-Infinity` as an impossible outcome
 * (probability 0) and never produce NaN from non-NaN input: a row whose entries are all
 * `-Infinity` is an empty distribution (all probabilities 0, all log-probabilities
 * `-Infinity`), and a row with `+Infinity` entries puts all its mass, evenly, on those.
 */

/** The largest finite float32. Processors clamp their results to ±this so finite stays finite. */
export const FLOAT32_MAX = 3.4028234663852886e38

interface Shift {
  /** The largest entry that is not +Infinity (-Infinity when there is none). */
  readonly max: number
  /** How many entries are +Infinity. */
  readonly posInf: number
}

const shiftOf = (row: ArrayLike<number>, where: string): Shift => {
  let max = -Infinity
  let posInf = 0
  for (let i = 0; i < row.length; i++) {
    const x = row[i]
    if (Number.isNaN(x)) throw new RangeError(`${where}: entry ${i} is NaN`)
    if (x === Infinity) posInf++
    else if (x > max) max = x
  }
  return { max, posInf }
}

/**
 * log(softmax(row)), in float64. Stable: subtracts the maximum before exponentiating.
 * Throws a RangeError on NaN entries.
 */
export const logSoftmax = (row: ArrayLike<number>): Float64Array => {
  const { max, posInf } = shiftOf(row, 'logSoftmax')
  const out = new Float64Array(row.length)
  if (posInf > 0) {
    const l = -Math.log(posInf)
    for (let i = 0; i < row.length; i++) out[i] = row[i] === Infinity ? l : -Infinity
    return out
  }
  if (max === -Infinity) return out.fill(-Infinity)
  let s = 0
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - max)
  const logS = Math.log(s)
  for (let i = 0; i < row.length; i++) out[i] = row[i] - max - logS
  return out
}

/**
 * softmax(row), in float64: non-negative and summing to 1 (to rounding) unless every entry is
 * -Infinity, in which case it is all zeros. Throws a RangeError on NaN entries.
 */
export const softmax = (row: ArrayLike<number>): Float64Array => {
  const { max, posInf } = shiftOf(row, 'softmax')
  const out = new Float64Array(row.length)
  if (posInf > 0) {
    for (let i = 0; i < row.length; i++) out[i] = row[i] === Infinity ? 1 / posInf : 0
    return out
  }
  if (max === -Infinity) return out
  let s = 0
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(row[i] - max)
    out[i] = e
    s += e
  }
  for (let i = 0; i < row.length; i++) out[i] /= s
  return out
}

/**
 * The log-probability of entry `i` under softmax(row), without allocating the whole row:
 * what the engine records for each chosen token.
 */
export const logProbAt = (row: ArrayLike<number>, i: number): number => {
  const { max, posInf } = shiftOf(row, 'logProbAt')
  if (posInf > 0) return row[i] === Infinity ? -Math.log(posInf) : -Infinity
  if (max === -Infinity) return -Infinity
  let s = 0
  for (let j = 0; j < row.length; j++) s += Math.exp(row[j] - max)
  return row[i] - max - Math.log(s)
}
