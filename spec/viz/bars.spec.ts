import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { distributionBars, topBars, type Bar } from '../../src/viz/bars.js'
import { anyNumber, checkSvg, nastyString } from './arbitraries.js'
import { byClass, textOf, visibleText, type XmlElement } from './xml.js'

const panelsOf = (root: XmlElement) => byClass(root, 'g', 'panel')
const captions = (root: XmlElement) => byClass(root, 'text', 'caption').map(textOf).join(' ')
const labels = (panel: XmlElement) => byClass(panel, 'text', 'bar-label').map(textOf)

const vocab = [...'abcdefghijklmnopqrstuvwxyz', ' ', '<EOS>']
// A softmax over the vocabulary with a clear order: a > b > c > …
const probs = (() => {
  const e = vocab.map((_, i) => Math.exp(-0.3 * i))
  const z = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / z)
})()
const barsOf = (ps: readonly number[]): Bar[] => vocab.map((label, i) => ({ label, value: ps[i] }))
const topK = (ps: readonly number[], k: number) => {
  const kept = ps.map((p, i) => (i < k ? p : 0))
  const z = kept.reduce((a, b) => a + b, 0)
  return kept.map((p) => p / z)
}

describe('topBars', () => {
  it('keeps the k largest, largest first, NaN and −∞ last, ties in input order', () => {
    const bars = [
      { label: 'a', value: 0.1 },
      { label: 'b', value: NaN },
      { label: 'c', value: 0.5 },
      { label: 'd', value: -Infinity },
      { label: 'e', value: 0.1 },
      { label: 'f', value: 0.3 },
    ]
    expect(topBars(bars, 4).map((b) => b.label)).toEqual(['c', 'f', 'a', 'e'])
    expect(topBars(bars, 10).map((b) => b.label)).toEqual(['c', 'f', 'a', 'e', 'b', 'd'])
  })
})

