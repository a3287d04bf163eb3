/**
 * Registering the properties as tests of any runner with `describe` and `it`: vitest, jest,
 * mocha, node:test. The runner's functions are parameters, so this module never imports a
 * test runner (users of one runner do not load another), and a whole suite is one line:
 *
 * @example
 * import { describe, it } from 'vitest'
 * causalLmSuite({ describe, it, model: miniGptUnderTest(config, params) })
 *
 * Each invariant becomes one test named after it; a failure throws a
 * {@link PropertyViolation} whose message is the shrunk counterexample in words. Invariants
 * the model cannot be checked for (no incremental decoding, say) are registered with
 * `it.skip` and the reason, where the runner has `it.skip`.
 */
import { NOTHING_CHECKED, nothingChecked, selectProperties, type CausalLmOptions, type Selection } from './causal-lm.js'
import type { CausalLm } from './model.js'
import { modelName } from './model.js'
import { assertReport, skipped, type PropertyReport } from './run.js'
import { samplingChecks, type SamplingOptions, type SamplingSubjects } from './sampling.js'

/** `it` as test runners have it: a name, an async body, optionally a timeout (vitest, jest). */
export type RunnerIt = ((name: string, body: () => Promise<void>, timeout?: number) => unknown) & {
  readonly skip?: (name: string, body: () => void) => unknown
}

/** The two functions of a test runner the suites need. */
export interface TestRunner {
  readonly describe: (name: string, body: () => void) => unknown
  readonly it: RunnerIt
}

/** Options of {@link causalLmSuite}. */
export interface CausalLmSuiteOptions<P, S> extends TestRunner, CausalLmOptions, Selection {
  readonly model: CausalLm<P, S>
  /** The `describe` title (default: `<model name>: causal LM invariants`). */
  readonly title?: string
  /** Per-test timeout in ms, passed as `it`'s third argument (default 120 000; runners without one ignore it). */
  readonly timeout?: number
}

const DEFAULT_TIMEOUT = 120_000

/**
 * Registers one test per causal-LM invariant for the model (all of them, or `only` / minus
 * `skip`); invariants the model declares it cannot be checked for are registered as skipped,
 * with the reason. An invalid model description registers failing tests (each names the
 * field), never skipped ones; when every selected invariant would be skipped, a failing
 * `nothing checked` test is registered too, so a suite that checks nothing is never green.
 */
export const causalLmSuite = <P, S>(options: CausalLmSuiteOptions<P, S>): void => {
  const { describe, it, model } = options
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  const name = typeof (model as { name?: unknown } | undefined)?.name === 'string' ? modelName(model) : 'the model'
  describe(options.title ?? `${name}: causal LM invariants`, () => {
    const skippedReports: PropertyReport[] = []
    const selected = selectProperties(options)
    for (const p of selected) {
      const reason = p.skipReason(model, options)
      if (reason !== undefined) {
        skippedReports.push(skipped(p.name, name, reason))
        it.skip?.(`${p.name} (skipped: ${reason})`, () => undefined)
        continue
      }
      it(
        p.name,
        async () => {
          await p.assert(model, options)
        },
        timeout,
      )
    }
    if (skippedReports.length === selected.length) {
      it(
        NOTHING_CHECKED,
        async () => {
          assertReport(nothingChecked(name, skippedReports))
        },
        timeout,
      )
    }
  })
}

/** Options of {@link samplingSuite}. */
export interface SamplingSuiteOptions extends TestRunner, SamplingSubjects, SamplingOptions {
  /** The `describe` title (default `sampling invariants`). */
  readonly title?: string
  readonly timeout?: number
}

/**
 * Registers the sampling invariants: for the sampler, key determinism and never drawing a
 * filtered token; for each processor, normalisation, purity, and never sampling (or, with a
 * reference, keeping) a filtered token.
 */
export const samplingSuite = (options: SamplingSuiteOptions): void => {
  const { describe, it } = options
  describe(options.title ?? 'sampling invariants', () => {
    for (const c of samplingChecks(options, options)) {
      it(
        c.label,
        async () => {
          assertReport(await c.run())
        },
        options.timeout ?? DEFAULT_TIMEOUT,
      )
    }
  })
}
