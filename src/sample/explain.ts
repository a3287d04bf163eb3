/**
 * What each logits processor does to a distribution: the probabilities before any processor
 * and after each one in turn, for pictures (the playground, examples/06) and for teaching.
 */
import * as E from 'fp-ts/lib/Either.js'
import { decodeOptions, processorSteps, type OptionsError } from './options.js'
import { processorContext } from './processors.js'
import { softmax } from './softmax.js'

/** One stage of the chain: the option it comes from ('raw' first) and the distribution after it. */
export interface ProcessorStage {
  readonly label: string
  readonly probabilities: Float64Array
}

/**
 * The distribution of `logits` before the processors and after each processor that the
 * options enable, in the order they apply. `prompt` and `generated` are the tokens so far.
 */
export const processorStages = (
  logits: Float32Array,
  options: unknown,
  prompt: readonly number[] = [],
  generated: readonly number[] = [],
): E.Either<OptionsError, ProcessorStage[]> => {
  const decoded = decodeOptions(options)
  if (E.isLeft(decoded)) return decoded
  const ctx = processorContext(prompt, generated)
  const stages: ProcessorStage[] = [{ label: 'raw', probabilities: softmax(logits) }]
  let current = logits
  for (const step of processorSteps(decoded.right)) {
    current = step.processor(ctx)(current)
    stages.push({ label: `${step.option} ${JSON.stringify(decoded.right[step.option])}`, probabilities: softmax(current) })
  }
  return E.right(stages)
}
