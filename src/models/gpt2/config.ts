/**
 * GPT-2's configuration: the fields of a Hugging Face `config.json` (GPT2Config) that the
 * graph needs, decoded with io-ts; unknown fields are ignored, as transformers does.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { PositiveInt, PositiveNumber, Rate, withCheck } from '../../core/codecs.js'
import { configError, validationProblems, type ConfigError } from '../../core/errors.js'

const Activation = t.keyof({ gelu_new: null, gelu: null, gelu_pytorch_tanh: null, relu: null })

const Fields = t.intersection([
  t.type({
    vocab_size: PositiveInt,
    n_positions: PositiveInt,
    n_embd: PositiveInt,
    n_layer: PositiveInt,
    n_head: PositiveInt,
  }),
  t.partial({
    n_inner: t.union([PositiveInt, t.null]),
    activation_function: Activation,
    layer_norm_epsilon: PositiveNumber,
    bos_token_id: t.number,
    eos_token_id: t.number,
    model_type: t.string,
    // Dropout rates (used when fine-tuning) and the init scale: kept so a folder saved after
    // fine-tuning says what the one loaded said.
    resid_pdrop: Rate,
    embd_pdrop: Rate,
    attn_pdrop: Rate,
    initializer_range: PositiveNumber,
    architectures: t.array(t.string),
    // Variants of the graph this library does not implement: accepted only at their GPT-2 values.
    scale_attn_weights: t.boolean,
    scale_attn_by_inverse_layer_idx: t.boolean,
    tie_word_embeddings: t.boolean,
  }),
])

/** io-ts codec of {@link Gpt2Config} (n_head must divide n_embd). */
export const Gpt2ConfigCodec = withCheck(
  Fields,
  'n_head',
  (c) => c.n_embd % c.n_head === 0,
  (c) => `must divide n_embd=${c.n_embd}, got ${c.n_head}`,
)

/** GPT-2 hyper-parameters, as in Hugging Face's config.json. */
export type Gpt2Config = t.TypeOf<typeof Fields>

/** Decodes an unknown value into a GPT-2 config, or lists what is wrong. */
export const decodeGpt2Config = (u: unknown): E.Either<ConfigError, Gpt2Config> =>
  pipe(
    Gpt2ConfigCodec.decode(u),
    E.mapLeft((errs) => configError(...validationProblems(errs))),
    E.chain((c) => {
      const problems = [
        c.model_type !== undefined && c.model_type !== 'gpt2' ? `model_type: expected "gpt2", got ${JSON.stringify(c.model_type)}` : undefined,
        c.scale_attn_weights === false ? 'scale_attn_weights: false is not supported (GPT-2 scales attention by 1/√head_dim)' : undefined,
        c.scale_attn_by_inverse_layer_idx === true ? 'scale_attn_by_inverse_layer_idx: true is not supported' : undefined,
        c.tie_word_embeddings === false ? 'tie_word_embeddings: false is not supported (the GPT-2 head is tied to wte)' : undefined,
      ].filter((p): p is string => p !== undefined)
      return problems.length > 0 ? E.left(configError(...problems)) : E.right(c)
    }),
  )

const preset = (n_embd: number, n_layer: number, n_head: number): Gpt2Config => ({
  vocab_size: 50257,
  n_positions: 1024,
  n_embd,
  n_layer,
  n_head,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: 50256,
  eos_token_id: 50256,
  model_type: 'gpt2',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  initializer_range: 0.02,
})

/** The shapes of the released GPT-2 checkpoints (for random-weight speed tests and training from scratch). */
export const GPT2_PRESETS = {
  gpt2: preset(768, 12, 12),
  'gpt2-medium': preset(1024, 24, 16),
  'gpt2-large': preset(1280, 36, 20),
  'gpt2-xl': preset(1600, 48, 25),
} as const

/** The feed-forward width: n_inner, or 4·n_embd. */
export const innerDim = (c: Gpt2Config): number => c.n_inner ?? 4 * c.n_embd
