/**
 * The pictures the CLI writes next to a checkpoint, as SVG files: the loss curve (train and
 * validation per epoch), the name-length histogram, the seed's causal-mask illustration
 * (attention weights without and with the mask, side by side) and the attention of every
 * layer and head on a generated name.
 */
import * as E from 'fp-ts/lib/Either.js'
import { join } from 'node:path'
import { key, normal } from '../core/key.js'
import { chars, type CharVocab } from '../data/vocab.js'
import { writeFileAtomic } from '../io/files.js'
import { causalMaskValues } from '../mask/index.js'
import type { MiniGptConfig } from '../models/minigpt/config.js'
import type { MiniGptParams } from '../models/minigpt/model.js'
import { attentionMaps } from '../models/minigpt/task.js'
import { attentionGrid, heatmapPanels, histogram, lineChart } from '../viz/index.js'
import { CliError } from './io.js'

const write = async (path: string, svg: string): Promise<void> => {
  const r = await writeFileAtomic(path, svg)()
  if (E.isLeft(r)) throw new CliError(r.left.message)
}

/** Row-wise softmax of a square matrix given as rows (host numbers). */
const softmaxRows = (rows: number[][]): number[][] =>
  rows.map((r) => {
    const m = Math.max(...r)
    const e = r.map((x) => (x === -Infinity ? 0 : Math.exp(x - m)))
    const s = e.reduce((a, b) => a + b, 0)
    return e.map((x) => x / s)
  })

/** The seed's exercise 1 picture: softmax of random scores without and with the causal mask. */
const maskIllustration = (n = 5, seed = 0): string => {
  const z = normal(key(seed), n * n)
  const scores = Array.from({ length: n }, (_, i) => Array.from(z.subarray(i * n, (i + 1) * n)))
  const mask = causalMaskValues(n)
  const masked = scores.map((r, i) => r.map((x, j) => x + mask[i * n + j]))
  const labels = Array.from({ length: n }, (_, i) => String(i))
  return heatmapPanels(
    [
      { matrix: softmaxRows(scores), title: 'without mask (encoder / BERT)', rowLabels: labels, colLabels: labels, xLabel: 'key (K)', yLabel: 'query (Q)' },
      { matrix: softmaxRows(masked), title: 'with causal mask (decoder / GPT)', rowLabels: labels, colLabels: labels, xLabel: 'key (K)', yLabel: 'query (Q)' },
    ],
    { showValues: true, min: 0, max: 1, title: 'Attention weights: the causal mask hides the future' },
  )
}

/** Loss curve and name-length histogram, written into `dir`. */
export const writePictures = async (
  dir: string,
  data: { readonly history: readonly { epoch: number; trainLoss: number; valLoss?: number }[]; readonly names: readonly string[] },
): Promise<void> => {
  const series = [{ name: 'train (dropout on, mean of batches)', points: data.history.map((h) => [h.epoch, h.trainLoss] as const) }]
  const val = data.history.filter((h) => h.valLoss !== undefined)
  if (val.length > 0) series.push({ name: 'validation (eval mode, per token)', points: val.map((h) => [h.epoch, h.valLoss as number] as const) })
  await write(join(dir, 'loss-curve.svg'), lineChart(series, { title: 'Mini-GPT training', xLabel: 'epoch', yLabel: 'cross-entropy (nats)', markers: data.history.length <= 60 }))
  await write(
    join(dir, 'name-lengths.svg'),
    histogram(
      data.names.map((n) => chars(n).length),
      { binWidth: 1, title: `Name lengths (${data.names.length} names)`, xLabel: 'characters', yLabel: 'names' },
    ),
  )
}

/** The causal-mask illustration and the attention of every layer and head on `name`. */
export const writeAttentionPictures = async (dir: string, config: MiniGptConfig, vocab: CharVocab, params: MiniGptParams, name: string): Promise<void> => {
  await write(join(dir, 'causal-mask.svg'), maskIllustration())
  const ids = [vocab.sos, ...chars(name).map((c) => vocab.index.get(c) ?? vocab.pad)].slice(0, config.max_len + 2)
  const labels = ids.map((i) => (i === vocab.sos ? '<SOS>' : vocab.tokens[i]))
  await write(join(dir, 'attention.svg'), attentionGrid(await attentionMaps(config, params, ids), labels, { title: `Attention of each layer and head on "${name}"` }))
}