describe('distributionBars', () => {
  it('shows the top 15 tokens of the first panel in every panel; removed tokens visibly absent', () => {
    const root = checkSvg(
      distributionBars(
        [
          { title: 'softmax', bars: barsOf(probs) },
          { title: 'top-k (k = 5)', bars: barsOf(topK(probs, 5)) },
        ],
        { title: 'Next character' },
      ),
    )
    const [raw, filtered] = panelsOf(root)
    const expected = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o']
    expect(labels(raw)).toEqual(expected)
    expect(labels(filtered)).toEqual(expected)
    expect(byClass(raw, 'rect', 'bar')).toHaveLength(15)
    expect(byClass(filtered, 'rect', 'bar')).toHaveLength(5)
    expect(byClass(filtered, 'path', 'removed')).toHaveLength(10)
    // The bars shrink with the probabilities; after top-k the kept ones grow.
    const h = (p: XmlElement) => byClass(p, 'rect', 'bar').map((b) => Number(b.attrs.height))
    const hr = h(raw)
    for (let i = 1; i < 15; i++) expect(hr[i]).toBeLessThanOrEqual(hr[i - 1])
    h(filtered).forEach((x, i) => expect(x).toBeGreaterThan(hr[i]))
    // Both panels on one y scale: the same tick labels.
    const ticks = (p: XmlElement) =>
      byClass(p, 'g', 'y-axis')[0]
        .children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === 'text')
        .map(textOf)
    expect(ticks(raw)).toEqual(ticks(filtered))
    expect(byClass(root, 'text', 'panel-title').map(textOf)).toEqual(['softmax', 'top-k (k = 5)'])
    expect(captions(root)).toContain('\u00d7 marks tokens with probability 0')
    // Printed values: '%.2f'.
    expect(byClass(raw, 'text', 'value').map(textOf)[0]).toBe(probs[0].toFixed(2))
  })

  it('treats a −∞ logit like probability 0, and skips NaN with a caption', () => {
    const root = checkSvg(
      distributionBars([
        {
          title: 'masked',
          bars: [
            { label: 'x', value: 0.5 },
            { label: 'y', value: -Infinity },
            { label: 'z', value: NaN },
            { label: 'w', value: 0.25 },
          ],
        },
      ]),
    )
    expect(byClass(root, 'rect', 'bar')).toHaveLength(2)
    expect(byClass(root, 'path', 'removed')).toHaveLength(1)
    expect(byClass(root, 'path', 'skipped')).toHaveLength(1)
    expect(captions(root)).toContain('1 value skipped (NaN or +\u221e)')
  })

  it('with negative values (logits) only −∞ is removed, and 0 is an ordinary bar', () => {
    const root = checkSvg(
      distributionBars(
        [
          {
            title: 'logits',
            bars: [
              { label: 'a', value: 2 },
              { label: 'b', value: 0 },
              { label: 'c', value: -1.5 },
              { label: 'd', value: -Infinity },
            ],
          },
        ],
        { yLabel: 'logit' },
      ),
    )
    expect(byClass(root, 'rect', 'bar')).toHaveLength(3)
    expect(byClass(root, 'text', 'value').map(textOf)).toEqual(['2.00', '0.00', '-1.50'])
    expect(byClass(root, 'path', 'removed')).toHaveLength(1)
    expect(captions(root)).toBe('\u00d7 marks tokens with a \u2212\u221e logit: removed by a processor')
  })

  it('makes whitespace tokens visible and keeps tokens that occur twice apart', () => {
    const root = checkSvg(
      distributionBars([
        {
          title: 'raw',
          bars: [
            { label: ' the', value: 0.4 },
            { label: '\n', value: 0.3 },
            { label: ' the', value: 0.2 },
          ],
        },
        {
          title: 'after',
          bars: [
            { label: ' the', value: 0 },
            { label: '\n', value: 0.5 },
            { label: ' the', value: 0.5 },
          ],
        },
      ]),
    )
    const [raw, after] = panelsOf(root)
    expect(labels(raw)).toEqual(['\u2423the', '\u21b5', '\u2423the'])
    expect(byClass(raw, 'text', 'value').map(textOf)).toEqual(['0.40', '0.30', '0.20'])
    expect(byClass(after, 'text', 'value').map(textOf)).toEqual(['0.50', '0.50'])
    expect(byClass(after, 'path', 'removed')).toHaveLength(1)
  })

  it('with sameTokens: false, each panel shows its own top k', () => {
    const root = checkSvg(
      distributionBars(
        [
          {
            title: 'one',
            bars: [
              { label: 'a', value: 0.9 },
              { label: 'b', value: 0.1 },
            ],
          },
          {
            title: 'two',
            bars: [
              { label: 'a', value: 0.1 },
              { label: 'b', value: 0.9 },
            ],
          },
        ],
        { sameTokens: false, topK: 1 },
      ),
    )
    expect(panelsOf(root).map(labels)).toEqual([['a'], ['b']])
  })

  it('escapes labels and titles', () => {
    const svg = distributionBars(
      [
        {
          title: '<top-p> & "p"',
          bars: [
            { label: '<', value: 0.5 },
            { label: '&', value: 0.5 },
          ],
        },
      ],
      { title: "it's <b>" },
    )
    const text = visibleText(checkSvg(svg))
    for (const t of ['<top-p> & "p"', "it's <b>", '<', '&']) expect(text).toContain(t)
    expect(svg).not.toContain('<b>')
  })

  const bar = fc.record({ label: nastyString, value: anyNumber })
  test.prop([fc.array(fc.record({ title: nastyString, bars: fc.array(bar, { maxLength: 20 }) }), { maxLength: 5 }), fc.boolean(), fc.integer({ min: 1, max: 20 })])(
    'any panels give a well-formed SVG with at most topK bars per panel, the same every time',
    (panels, sameTokens, k) => {
      const svg = distributionBars(panels, { title: 'x', sameTokens, topK: k })
      const root = checkSvg(svg)
      const ps = panelsOf(root)
      expect(ps).toHaveLength(panels.length)
      ps.forEach((p, i) => {
        const n = sameTokens ? Math.min(k, panels[0].bars.length) : Math.min(k, panels[i].bars.length)
        expect(labels(p)).toHaveLength(n)
        expect(byClass(p, 'rect', 'bar').length).toBeLessThanOrEqual(n)
      })
      expect(distributionBars(panels, { title: 'x', sameTokens, topK: k })).toBe(svg)
    },
  )
})
