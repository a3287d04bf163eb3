/**
 * Optimizer configs from files and the command line: an io-ts codec that decodes unknown
 * input into a typed {@link OptimizerConfig} or into one message per problem, and
 * {@link optimizerFromConfig}, which builds the optimizer.
 *
 * The checks are the ones the constructors make (validate.ts, `sgdProblems`, ...), so a bad
 * value reads the same from a file as from code: `adamw: lr must be a finite number > 0,
 * got NaN`. Unknown fields are errors too (`adamw: unknown field "weight_decay" ...`), so a
 * misspelt option is never silently ignored.
 *
 * @example
 * // { "name": "adamw", "lr": { "schedule": "warmupLinearDecay", "warmupSteps": 100,
 * //   "totalSteps": 5000, "peak": 3e-4 }, "weightDecay": 0.1, "decayMask": "matrices",
 * //   "maxGradNorm": 1 }
 * const r = decodeOptimizerConfig(JSON.parse(text))
 * if (E.isLeft(r)) r.left.forEach((line) => console.error(line))
 * else opt = optimizerFromConfig(r.right)
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { adam, adamAliasProblems, adamw, adamwProblems, sgd, sgdProblems } from './alias.js'
import { chain, type GradientTransformation } from './base.js'
import {
  constant,
  constantProblems,
  linearWarmup,
  linearWarmupProblems,
  warmupCosineDecay,
  warmupCosineDecayProblems,
  warmupLinearDecay,
  warmupLinearDecayProblems,
  type Schedule,
} from './schedules.js'
import { clipByGlobalNormAs, decayMatrices } from './transforms.js'
import { positive, show } from './validate.js'

/** A schedule as data (the arguments of the schedule function of the same name). */
export type ScheduleConfig =
  | { readonly schedule: 'constant'; readonly value: number }
  | { readonly schedule: 'linearWarmup'; readonly warmupSteps: number; readonly peak: number }
  | { readonly schedule: 'warmupLinearDecay'; readonly warmupSteps: number; readonly totalSteps: number; readonly peak: number }
  | {
      readonly schedule: 'warmupCosineDecay'
      readonly warmupSteps: number
      readonly totalSteps: number
      readonly peak: number
      readonly end?: number
    }

/** A learning rate as data: a number or a {@link ScheduleConfig}. */
export type LrConfig = number | ScheduleConfig

/** Fields every optimizer config may have. */
interface CommonConfig {
  /** The learning rate or its schedule. */
  readonly lr: LrConfig
  /** Clip the gradients to this global norm first (the HF Trainer's `max_grad_norm`). */
  readonly maxGradNorm?: number
}

/** An optimizer as data, tagged by `name`; omitted fields take the constructors' defaults. */
export type OptimizerConfig =
  | (CommonConfig & { readonly name: 'sgd'; readonly momentum?: number; readonly nesterov?: boolean })
  | (CommonConfig & { readonly name: 'adam'; readonly b1?: number; readonly b2?: number; readonly eps?: number })
  | (CommonConfig & {
      readonly name: 'adamw'
      readonly b1?: number
      readonly b2?: number
      readonly eps?: number
      readonly weightDecay?: number
      /** Which parameters decay: 'all' (the default) or 'matrices' (rank >= 2: not biases or norms). */
      readonly decayMask?: 'all' | 'matrices'
    })

type Fields = { readonly [k: string]: unknown }

const OPTIMIZERS = {
  sgd: ['name', 'lr', 'maxGradNorm', 'momentum', 'nesterov'],
  adam: ['name', 'lr', 'maxGradNorm', 'b1', 'b2', 'eps'],
  adamw: ['name', 'lr', 'maxGradNorm', 'b1', 'b2', 'eps', 'weightDecay', 'decayMask'],
} as const

const SCHEDULES = {
  constant: ['schedule', 'value'],
  linearWarmup: ['schedule', 'warmupSteps', 'peak'],
  warmupLinearDecay: ['schedule', 'warmupSteps', 'totalSteps', 'peak'],
  warmupCosineDecay: ['schedule', 'warmupSteps', 'totalSteps', 'peak', 'end'],
} as const

const isRecord = (u: unknown): u is Fields => typeof u === 'object' && u !== null && !Array.isArray(u)

const has = <K extends string>(table: Record<K, unknown>, k: unknown): k is K => typeof k === 'string' && Object.hasOwn(table, k)

const unknownFields = (who: string, o: Fields, known: readonly string[]): string[] =>
  Object.keys(o)
    .filter((k) => !known.includes(k))
    .map((k) => `${who}: unknown field ${JSON.stringify(k)} (known fields: ${known.join(', ')})`)

