/**
 * Checks for optimizer and schedule options, shared by the constructors (which throw) and the
 * {@link OptimizerConfig} codec (which returns the same messages as values).
 *
 * Every check returns `undefined` when the value is fine, or one line that names the
 * optimizer, the parameter and the value: `adamw: lr must be a finite number > 0, got NaN`.
 * Keeping one set of checks means a bad value is reported the same way whether it came from
 * code or from a config file.
 */

/** One problem with one option, as a line of text; `undefined` when there is none. */
export type Problem = string | undefined

/** Shows a value in a message: `NaN`, `-Infinity`, `"0.1"` (a string), `null`, `[object]`. */
export const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return String(v)
  if (typeof v === 'function') return 'a function'
  try {
    const s = JSON.stringify(v)
    return s.length > 60 ? `${s.slice(0, 57)}...` : s
  } catch {
    return typeof v
  }
}

const isNumber = (v: unknown): v is number => typeof v === 'number'

const problem = (who: string, name: string, expected: string, v: unknown): string => `${who}: ${name} must be ${expected}, got ${show(v)}`

/** A finite number > 0 (learning rates, eps, maxNorm). */
export const positive = (who: string, name: string, v: unknown): Problem => (isNumber(v) && Number.isFinite(v) && v > 0 ? undefined : problem(who, name, 'a finite number > 0', v))

/** A finite number >= 0 (weight decay, a schedule's end value). */
export const nonNegative = (who: string, name: string, v: unknown): Problem =>
  isNumber(v) && Number.isFinite(v) && v >= 0 ? undefined : problem(who, name, 'a finite number >= 0', v)

/** A finite number of either sign (a fixed scale). */
export const finite = (who: string, name: string, v: unknown): Problem => (isNumber(v) && Number.isFinite(v) ? undefined : problem(who, name, 'a finite number', v))

/** A number in [0, 1) (Adam's betas, momentum). */
export const unitInterval = (who: string, name: string, v: unknown): Problem => (isNumber(v) && v >= 0 && v < 1 ? undefined : problem(who, name, 'a number in [0, 1)', v))

/** An integer >= `min` (step counts). */
export const integerAtLeast = (who: string, name: string, v: unknown, min: number, minText = String(min)): Problem =>
  isNumber(v) && Number.isSafeInteger(v) && v >= min ? undefined : problem(who, name, `an integer >= ${minText}`, v)

/** A boolean flag. */
export const boolean = (who: string, name: string, v: unknown): Problem => (typeof v === 'boolean' ? undefined : problem(who, name, 'true or false', v))

/** A function (a schedule, a mask). */
export const func = (who: string, name: string, v: unknown, what: string): Problem => (typeof v === 'function' ? undefined : problem(who, name, what, v))

/** A learning rate: a finite number > 0, or a schedule (a function of the step). */
export const learningRate = (who: string, v: unknown): Problem => (typeof v === 'function' ? undefined : positive(who, 'lr', v))

/** The problems among `checks`, in order. */
export const problems = (...checks: readonly Problem[]): string[] => checks.filter((c): c is string => c !== undefined)

/** Throws an Error listing every problem (one per line), or returns when there is none. */
export const orThrow = (...checks: readonly Problem[]): void => {
  const ps = problems(...checks)
  if (ps.length > 0) throw new Error(ps.join('\n'))
}
