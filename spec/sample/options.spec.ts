import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import {
  beamRequestFromOptions,
  decodeOptions,
  greedySampler,
  processorContext,
  processorSteps,
  processorsFromOptions,
  requestFromOptions,
  sample,
  type OptionsError,
} from '../../src/sample/index.js'

const problems = (e: E.Either<OptionsError, unknown>): readonly string[] => (E.isLeft(e) ? e.left.problems : [])

describe('decodeOptions', () => {
  it('names the option and the value', () => {
    expect(problems(decodeOptions({ top_p: 1.5 }))).toEqual(['top_p must be in (0, 1], got 1.5'])
    expect(problems(decodeOptions({ temperature: 0 }))).toEqual(['temperature must be a finite number > 0, got 0'])
    expect(problems(decodeOptions({ top_k: 2.5 }))).toEqual(['top_k must be an integer >= 1, got 2.5'])
    expect(problems(decodeOptions({ min_p: -0.1 }))).toEqual(['min_p must be in [0, 1], got -0.1'])
    expect(problems(decodeOptions({ typical_p: 0 }))).toEqual(['typical_p must be in (0, 1], got 0'])
    expect(problems(decodeOptions({ repetition_penalty: Infinity }))).toEqual(['repetition_penalty must be a finite number > 0, got Infinity'])
    expect(problems(decodeOptions({ no_repeat_ngram_size: 0 }))).toEqual(['no_repeat_ngram_size must be an integer >= 1, got 0'])
    expect(problems(decodeOptions({ max_new_tokens: '5' }))).toEqual(['max_new_tokens must be an integer >= 1, got "5"'])
    expect(problems(decodeOptions({ early_stopping: 'always' }))).toEqual(['early_stopping must be true, false or \'never\', got "always"'])
    expect(problems(decodeOptions({ bad_words_ids: [[1], []] }))).toEqual(['bad_words_ids must be a list of non-empty lists of token ids, got [[1],[]]'])
    expect(problems(decodeOptions({ logit_bias: { x: 1 } }))).toEqual(['logit_bias must be an object mapping token ids to finite numbers, got {"x":1}'])
  })
  it('collects every problem, unknown names and cross-field rules included', () => {
    expect(problems(decodeOptions({ topP: 0.9, top_k: 0, temperature: -1 }))).toEqual([
      'unknown option topP',
      'temperature must be a finite number > 0, got -1',
      'top_k must be an integer >= 1, got 0',
    ])
    expect(problems(decodeOptions({ num_beams: 2, num_return_sequences: 3, min_new_tokens: 2 }))).toEqual([
      'num_return_sequences must be <= num_beams (2), got 3',
      'min_new_tokens needs eos_token_id',
    ])
    expect(problems(decodeOptions([1]))).toEqual(['options must be an object, got [1]'])
  })
  it('accepts valid options', () => {
    const o = { temperature: 0.7, top_p: 0.9, eos_token_id: [0, 1], stop: '\n', logit_bias: { '3': -2 }, early_stopping: 'never' }
    expect(decodeOptions(o)).toEqual(E.right(o))
  })
})

describe('processorsFromOptions', () => {
  it('orders penalties, bans, min length, bias, then temperature → top-k → top-p → min-p → typical', () => {
    const o = decodeOptions({
      typical_p: 0.9,
      min_p: 0.1,
      top_p: 0.9,
      top_k: 5,
      temperature: 0.5,
      logit_bias: { 1: 1 },
      min_new_tokens: 1,
      eos_token_id: 0,
      suppress_tokens: [3],
      bad_words_ids: [[2]],
      no_repeat_ngram_size: 3,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      repetition_penalty: 1.1,
    })
    if (E.isLeft(o)) throw new Error(o.left.problems.join('; '))
    expect(processorSteps(o.right).map((s) => s.option)).toEqual([
      'repetition_penalty',
      'frequency_penalty',
      'presence_penalty',
      'no_repeat_ngram_size',
      'bad_words_ids',
      'suppress_tokens',
      'min_new_tokens',
      'logit_bias',
      'temperature',
      'top_k',
      'top_p',
      'min_p',
      'typical_p',
    ])
  })
  it('applies the chain', () => {
    const p = processorsFromOptions({ temperature: 2, top_k: 2 })
    if (E.isLeft(p)) throw new Error('unexpected')
    expect(Array.from(p.right(processorContext([0], []))(Float32Array.from([2, 4, 6])))).toEqual([-Infinity, 2, 3])
    expect(problems(processorsFromOptions({ top_p: 2 }))).toEqual(['top_p must be in (0, 1], got 2'])
  })
})

describe('requests from options', () => {
  it('builds a sampling or greedy request', () => {
    const r = requestFromOptions([1, 2], { max_new_tokens: 5, do_sample: false, eos_token_id: 0 })
    if (E.isLeft(r)) throw new Error('unexpected')
    expect(r.right).toMatchObject({ prompt: [1, 2], maxNewTokens: 5, eosTokenId: 0, sampler: greedySampler })
    const s = requestFromOptions([1], { stop: 'x' }, { decode: (ts) => ts.join('') })
    if (E.isLeft(s)) throw new Error('unexpected')
    expect(s.right).toMatchObject({ maxNewTokens: 20, stop: ['x'], sampler: sample })
  })
  it('refuses what it cannot honour', () => {
    expect(problems(requestFromOptions([1], { num_beams: 4, stop: 'x' }))).toEqual(['num_beams is 4: use beamRequestFromOptions and beamSearch', 'stop needs a decode function'])
    expect(problems(beamRequestFromOptions([1], { do_sample: true }))).toEqual(['do_sample must not be true for beam search (it is deterministic)'])
  })
  it('builds a beam request', () => {
    const r = beamRequestFromOptions([1], { num_beams: 3, length_penalty: 0.5, early_stopping: 'never', num_return_sequences: 2 })
    if (E.isLeft(r)) throw new Error('unexpected')
    expect(r.right).toMatchObject({ numBeams: 3, lengthPenalty: 0.5, earlyStopping: 'never', numReturnSequences: 2, maxNewTokens: 20 })
  })
})
