/**
 * Learning-rate schedules: pure functions from the step number to the learning rate.
 *
 * The step is the number of updates made before this one (0 for the first update), a plain
 * number kept in the optimizer state, so a schedule costs nothing on the device. The
 * conventions follow Hugging Face's `get_*_schedule_with_warmup` (what the HF Trainer uses)
 * driving `torch.optim` through `LambdaLR`: the first update uses `schedule(0)`, so a warmup
 * starts at a learning rate of 0.
 *
 * @example
 * const lr = warmupCosineDecay(100, 10_000, 3e-4, 3e-5)
 * const opt = adamw({ lr })
 */
import { integerAtLeast, nonNegative, orThrow, positive, problems } from './validate.js'

/** A learning rate as a function of the step (0 for the first update). */
export type Schedule = (step: number) => number

/** The fraction of warmup done at `step`: step / warmupSteps, as in HF (`max(1, warmupSteps)`). */
const warmupFraction = (step: number, warmupSteps: number): number => step / Math.max(1, warmupSteps)

const warmupProblem = (who: string, warmupSteps: unknown) => integerAtLeast(who, 'warmupSteps', warmupSteps, 0)

const totalProblem = (who: string, warmupSteps: unknown, totalSteps: unknown) => {
  const w = typeof warmupSteps === 'number' && Number.isSafeInteger(warmupSteps) && warmupSteps >= 0 ? warmupSteps : 0
  return integerAtLeast(who, 'totalSteps', totalSteps, w, w === 0 ? '0' : `warmupSteps (${w})`)
}

/** What is wrong with the arguments of {@link constant} (shared with the config codec). */
export const constantProblems = (value: unknown): string[] => problems(positive('constant', 'value', value))

/** What is wrong with the arguments of {@link linearWarmup}. */
export const linearWarmupProblems = (warmupSteps: unknown, peak: unknown): string[] => problems(warmupProblem('linearWarmup', warmupSteps), positive('linearWarmup', 'peak', peak))

/** What is wrong with the arguments of {@link warmupLinearDecay}. */
export const warmupLinearDecayProblems = (warmupSteps: unknown, totalSteps: unknown, peak: unknown): string[] =>
  problems(warmupProblem('warmupLinearDecay', warmupSteps), totalProblem('warmupLinearDecay', warmupSteps, totalSteps), positive('warmupLinearDecay', 'peak', peak))

/** What is wrong with the arguments of {@link warmupCosineDecay}. */
export const warmupCosineDecayProblems = (warmupSteps: unknown, totalSteps: unknown, peak: unknown, end: unknown): string[] =>
  problems(
    warmupProblem('warmupCosineDecay', warmupSteps),
    totalProblem('warmupCosineDecay', warmupSteps, totalSteps),
    positive('warmupCosineDecay', 'peak', peak),
    nonNegative('warmupCosineDecay', 'end', end) ??
      (typeof peak === 'number' && (end as number) > peak ? `warmupCosineDecay: end must be <= peak (${peak}), got ${end as number}` : undefined),
  )

/** The same learning rate at every step. */
export const constant = (value: number): Schedule => {
  orThrow(...constantProblems(value))
  return () => value
}

/**
 * Linear warmup from 0 to `peak` over `warmupSteps` updates, then `peak` for ever (HF's
 * `get_constant_schedule_with_warmup`): `peak · step / warmupSteps` while `step < warmupSteps`.
 */
export const linearWarmup = (warmupSteps: number, peak: number): Schedule => {
  orThrow(...linearWarmupProblems(warmupSteps, peak))
  return (step) => (step < warmupSteps ? peak * warmupFraction(step, warmupSteps) : peak)
}

/**
 * Linear warmup to `peak`, then linear decay to 0 at `totalSteps` and 0 after it: HF's
 * `get_linear_schedule_with_warmup`, the HF Trainer's default schedule.
 */
export const warmupLinearDecay = (warmupSteps: number, totalSteps: number, peak: number): Schedule => {
  orThrow(...warmupLinearDecayProblems(warmupSteps, totalSteps, peak))
  const decaySteps = Math.max(1, totalSteps - warmupSteps)
  return (step) => (step < warmupSteps ? peak * warmupFraction(step, warmupSteps) : peak * Math.max(0, (totalSteps - step) / decaySteps))
}

/**
 * Linear warmup to `peak`, then a half cosine from `peak` down to `end` (default 0) at
 * `totalSteps`, and `end` after it. With `end = 0` and steps up to `totalSteps` this is HF's
 * `get_cosine_schedule_with_warmup`; with `end > 0` it is HF's
 * `get_cosine_with_min_lr_schedule_with_warmup` (min_lr = end). Unlike HF's plain cosine, it
 * holds `end` past `totalSteps` instead of rising again (as Optax's
 * `warmup_cosine_decay_schedule` does).
 */
export const warmupCosineDecay = (warmupSteps: number, totalSteps: number, peak: number, end = 0): Schedule => {
  orThrow(...warmupCosineDecayProblems(warmupSteps, totalSteps, peak, end))
  const decaySteps = Math.max(1, totalSteps - warmupSteps)
  return (step) => {
    if (step < warmupSteps) return peak * warmupFraction(step, warmupSteps)
    const progress = Math.min(1, (step - warmupSteps) / decaySteps)
    return end + (peak - end) * 0.5 * (1 + Math.cos(Math.PI * progress))
  }
}
