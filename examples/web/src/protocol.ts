/**
 * The messages between the playground page and its training worker. Plain data only (they
 * cross `postMessage`): settings in, the loop's events out, checkpoints as the three files'
 * contents so that the page loads a trained model exactly as it loads files the user picks.
 */

/** Model sizes offered in the page (the rest of the config is the seed's). */
export const PRESETS = {
  tiny: { embed_dim: 32, num_heads: 2, num_layers: 2, ff_dim: 64 },
  small: { embed_dim: 48, num_heads: 4, num_layers: 2, ff_dim: 192 },
  seed: { embed_dim: 64, num_heads: 4, num_layers: 3, ff_dim: 256 },
} as const

/** One of {@link PRESETS}. */
export type Preset = keyof typeof PRESETS

/** What the page asks the worker to train. */
export interface TrainSettings {
  readonly preset: Preset
  readonly epochs: number
  readonly batchSize: number
  readonly lr: number
  readonly seed: number
}

/** A checkpoint folder's three files, as the worker posts them (`model` is transferred). */
export interface CheckpointFiles {
  readonly config: string
  readonly vocab: string
  readonly model: Uint8Array
}

/** Page → worker. */
export type ToWorker =
  | {
      readonly type: 'start'
      readonly backend: string
      readonly wasmPaths: string
      /** wasm's threads, when the page's address chose them (`?threads=N`). */
      readonly threads?: number
      readonly namesUrl: string
      readonly settings: TrainSettings
    }
  | { readonly type: 'stop' }

/** Worker → page. */
export type FromWorker =
  | {
      readonly type: 'ready'
      readonly backend: string
      /** The threads the worker's wasm runs on (1 off wasm, and where the page is not cross-origin isolated). */
      readonly threads: number
      readonly names: number
      readonly train: number
      readonly val: number
      readonly params: number
      readonly stepsPerEpoch: number
    }
  | { readonly type: 'step'; readonly epoch: number; readonly step: number; readonly stepsPerEpoch: number; readonly loss: number; readonly tokensPerSecond: number }
  | {
      readonly type: 'epoch'
      readonly epoch: number
      readonly epochs: number
      readonly trainLoss: number
      readonly valLoss?: number
      readonly seconds: number
      readonly samples: readonly string[]
      readonly checkpoint: CheckpointFiles
    }
  | { readonly type: 'done'; readonly steps: number; readonly stopped: boolean; readonly checkpoint: CheckpointFiles }
  | { readonly type: 'error'; readonly message: string }
