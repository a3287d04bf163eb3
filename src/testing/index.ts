/**
 * minigpt-fp/testing: a property-testing kit for transformer invariants.
 *
 * Give it any causal language model as pure functions — `logits(params, tokens)` returning
 * [batch][position][vocab], optionally incremental decoding, padding and attention weights —
 * and it checks, with fast-check, that changing future tokens never changes past logits, that
 * prefixes and KV-cached decoding agree with the full computation, that batch mates and
 * padding change nothing, that outputs are deterministic, finite and the same on cpu and wasm,
 * and that attention weights are causal distributions. Samplers and logits processors get
 * their own invariants: reference implementations, laws, and a chi-square test of a sampler's
 * draws against softmax. A misconfigured model description fails, naming the field. A failure reads as the shrunk counterexample in words:
 *
 *   causal invariance violated: changing the tokens after position 0 of [0, 0] (to [0, 1])
 *   changed the logits at position 0 by 0.68 (token 2's logit: -0.7272 before, -0.04938 after;
 *   tolerance 1e-5)
 *
 * Works with any test runner (suites take `describe` and `it`) and without one (`check…`
 * functions return reports; `assert…` functions throw). See docs/testing.md.
 */
export * from './arbitraries.js'
export {
  assertCausalLm,
  attentionDistributions,
  backendAgreement,
  batchInvariance,
  causalInvariance,
  checkCausalLm,
  determinism,
  finiteOutputs,
  DEFAULT_MAX_BATCH,
  kvCacheEquivalence,
  leftPaddingInvariance,
  LM_PROPERTIES,
  LONG_CONTEXT,
  NOTHING_CHECKED,
  nothingChecked,
  paddingInvariance,
  prefixConsistency,
  selectProperties,
  type CausalLmOptions,
  type LmProperty,
  type LmPropertyId,
  type Selection,
} from './causal-lm.js'
export { describeProblems, MODEL_FIELDS } from './description.js'
export {
  ModelError,
  readAttention,
  readLogits,
  readNextLogits,
  type AttentionLike,
  type Awaitable,
  type CausalLm,
  type LayerAttention,
  type Logits,
  type LogitsLike,
  type LogitsOptions,
  type NextLogitsLike,
  type PaddingSupport,
  type TokenBatch,
} from './model.js'
export { assertReport, assertReports, PropertyViolation, runProperty, Violation, type PropertyReport, type RunOptions } from './run.js'
export {
  allowedByMinP,
  allowedByTopK,
  allowedByTopP,
  assertSampling,
  chainsKeepFiltered,
  checkSampling,
  DISTRIBUTION_SEED,
  matchesReference,
  processorLaws,
  samplerDistribution,
  type DistributionOptions,
  type ProcessorLaw,
  filteredNeverSampled,
  keyDeterminism,
  logitsInWords,
  processorNormalisation,
  samplingChecks,
  type AllowedTokens,
  type DeterminismSubject,
  type FilterSubject,
  type ProcessorUnderTest,
  type SamplerUnderTest,
  type SamplingOptions,
  type SamplingProperty,
  type SamplingSubjects,
} from './sampling.js'
export { mismatch, reference, type Expected, type ReferenceProcessor } from './references.js'
export { chiSquareSurvival, chiSquareTest, type ChiSquareResult } from './statistics.js'
export { causalLmSuite, samplingSuite, type CausalLmSuiteOptions, type RunnerIt, type SamplingSuiteOptions, type TestRunner } from './suite.js'
export { gpt2UnderTest, miniGptUnderTest } from './adapters.js'
export { batchInWords, compareRows, numberInWords, tokensInWords, type RowDifference } from './words.js'
