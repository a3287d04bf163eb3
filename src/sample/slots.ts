/**
 * The generation engine's prefix-sharing scheduler, apart from decoding: which batch position
 * ("slot") of the model's cache each row reads, and what the model is fed next.
 *
 * Rows whose tokens so far are identical (the same prompt, the same draws) share one slot, so
 * the model computes each distinct history once. Many samples from one prompt share their
 * first steps: a thousand names from SOS start as one slot, then a few dozen, a few hundred…
 * and only diverge into one slot per row after a few characters. Pure functions of plain
 * arrays: the engine (engine.ts) applies their plans to the model's cache.
 */

/** The slots of a group's prompts: the distinct prompts (the prefill batch) and each row's slot. */
export interface PromptSlots {
  readonly prompts: readonly (readonly number[])[]
  readonly slotOf: readonly number[]
}

/** One slot per distinct prompt, in order of first appearance. */
export const promptSlots = (prompts: readonly (readonly number[])[]): PromptSlots => {
  const distinct: (readonly number[])[] = []
  const slotById = new Map<string, number>()
  const slotOf = prompts.map((prompt) => {
    const id = prompt.join(',')
    let slot = slotById.get(id)
    if (slot === undefined) {
      slot = distinct.push(prompt) - 1
      slotById.set(id, slot)
    }
    return slot
  })
  return { prompts: distinct, slotOf }
}

/** The state of the scheduler between steps: each row's slot, and the token each slot was last fed. */
export interface SlotState {
  readonly slotOf: readonly number[]
  readonly fed: readonly number[]
}

/** What to do before the next step: keep the cache, or `select` these rows of it; then feed `state.fed`. */
export interface SlotPlan {
  /** The cache rows to keep, in order (`DecoderModel.select`), or undefined to keep the cache as it is. */
  readonly select?: readonly number[]
  readonly state: SlotState
}

/**
 * The next step's plan, from the rows still live and the token each chose: one slot per
 * distinct (slot, token) among the live rows, in row order. Undefined when no row is live.
 *
 * When every slot continues at most once, in order, and more than half the slots are still
 * used, the cache is kept as it is: slots no live row uses ride along (their outputs ignored),
 * since `select` copies every layer's keys and values and is not worth it for a few finished
 * rows. Such a slot is fed its last token again; its position never passes the context length,
 * since every slot of a group is at the same position and a row at the limit finishes the group.
 */
export const planNextStep = (state: SlotState, live: readonly boolean[], chosen: readonly number[], vocabSize: number): SlotPlan | undefined => {
  const parents: number[] = []
  const tokens: number[] = []
  const next = new Map<number, number>()
  const nextSlotOf = state.slotOf.slice()
  for (let i = 0; i < live.length; i++) {
    if (!live[i]) continue
    const id = state.slotOf[i] * vocabSize + chosen[i]
    let slot = next.get(id)
    if (slot === undefined) {
      slot = parents.push(state.slotOf[i]) - 1
      tokens.push(chosen[i])
      next.set(id, slot)
    }
    nextSlotOf[i] = slot
  }
  if (parents.length === 0) return undefined
  const noSplit = parents.every((p, j) => j === 0 || p > parents[j - 1])
  if (noSplit && parents.length * 2 > state.fed.length) {
    const fed = state.fed.slice()
    parents.forEach((p, j) => {
      fed[p] = tokens[j]
    })
    return { state: { slotOf: state.slotOf.map((s, i) => (live[i] ? parents[nextSlotOf[i]] : s)), fed } }
  }
  return { select: parents, state: { slotOf: nextSlotOf, fed: tokens } }
}
