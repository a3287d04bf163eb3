/**
 * The pictures the library is for, built from realistic numbers (softmax attention, loss
 * curves, the fantasy-name lengths, a sampling pipeline), checked for well-formedness and a few
 * facts. With VIZ_SAMPLES=/some/folder set, they are also written there as .svg files to look
 * at (render them with a browser): `VIZ_SAMPLES=/tmp/viz-samples npx vitest run spec/viz`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { key, normal, split } from '../../src/core/key.js'
import { attentionGrid, distributionBars, heatmap, heatmapGrid, heatmapPanels, histogram, lineChart, type Matrix } from '../../src/viz/index.js'
import { byClass, parseXml } from './xml.js'

const softmaxRows = (scores: Matrix, causal: boolean): number[][] =>
  scores.map((row, i) => {
    const masked = row.map((s, j) => (causal && j > i ? -Infinity : s))
    const m = Math.max(...masked)
    const e = masked.map((s) => Math.exp(s - m))
    const z = e.reduce((a, b) => a + b, 0)
    return e.map((x) => x / z)
  })

const scoresFrom = (seed: number, n: number, scale = 1): number[][] => {
  const z = normal(key(seed), n * n)
  return Array.from({ length: n }, (_, i) => Array.from(z.slice(i * n, (i + 1) * n), (x) => x * scale))
}

const names = (): string[] => {
  for (const dir of ['../shared/data', '../../shared/data']) {
    const f = join(dir, 'fantasy_names.txt')
    if (existsSync(f)) {
      return readFileSync(f, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
    }
  }
  return ['Aragorn', 'Legolas', 'Gimli', 'Boromir', 'Faramir', 'Éowyn', 'Galadriel']
}

const samples = (): Record<string, string> => {
  const s5 = scoresFrom(1, 5)
  const unmasked = softmaxRows(s5, false)
  const causal = softmaxRows(s5, true)
  const tokens = ['<SOS>', 'A', 'r', 'a', 'g', 'o', 'r', 'n']
  const ks = split(key(7), 12)
  const grid = Array.from({ length: 3 }, (_, l) =>
    Array.from({ length: 4 }, (_, h) => {
      const z = normal(ks[l * 4 + h], 64, 1.5)
      return softmaxRows(
        Array.from({ length: 8 }, (_, i) => Array.from(z.slice(i * 8, i * 8 + 8))),
        true,
      )
    }),
  )
  const epochs = Array.from({ length: 30 }, (_, i) => i + 1)
  const train = epochs.map((e) => 1.45 + 1.9 * Math.exp(-e / 4) - 0.004 * e)
  const val = epochs.map((e) => 1.62 + 1.7 * Math.exp(-e / 4.5) + 0.0025 * Math.max(0, e - 14) ** 1.3)
  const ctx = [8, 16, 32, 64, 128, 256, 512, 1024]
  const lengths = names().map((n) => [...n].length)
  const vocab = [...'abcdefghijklmnopqrstuvwxyz', ' ', '-', "'", 'é', '<EOS>']
  const logits = Array.from(normal(key(3), vocab.length, 1.6))
  const probs = (ls: number[], t: number) => {
    const m = Math.max(...ls)
    const e = ls.map((l) => (l === -Infinity ? 0 : Math.exp((l - m) / t)))
    const z = e.reduce((a, b) => a + b, 0)
    return e.map((x) => x / z)
  }
  const p0 = probs(logits, 1)
  const p1 = probs(logits, 0.7)
  const kth = [...logits].sort((a, b) => b - a)[4]
  const p2 = probs(
    logits.map((l) => (l >= kth ? l : -Infinity)),
    0.7,
  )
  const order = p1.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0])
  let acc = 0
  const keep = new Set<number>()
  for (const [p, i] of order) {
    if (acc < 0.9) keep.add(i)
    acc += p
  }
  const p3 = probs(
    logits.map((l, i) => (keep.has(i) ? l : -Infinity)),
    0.7,
  )
  const bars = (ps: number[]) => vocab.map((label, i) => ({ label, value: ps[i] }))
  const gpt2Tokens = ['The', ' wizard', ' walked', ' into', ' the', ' tavern', ',', ' and', ' the', ' dwarf', ' said', ':']
  const weird = [
    [0.1, NaN, 0.5],
    [Infinity, 0.25, -Infinity],
    [0.9, 0.3],
  ]

  return {
    'heatmap-5x5': heatmap(unmasked, { title: 'Attention without mask (encoder)', xLabel: 'key (K)', yLabel: 'query (Q)' }),
    'heatmap-panels': heatmapPanels(
      [
        { matrix: unmasked, title: 'without mask (encoder/BERT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
        { matrix: causal, title: 'with causal mask (decoder/GPT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
      ],
      { title: 'Attention weights', min: 0, max: 1 },
    ),
    'attention-grid': attentionGrid(grid, tokens, { title: 'Attention per layer and head: "Aragorn"' }),
    'heatmap-gpt2-tokens': heatmap(softmaxRows(scoresFrom(5, 12, 2), true), {
      title: 'GPT-2 attention, layer 5 head 1',
      rowLabels: gpt2Tokens,
      colLabels: gpt2Tokens,
      xLabel: 'key',
      yLabel: 'query',
    }),
    'heatmap-32': heatmap(softmaxRows(scoresFrom(9, 32, 2), true), { title: 'A 32-token causal attention map', xLabel: 'key position', yLabel: 'query position' }),
    'heatmap-weird': heatmap(weird, {
      title: 'Edge cases: <NaN> & "quotes" — ∞',
      rowLabels: ['a<b', 'x & y', '"q"'],
      colLabels: ['é', '名前', "it's"],
      xLabel: 'k < 3',
      yLabel: 'q & r',
    }),
    'heatmap-grid-generic': heatmapGrid(
      [
        [unmasked, causal],
        [causal, unmasked],
      ],
      { title: 'Generic grid', rowTitles: ['row A', 'row B'], colTitles: ['col 1', 'col 2'] },
    ),
    'loss-curve': lineChart(
      [
        { name: 'train', points: epochs.map((e, i) => [e, train[i]]) },
        { name: 'validation', points: epochs.map((e, i) => [e, val[i]]) },
      ],
      { title: 'Training curve', xLabel: 'epoch', yLabel: 'loss (nats / token)' },
    ),
    latency: lineChart(
      [
        { name: 'without KV cache', points: ctx.map((c) => [c, 0.9 + 0.021 * c]) },
        { name: 'with KV cache', points: ctx.map((c) => [c, 0.85 + 0.0012 * c]) },
      ],
      { title: 'Per-token latency vs context length', xLabel: 'context length (tokens)', yLabel: 'ms / token' },
    ),
    'latency-log': lineChart(
      [
        { name: 'without KV cache', points: ctx.map((c) => [c, 0.9 + 0.021 * c]) },
        { name: 'with KV cache', points: ctx.map((c) => [c, 0.85 + 0.0012 * c]) },
        {
          name: 'broken run',
          points: [
            [8, 2],
            [16, NaN],
            [32, 3],
            [64, -1],
            [128, 5],
          ],
        },
      ],
      { title: 'Per-token latency (log scale)', xLabel: 'context length (tokens)', yLabel: 'ms / token', logY: true },
    ),
    'name-lengths': histogram(lengths, { binWidth: 1, title: 'Distribution of name lengths', xLabel: 'name length (characters)', yLabel: 'frequency' }),
    'name-lengths-30bins': histogram(
      lengths.map((l) => l + 0.001),
      { bins: 30, title: '30 bins, as in the notebook', xLabel: 'name length' },
    ),
    distribution: distributionBars(
      [
        { title: 'softmax (T = 1)', bars: bars(p0) },
        { title: 'temperature 0.7', bars: bars(p1) },
        { title: 'top-k (k = 5)', bars: bars(p2) },
        { title: 'top-p (p = 0.9)', bars: bars(p3) },
      ],
      { title: 'Next character after "Ara", stage by stage' },
    ),
    'distribution-gpt2': distributionBars(
      [
        { title: 'raw', bars: gpt2Tokens.map((label, i) => ({ label, value: 1 / (i + 2) })) },
        { title: 'after repetition penalty', bars: gpt2Tokens.map((label, i) => ({ label, value: i === 4 ? -Infinity : 1 / (i + 3) })) },
      ],
      { title: 'GPT-2 next token' },
    ),
  }
}

describe('sample pictures', () => {
  const all = samples()
  it.each(Object.keys(all))('%s is well-formed and deterministic', (name) => {
    parseXml(all[name])
    expect(samples()[name]).toBe(all[name])
  })

  it('the causal panel prints 0.00 above the diagonal', () => {
    const root = parseXml(all['heatmap-panels'])
    const values = byClass(root, 'text', 'value').map((t) => t.children.join(''))
    expect(values).toHaveLength(50)
    const causal = values.slice(25)
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) expect(causal[i * 5 + j]).toBe('0.00')
  })

  it('the histogram of name lengths counts every name', () => {
    const root = parseXml(all['name-lengths'])
    const total = byClass(root, 'rect', 'bar').reduce((s, b) => s + Number(b.attrs['data-count']), 0)
    expect(total).toBe(names().length)
  })

  const out = process.env.VIZ_SAMPLES
  it.runIf(out !== undefined && out !== '')('writes the samples to $VIZ_SAMPLES', () => {
    mkdirSync(out!, { recursive: true })
    for (const [name, svg] of Object.entries(all)) writeFileSync(join(out!, `${name}.svg`), svg)
  })
})
