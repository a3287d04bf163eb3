/** Reading a row of logits in the decoding specs: the greedy token, its margin, how far two rows differ. */

/** The index of the largest value (the first of equals): the greedy token. */
export const argmax = (row: ArrayLike<number>): number => {
  let best = 0
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i
  return best
}

/** How far the largest value is above the second: a greedy choice no perturbation smaller than half of it can change. */
export const margin = (row: ArrayLike<number>): number => {
  const s = Array.from(row).sort((a, b) => b - a)
  return s[0] - s[1]
}

/** max_i |a[i] − b[i]|. */
export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}
