/**
 * The Mini-GPT configuration: the fields of the checkpoint's `config.json`, named as the seed
 * notebook names its constructor arguments, decoded and checked with io-ts.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { NonNegativeInt, PositiveInt, Rate, withCheck } from '../../core/codecs.js'
import { configError, validationProblems, type ConfigError } from '../../core/errors.js'

const Fields = t.strict({
  vocab_size: PositiveInt,
  embed_dim: PositiveInt,
  num_heads: PositiveInt,
  num_layers: PositiveInt,
  ff_dim: PositiveInt,
  /** The longest name (characters); the model sees max_len + 2 positions (SOS, EOS). */
  max_len: PositiveInt,
  dropout: Rate,
  pad_idx: NonNegativeInt,
})

/** io-ts codec of {@link MiniGptConfig}, with the cross-field checks. */
export const MiniGptConfigCodec = withCheck(
  withCheck(
    Fields,
    'num_heads',
    (c) => c.embed_dim % c.num_heads === 0,
    (c) => `must divide embed_dim=${c.embed_dim}, got ${c.num_heads}`,
  ),
  'pad_idx',
  (c) => c.pad_idx < c.vocab_size,
  (c) => `must be < vocab_size=${c.vocab_size}, got ${c.pad_idx}`,
)

/** Mini-GPT's hyper-parameters (the checkpoint's config.json). */
export type MiniGptConfig = t.TypeOf<typeof Fields>

/** The seed notebook's recipe: embed 64, 4 heads, 3 layers, ff 256, dropout 0.1, names up to 25. */
export const SEED_CONFIG = (vocabSize: number, padIdx = 0): MiniGptConfig => ({
  vocab_size: vocabSize,
  embed_dim: 64,
  num_heads: 4,
  num_layers: 3,
  ff_dim: 256,
  max_len: 25,
  dropout: 0.1,
  pad_idx: padIdx,
})

/** Decodes an unknown value (parsed JSON, options) into a config, or lists what is wrong. */
export const decodeMiniGptConfig = (u: unknown): E.Either<ConfigError, MiniGptConfig> =>
  pipe(
    MiniGptConfigCodec.decode(u),
    E.mapLeft((errs) => configError(...validationProblems(errs))),
  )

/** The number of positions the model can see: max_len + 2 (the seed's table size). */
export const contextLength = (c: MiniGptConfig): number => c.max_len + 2
