/**
 * Pearson's chi-square goodness-of-fit test, for checking that a sampler's draws follow the
 * distribution it claims (softmax of the logits).
 *
 * The p-value is the chi-square survival function, Q(df/2, χ²/2), the regularised upper
 * incomplete gamma function (series below a + 1, Lentz's continued fraction above, as in
 * Numerical Recipes §6.2). Cells whose expected count is below 5 are pooled, the textbook
 * condition for the chi-square approximation.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export const logGamma = (x: number): number => {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** The regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a). */
export const upperGamma = (a: number, x: number): number => {
  if (x <= 0) return 1
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a))
  if (x < a + 1) {
    let sum = 1 / a
    let term = sum
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n)
      sum += term
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break
    }
    return Math.max(0, 1 - front * sum)
  }
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-15) break
  }
  return front * h
}

/** The chi-square survival function: P(X ≥ x) for X ~ χ²(df). */
export const chiSquareSurvival = (x: number, df: number): number => upperGamma(df / 2, x / 2)

/** The outcome of a goodness-of-fit test. */
export interface ChiSquareResult {
  readonly statistic: number
  readonly df: number
  readonly pValue: number
  /** The cell that contributes most: its token (or -1 for the pooled rare tokens), observed and expected counts. */
  readonly worst: { readonly token: number; readonly observed: number; readonly expected: number }
}

/**
 * Pearson's test of observed counts against probabilities (which sum to 1). Tokens of
 * probability 0 must never be observed (the result then has p-value 0 and that token as worst).
 */
export const chiSquareTest = (counts: readonly number[], probs: ArrayLike<number>): ChiSquareResult => {
  const n = counts.reduce((a, b) => a + b, 0)
  const impossible = counts.findIndex((c, i) => c > 0 && probs[i] === 0)
  if (impossible >= 0) return { statistic: Infinity, df: 1, pValue: 0, worst: { token: impossible, observed: counts[impossible], expected: 0 } }
  const cells: { token: number; observed: number; expected: number }[] = []
  const pooled = { token: -1, observed: 0, expected: 0 }
  counts.forEach((c, i) => {
    const e = n * probs[i]
    if (e === 0) return
    if (e < 5) {
      pooled.observed += c
      pooled.expected += e
    } else cells.push({ token: i, observed: c, expected: e })
  })
  if (pooled.expected >= 5 || (pooled.expected > 0 && cells.length === 0)) cells.push(pooled)
  else if (pooled.expected > 0) {
    const smallest = cells.reduce((s, c) => (c.expected < s.expected ? c : s), cells[0])
    smallest.observed += pooled.observed
    smallest.expected += pooled.expected
    smallest.token = -1
  }
  if (cells.length < 2) return { statistic: 0, df: 0, pValue: 1, worst: cells[0] ?? pooled }
  let statistic = 0
  let worst = cells[0]
  let worstTerm = -1
  for (const c of cells) {
    const term = (c.observed - c.expected) ** 2 / c.expected
    statistic += term
    if (term > worstTerm) {
      worstTerm = term
      worst = c
    }
  }
  const df = cells.length - 1
  return { statistic, df, pValue: chiSquareSurvival(statistic, df), worst }
}