const scheduleProblems = (who: string, lr: Fields): string[] => {
  const kind = lr.schedule
  if (!has(SCHEDULES, kind)) {
    return [`${who}: lr.schedule must be one of ${Object.keys(SCHEDULES).join(', ')}, got ${show(kind)}`]
  }
  const own =
    kind === 'constant'
      ? constantProblems(lr.value)
      : kind === 'linearWarmup'
        ? linearWarmupProblems(lr.warmupSteps, lr.peak)
        : kind === 'warmupLinearDecay'
          ? warmupLinearDecayProblems(lr.warmupSteps, lr.totalSteps, lr.peak)
          : warmupCosineDecayProblems(lr.warmupSteps, lr.totalSteps, lr.peak, lr.end ?? 0)
  return [...unknownFields(`${who}: lr`, lr, SCHEDULES[kind]), ...own.map((p) => `${who}: lr: ${p}`)]
}

/** Every problem with an optimizer config, one line each; empty when it is valid. */
const configProblems = (u: unknown): string[] => {
  if (!isRecord(u)) return [`optimizer config must be an object with a "name" (${Object.keys(OPTIMIZERS).join(', ')}), got ${show(u)}`]
  const name = u.name
  if (!has(OPTIMIZERS, name)) return [`optimizer config: name must be one of ${Object.keys(OPTIMIZERS).join(', ')}, got ${show(name)}`]
  // A schedule object stands in for a number when the optimizer's own checks run.
  const lrIsSchedule = isRecord(u.lr)
  const fields = lrIsSchedule ? { ...u, lr: 1 } : u
  const own = name === 'sgd' ? sgdProblems(fields) : name === 'adam' ? adamAliasProblems(fields) : adamwProblems({ ...fields, mask: undefined })
  const lrProblems = lrIsSchedule ? scheduleProblems(name, u.lr as Fields) : typeof u.lr === 'function' ? [positive(name, 'lr', u.lr) as string] : []
  const mask =
    name === 'adamw' && u.decayMask !== undefined && u.decayMask !== 'all' && u.decayMask !== 'matrices'
      ? [`adamw: decayMask must be "all" or "matrices", got ${show(u.decayMask)}`]
      : []
  const clip = u.maxGradNorm === undefined ? [] : [positive(name, 'maxGradNorm', u.maxGradNorm)].filter((p): p is string => p !== undefined)
  return [...unknownFields(name, u, OPTIMIZERS[name]), ...own, ...lrProblems, ...mask, ...clip]
}

/**
 * The io-ts codec for {@link OptimizerConfig}. Each failure carries its message (with the
 * optimizer and field in it) in `message`, at the root of the context, so
 * `errors.map((e) => e.message)` is the list of problems. See {@link decodeOptimizerConfig}.
 */
export const OptimizerConfig: t.Type<OptimizerConfig, OptimizerConfig, unknown> = new t.Type<OptimizerConfig, OptimizerConfig, unknown>(
  'OptimizerConfig',
  (u): u is OptimizerConfig => configProblems(u).length === 0,
  (u, c) => {
    const ps = configProblems(u)
    return ps.length === 0 ? t.success(u as OptimizerConfig) : t.failures(ps.map((message) => ({ value: u, context: c, message })))
  },
  t.identity,
)

/** Decodes an optimizer config, or gives one line per problem. */
export const decodeOptimizerConfig = (u: unknown): E.Either<readonly string[], OptimizerConfig> =>
  E.mapLeft((errors: t.Errors) => errors.map((e) => e.message ?? `invalid optimizer config: ${show(e.value)}`))(OptimizerConfig.decode(u))

/** The schedule a {@link LrConfig} describes (a number is a constant learning rate). */
export const lrFromConfig = (lr: LrConfig): number | Schedule => {
  if (typeof lr === 'number') return lr
  switch (lr.schedule) {
    case 'constant':
      return constant(lr.value)
    case 'linearWarmup':
      return linearWarmup(lr.warmupSteps, lr.peak)
    case 'warmupLinearDecay':
      return warmupLinearDecay(lr.warmupSteps, lr.totalSteps, lr.peak)
    case 'warmupCosineDecay':
      return warmupCosineDecay(lr.warmupSteps, lr.totalSteps, lr.peak, lr.end ?? 0)
  }
}

/**
 * The optimizer a decoded config describes: the named alias, preceded by
 * `clipByGlobalNorm(maxGradNorm)` when that is set. Its state type depends on the config, so
 * it is `unknown` here: make it with `init` and hand it back to `update` unchanged.
 */
export const optimizerFromConfig = (config: OptimizerConfig): GradientTransformation<unknown> => {
  const lr = lrFromConfig(config.lr)
  const opt = (
    config.name === 'sgd'
      ? sgd({ lr, momentum: config.momentum, nesterov: config.nesterov })
      : config.name === 'adam'
        ? adam({ lr, b1: config.b1, b2: config.b2, eps: config.eps })
        : adamw({
            lr,
            b1: config.b1,
            b2: config.b2,
            eps: config.eps,
            weightDecay: config.weightDecay,
            mask: config.decayMask === 'matrices' ? decayMatrices : undefined,
          })
  ) as GradientTransformation<unknown>
  const full = config.maxGradNorm === undefined ? opt : chain(clipByGlobalNormAs(config.name, config.maxGradNorm), opt)
  return full as GradientTransformation<unknown>
}
