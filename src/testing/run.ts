/**
 * Running one property with fast-check and turning the outcome into a report in words.
 *
 * A property's predicate throws a {@link Violation} whose message says, in words, which
 * invariant broke on which input and by how much. fast-check shrinks the input and keeps the
 * message of the smallest failing case; the report adds the seed and path that replay it.
 * Nothing here throws on a violated invariant: {@link PropertyReport} is a value, and
 * {@link assertReport} / {@link PropertyViolation} turn it into an exception for runners.
 */
import * as fc from 'fast-check'
import { ModelError } from './model.js'

/** An invariant does not hold on an input; the message says which, where and by how much. */
export class Violation extends Error {
  override readonly name = 'Violation'
}

/** Options every property takes. */
export interface RunOptions {
  /** How many random cases to try (default: each property's own, 15 to 30). */
  readonly numRuns?: number
  /** fast-check's seed, to replay a failure (the report gives it). */
  readonly seed?: number
  /** fast-check's path, with `seed`, to replay exactly the shrunk counterexample. */
  readonly path?: string
  /** Skip shrinking: report the first failing case as found (faster, larger counterexample). */
  readonly endOnFailure?: boolean
  /** Stop trying new cases after this many milliseconds (the report says how many ran). */
  readonly timeLimitMs?: number
}

/** The outcome of checking one invariant. */
export interface PropertyReport {
  /** The invariant, in words: `causal invariance`. */
  readonly property: string
  /** The subject: the model's or sampler's name. */
  readonly subject: string
  readonly status: 'passed' | 'failed' | 'skipped'
  /**
   * One paragraph: for a failure, the shrunk counterexample in words and how to replay it;
   * for a skip, why; for a pass, how many cases held.
   */
  readonly message: string
  /** How many cases ran. */
  readonly runs: number
  /** fast-check's seed (replay with `{ seed, path }`). */
  readonly seed: number
  /** fast-check's path to the shrunk counterexample (failures only). */
  readonly path?: string
  /** fast-check's raw counterexample (failures only). */
  readonly counterexample?: unknown
  /** What else the run covered, in words (the long-end case of the causal-LM invariants). */
  readonly note?: string
}

/** Thrown by the `assert…` functions and the registered tests: carries the reports that failed. */
export class PropertyViolation extends Error {
  override readonly name = 'PropertyViolation'
  constructor(readonly reports: readonly PropertyReport[]) {
    super(reports.map((r) => r.message).join('\n\n'))
  }
}

/** Throws a {@link PropertyViolation} if the report failed; returns it otherwise. */
export const assertReport = (report: PropertyReport): PropertyReport => {
  if (report.status === 'failed') throw new PropertyViolation([report])
  return report
}

/** Throws one {@link PropertyViolation} listing every failed report; returns the reports otherwise. */
export const assertReports = (reports: readonly PropertyReport[]): readonly PropertyReport[] => {
  const failed = reports.filter((r) => r.status === 'failed')
  if (failed.length > 0) throw new PropertyViolation(failed)
  return reports
}

/** A report for an invariant that does not apply to the subject. */
export const skipped = (property: string, subject: string, reason: string): PropertyReport => ({
  property,
  subject,
  status: 'skipped',
  message: `${property}: skipped for ${subject}: ${reason}`,
  runs: 0,
  seed: 0,
})

const errorMessage = (property: string, e: unknown): string => {
  if (e instanceof Violation) return e.message
  if (e instanceof ModelError) return `${property} could not be checked: ${e.message}`
  if (e instanceof Error) return `${property} could not be checked: ${e.name}: ${e.message}`
  return `${property} could not be checked: ${String(e)}`
}

/**
 * Checks `predicate` on cases drawn from `arbitrary` with fast-check (shrinking failures), and
 * reports in words. The predicate throws a {@link Violation} when the invariant breaks.
 */
export const runProperty = async <T>(
  property: string,
  subject: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  defaultRuns: number,
  options: RunOptions,
): Promise<PropertyReport> => {
  const params: fc.Parameters<[T]> = {
    numRuns: options.numRuns ?? defaultRuns,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.endOnFailure === true ? { endOnFailure: true } : {}),
    ...(options.timeLimitMs !== undefined ? { interruptAfterTimeLimit: options.timeLimitMs, markInterruptAsFailure: false } : {}),
  }
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), params)
  if (!details.failed) {
    const cut = details.interrupted ? ' (stopped by the time limit)' : ''
    return { property, subject, status: 'passed', message: `${property}: held on ${details.numRuns} cases for ${subject}${cut}`, runs: details.numRuns, seed: details.seed }
  }
  if (details.counterexample === null) {
    return {
      property,
      subject,
      status: 'failed',
      message: `${property}: fast-check gave up on ${subject} (${details.numSkips} cases skipped, seed ${details.seed})`,
      runs: details.numRuns,
      seed: details.seed,
    }
  }
  const shrinks = details.numShrinks === 1 ? '1 shrink' : `${details.numShrinks} shrinks`
  const replay = `found by fast-check after ${details.numRuns} case${details.numRuns === 1 ? '' : 's'} and ${shrinks}; replay with { seed: ${details.seed}, path: "${details.counterexamplePath}" }`
  return {
    property,
    subject,
    status: 'failed',
    message: `${errorMessage(property, details.errorInstance)}\n  ${replay}`,
    runs: details.numRuns,
    seed: details.seed,
    path: details.counterexamplePath,
    counterexample: details.counterexample[0],
  }
}
