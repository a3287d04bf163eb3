import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { lineChart, type Series } from '../../src/viz/line.js'
import { PALETTE } from '../../src/viz/svg.js'
import { anyNumber, checkSvg, nastyString } from './arbitraries.js'
import { byClass, textOf, visibleText, type XmlElement } from './xml.js'

const paths = (root: XmlElement) => byClass(root, 'path', 'series')
const legend = (root: XmlElement) => byClass(root, 'g', 'legend-entry')
const captions = (root: XmlElement) => byClass(root, 'text', 'caption').map(textOf).join(' ')
// The (x, y) vertices of a path's `d`, and how many separate runs (M commands) it has.
const vertices = (d: string) => [...d.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])])
const runs = (d: string) => (d.match(/M/g) ?? []).length

describe('lineChart', () => {
  const train = [2.9, 2.1, 1.8, 1.6, 1.5]
  const val = [3.0, 2.3, 2.0, 1.9, 1.95]
  const loss: Series[] = [
    { name: 'train', points: train.map((l, i) => [i + 1, l]) },
    { name: 'validation', points: val.map((l, i) => [i + 1, l]) },
  ]

  it('draws the loss curve: one path and one legend entry per series', () => {
    const root = checkSvg(lineChart(loss, { title: 'Training curve', xLabel: 'epoch', yLabel: 'loss' }))
    const ps = paths(root)
    expect(ps).toHaveLength(2)
    expect(ps.map((p) => p.attrs.stroke)).toEqual([PALETTE[0], PALETTE[1]])
    expect(legend(root).map(visibleText)).toEqual(['train', 'validation'])
    expect(legend(root).map((g) => (g.children[0] as XmlElement).attrs.stroke)).toEqual([PALETTE[0], PALETTE[1]])
    for (const p of ps) expect(vertices(p.attrs.d)).toHaveLength(5)
    const text = visibleText(root)
    for (const t of ['Training curve', 'epoch', 'loss']) expect(text).toContain(t)
    expect(captions(root)).toBe('')
  })

  it('maps larger values higher and later epochs further right', () => {
    const root = checkSvg(lineChart(loss))
    const [t, v] = paths(root).map((p) => vertices(p.attrs.d))
    for (let i = 1; i < 5; i++) expect(t[i][0]).toBeGreaterThan(t[i - 1][0])
    for (let i = 1; i < 5; i++) expect(t[i][1]).toBeGreaterThan(t[i - 1][1]) // loss falls: y (down) grows
    expect(v[0][1]).toBeLessThan(t[0][1]) // validation 3.0 above train 2.9
    expect(t[0][0]).toBe(v[0][0])
  })

  it('uses whole-number ticks for whole-number x (epochs)', () => {
    const root = checkSvg(lineChart(loss, { xLabel: 'epoch' }))
    const xTicks = byClass(root, 'g', 'x-axis')[0]
      .children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === 'text')
      .map(textOf)
    expect(xTicks.length).toBeGreaterThanOrEqual(2)
    for (const t of xTicks) expect(t).toMatch(/^\d+$/)
  })

  it('draws the latency curves with and without the KV cache, on a log scale too', () => {
    const ctx = [16, 32, 64, 128, 256, 512]
    const series: Series[] = [
      { name: 'without KV cache', points: ctx.map((c) => [c, 0.5 + 0.02 * c]) },
      { name: 'with KV cache', points: ctx.map((c) => [c, 0.5 + 0.001 * c]) },
    ]
    for (const logY of [false, true]) {
      const root = checkSvg(lineChart(series, { title: 'Per-token latency', xLabel: 'context length', yLabel: 'ms / token', logY }))
      expect(paths(root)).toHaveLength(2)
      expect(legend(root).map(visibleText)).toEqual(['without KV cache', 'with KV cache'])
    }
    const log = checkSvg(lineChart(series, { logY: true }))
    const yTicks = byClass(log, 'g', 'y-axis')[0]
      .children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === 'text')
      .map(textOf)
    expect(yTicks).toContain('1')
    expect(yTicks).toContain('10')
  })

  it('breaks a line at non-finite points, skips them and says so', () => {
    const root = checkSvg(
      lineChart([
        {
          name: 'loss',
          points: [
            [1, 2],
            [2, NaN],
            [3, 1.5],
            [4, 1.2],
            [Infinity, 1],
            [6, -Infinity],
          ],
        },
      ]),
    )
    const d = paths(root)[0].attrs.d
    expect(vertices(d)).toHaveLength(3)
    expect(runs(d)).toBe(2)
    expect(captions(root)).toBe('3 points skipped (NaN, \u00b1\u221e)')
  })

  it('on a log scale also skips y ≤ 0', () => {
    const root = checkSvg(
      lineChart(
        [
          {
            name: 'x',
            points: [
              [1, 1],
              [2, 0],
              [3, -1],
              [4, 10],
            ],
          },
        ],
        { logY: true },
      ),
    )
    expect(vertices(paths(root)[0].attrs.d)).toHaveLength(2)
    expect(captions(root)).toContain('2 points skipped')
    expect(captions(root)).toContain('\u2264 0 on the log scale')
  })

  it('draws a lone point as a dot', () => {
    const root = checkSvg(lineChart([{ name: 'one', points: [[3, 3]] }], { markers: false }))
    expect(root).toBeDefined()
    expect(byClass(root, 'g', 'markers')[0].children).toHaveLength(1)
  })

  it('says "no data" for no points', () => {
    expect(visibleText(checkSvg(lineChart([])))).toContain('no data')
    expect(visibleText(checkSvg(lineChart([{ name: 'empty', points: [] }])))).toContain('no data')
  })

  it('escapes series names', () => {
    const svg = lineChart([
      {
        name: '<b>train</b> & "val"',
        points: [
          [0, 1],
          [1, 2],
        ],
      },
    ])
    expect(svg).not.toContain('<b>')
    expect(visibleText(legend(checkSvg(svg))[0])).toBe('<b>train</b> & "val"')
  })

  const point = fc.tuple(anyNumber, anyNumber)
  test.prop([fc.array(fc.record({ name: nastyString, points: fc.array(point, { maxLength: 12 }) }), { maxLength: 12 }), fc.boolean(), nastyString])(
    'any series give a well-formed SVG with one path and one legend entry each, the same every time',
    (series, logY, title) => {
      const opts = { title, xLabel: title, yLabel: title, logY }
      const svg = lineChart(series, opts)
      const root = checkSvg(svg)
      expect(paths(root)).toHaveLength(series.length)
      expect(legend(root)).toHaveLength(series.length)
      expect(lineChart(series, opts)).toBe(svg)
      const bad = series.flatMap((s) => s.points).filter(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)).length
      if (bad > 0) expect(captions(root)).toContain(`${bad} point`)
      else expect(captions(root)).toBe('')
      const total = series.reduce((n, s) => n + s.points.length, 0)
      const drawn = paths(root).reduce((n, p) => n + vertices(p.attrs.d).length, 0)
      expect(drawn).toBe(total - bad)
    },
  )
})
