/**
 * minigpt-fp/sample: the pure generation layer. Logits processors, samplers, beam search and
 * the generation engine over plain `Float32Array` logits and `number[]` tokens; it never loads
 * TensorFlow.js, so it also serves decoding loops whose logits come from elsewhere (ONNX
 * Runtime, a server). See docs/sampling.md.
 */
export { foldIn, key, split, type Key } from '../core/key.js'
export { FLOAT32_MAX, logProbAt, logSoftmax, softmax } from './softmax.js'
export {
  badWords,
  bannedTokens,
  composeProcessors,
  frequencyPenalty,
  identityProcessor,
  logitBias,
  minLength,
  minNewTokens,
  minP,
  noRepeatNgram,
  presencePenalty,
  processorContext,
  repetitionPenalty,
  temperature,
  topK,
  topP,
  typicalP,
  type LogitsProcessor,
  type ProcessorContext,
} from './processors.js'
export {
  beamRequestFromOptions,
  decodeOptions,
  DEFAULT_MAX_NEW_TOKENS,
  GenerationOptions,
  optionsError,
  optionsErrorMessage,
  processorSteps,
  processorsFromOptions,
  requestFromOptions,
  type OptionsError,
  type ProcessorStep,
  type RequestExtras,
} from './options.js'
export { processorStages, type ProcessorStage } from './explain.js'
export { greedy, greedySampler, sample, type PreparedSampler, type Sampler } from './samplers.js'
export { abortError, type DecoderModel, type ModelOutput } from './model.js'
export {
  generate,
  generateBatch,
  stepKey,
  stream,
  type FinishReason,
  type GenerateBatchOptions,
  type GenerateOptions,
  type GenerationRequest,
  type GenerationResult,
  type StreamChunk,
} from './engine.js'
export {
  beamSearch,
  type BeamHypothesis,
  type BeamSearchOptions,
  type BeamSearchRequest,
  type EarlyStopping,
} from './beam.js'
