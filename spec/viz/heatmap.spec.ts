import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { attentionGrid, heatmap, heatmapGrid, heatmapPanels, type Matrix } from '../../src/viz/heatmap.js'
import { luminance, textColorOn } from '../../src/viz/svg.js'
import { anyMatrix, checkSvg, nastyString } from './arbitraries.js'
import { byClass, elements, textOf, visibleText, type XmlElement } from './xml.js'

const cells = (root: XmlElement) => byClass(root, 'rect', 'cell')
const values = (root: XmlElement) => byClass(root, 'text', 'value').map((t) => t.children.join(''))
const softmax = (row: readonly number[]) => {
  const m = Math.max(...row)
  const e = row.map((x) => Math.exp(x - m))
  const z = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / z)
}
const causalWeights = (scores: Matrix): number[][] => scores.map((row, i) => softmax(row.map((s, j) => (j > i ? -Infinity : s))))

const finiteMatrix = (rows: number, cols: number) =>
  fc.array(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows })

describe('heatmap', () => {
  const m5 = Array.from({ length: 5 }, (_, i) => Array.from({ length: 5 }, (_, j) => (i === 2 && j === 3 ? 0.25 : (i * 5 + j) / 100)))

  it('a 5×5 matrix has 25 cells and prints 0.25 where the value is 0.25', () => {
    const root = checkSvg(heatmap(m5, { title: 'Attention', xLabel: 'key (K)', yLabel: 'query (Q)' }))
    expect(cells(root)).toHaveLength(25)
    const printed = values(root)
    expect(printed).toHaveLength(25)
    expect(printed[2 * 5 + 3]).toBe('0.25')
    expect(printed[0]).toBe('0.00')
    expect(printed[24]).toBe('0.24')
    // The cell's tooltip names it.
    expect(textOf(cells(root)[13])).toBe('2, 3: 0.2500')
    const text = visibleText(root)
    expect(text).toContain('Attention')
    expect(text).toContain('key (K)')
    expect(text).toContain('query (Q)')
  })

  it('places the cells row by row on a square grid', () => {
    const cs = cells(checkSvg(heatmap(m5)))
    const x = cs.map((c) => Number(c.attrs.x))
    const y = cs.map((c) => Number(c.attrs.y))
    const side = Number(cs[0].attrs.width)
    expect(Number(cs[0].attrs.height)).toBe(side)
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) {
        expect(x[i * 5 + j] - x[0]).toBe(j * side)
        expect(y[i * 5 + j] - y[0]).toBe(i * side)
      }
  })

  it('the causal mask shows 0.00 above the diagonal', () => {
    const scores = [
      [0.3, 1.2, -0.5, 0.8],
      [1.1, -0.2, 0.4, 2.0],
      [0.0, 0.5, 0.9, -1.0],
      [0.7, 0.1, -0.3, 0.6],
    ]
    const root = checkSvg(heatmap(causalWeights(scores), { title: 'with causal mask (decoder/GPT)' }))
    const printed = values(root)
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        if (j > i) expect(printed[i * 4 + j]).toBe('0.00')
        else expect(printed[i * 4 + j]).not.toBe('0.00')
      }
    expect(printed[0]).toBe('1.00')
  })

  test.prop([fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 })).chain(([r, c]) => finiteMatrix(r, c))])(
    'the largest value is the darkest cell and the smallest the lightest',
    (m) => {
      const flat = m.flat()
      const root = checkSvg(heatmap(m))
      const lum = cells(root).map((e) => luminance(e.attrs.fill))
      expect(lum).toHaveLength(flat.length)
      const iMax = flat.indexOf(Math.max(...flat))
      const iMin = flat.indexOf(Math.min(...flat))
      expect(lum[iMax]).toBe(Math.min(...lum))
      expect(lum[iMin]).toBe(Math.max(...lum))
      if (Math.max(...flat) > Math.min(...flat)) {
        expect(cells(root)[iMax].attrs.fill).toBe('#08306b')
        expect(cells(root)[iMin].attrs.fill).toBe('#f7fbff')
      }
    },
  )

  it('tells apart values one subnormal step apart and spans past the largest double', () => {
    const tiny = cells(checkSvg(heatmap([[4e-323], [3.5e-323]]))).map((e) => e.attrs.fill)
    expect(tiny).toEqual(['#08306b', '#f7fbff'])
    const huge = cells(checkSvg(heatmap([[1.7e308, -1.7e308]]))).map((e) => e.attrs.fill)
    expect(huge).toEqual(['#08306b', '#f7fbff'])
  })

  it('prints dark text on light cells and light text on dark cells', () => {
    const root = checkSvg(
      heatmap(
        [
          [0, 0.1],
          [0.9, 1],
        ],
        { showValues: true },
      ),
    )
    const fills = cells(root).map((c) => c.attrs.fill)
    const texts = byClass(root, 'text', 'value')
    expect(texts.map((t) => t.attrs.fill)).toEqual(['#000000', '#000000', '#ffffff', '#ffffff'])
    texts.forEach((t, i) => expect(t.attrs.fill).toBe(textColorOn(fills[i])))
  })

  it('min and max fix the colour scale', () => {
    const root = checkSvg(heatmap([[0.2, 0.4]], { min: 0, max: 1 }))
    const [a, b] = cells(root).map((c) => c.attrs.fill)
    // With the data's own range 0.2 would be the lightest colour; on [0, 1] it is not.
    expect(a).not.toBe('#f7fbff')
    expect(luminance(b)).toBeLessThan(luminance(a))
    const colorbar = byClass(root, 'g', 'colorbar')[0]
    expect(visibleText(colorbar)).toContain('1.0')
  })

  it('draws NaN, ±∞ and missing cells blank and says so', () => {
    const root = checkSvg(heatmap([[0.5, NaN, 0.1], [Infinity, 0.2, -Infinity], [0.3]], { showValues: true }))
    expect(cells(root)).toHaveLength(4)
    expect(values(root)).toEqual(['0.50', '0.10', '0.20', '0.30'])
    expect(byClass(root, 'path', 'blank')).toHaveLength(1)
    const captions = byClass(root, 'text', 'caption').map(textOf).join(' ')
    expect(captions).toBe('5 cells left blank (NaN, \u00b1\u221e or missing values)')
  })

  it('says nothing about blanks when there are none', () => {
    expect(byClass(checkSvg(heatmap([[1, 2]])), 'text', 'caption')).toHaveLength(0)
  })

  it('escapes labels and titles', () => {
    const svg = heatmap(
      [
        [1, 2],
        [3, 4],
      ],
      {
        title: 'a < b & "c"',
        rowLabels: ['<script>', "it's"],
        colLabels: ['x&y', '名前'],
        xLabel: '>',
        yLabel: '&',
      },
    )
    const root = checkSvg(svg)
    expect(svg).not.toContain('<script>')
    const text = visibleText(root)
    for (const s of ['a < b & "c"', '<script>', "it's", 'x&y', '名前']) expect(text).toContain(s)
  })

  test.prop([anyMatrix, fc.array(nastyString, { maxLength: 8 }), nastyString, fc.boolean()])(
    'any matrix and any labels give a well-formed SVG, the same every time',
    (m, labels, title, showValues) => {
      const opts = { title, rowLabels: labels, colLabels: labels, xLabel: title, yLabel: title, showValues }
      const svg = heatmap(m, opts)
      const root = checkSvg(svg)
      const finite = m.flat().filter(Number.isFinite).length
      expect(cells(root)).toHaveLength(finite)
      expect(heatmap(m, opts)).toBe(svg)
      const cols = Math.max(0, ...m.map((r) => r.length))
      const blanks = m.length * cols - finite
      const captions = byClass(root, 'text', 'caption').map(textOf).join(' ')
      if (blanks > 0) expect(captions).toContain(`${blanks} cell`)
      else expect(captions).not.toContain('blank')
    },
  )

  test.prop([fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 })])('keeps large matrices on a sensible canvas', (r, c) => {
    const m = Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => (i + j) % 7))
    const root = checkSvg(heatmap(m, { xLabel: 'key', yLabel: 'query' }))
    const [, , w, h] = root.attrs.viewBox.split(' ').map(Number)
    expect(w).toBeLessThan(700)
    expect(h).toBeLessThan(700)
    expect(cells(root)).toHaveLength(r * c)
    // Tick labels are thinned out so that they never sit closer than their font allows.
    const rowLabels = elements(root).filter((e) => e.name === 'text' && e.attrs['text-anchor'] === 'end' && !e.attrs.transform)
    const ys = rowLabels.map((e) => Number(e.attrs.y))
    for (let i = 1; i < ys.length; i++) expect(ys[i] - ys[i - 1]).toBeGreaterThanOrEqual(12)
  })
})

describe('heatmapPanels', () => {
  const scores = [
    [0.2, 1.0, -0.3],
    [0.5, 0.1, 0.9],
    [1.2, -0.4, 0.3],
  ]
  const unmasked = scores.map(softmax)
  const masked = causalWeights(scores)

  it('puts the encoder and decoder attention side by side on one scale', () => {
    const root = checkSvg(
      heatmapPanels(
        [
          { matrix: unmasked, title: 'without mask (encoder/BERT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
          { matrix: masked, title: 'with causal mask (decoder/GPT)', xLabel: 'key (K)', yLabel: 'query (Q)' },
        ],
        { title: 'Attention', min: 0, max: 1 },
      ),
    )
    expect(byClass(root, 'text', 'panel-title').map(textOf)).toEqual(['without mask (encoder/BERT)', 'with causal mask (decoder/GPT)'])
    const cs = cells(root)
    expect(cs).toHaveLength(18)
    const left = cs.slice(0, 9).map((c) => Number(c.attrs.x))
    const right = cs.slice(9).map((c) => Number(c.attrs.x))
    expect(Math.min(...right)).toBeGreaterThan(Math.max(...left))
    // One scale: equal values, equal colours, across panels; masked cells are the lightest.
    const printed = values(root)
    expect(printed.slice(9)).toEqual(masked.flat().map((v) => v.toFixed(2)))
    expect(cs[9 + 1].attrs.fill).toBe('#f7fbff')
    expect(cs[9 + 0].attrs.fill).toBe('#08306b')
    expect(byClass(root, 'g', 'colorbar')).toHaveLength(1)
  })

  test.prop([fc.array(fc.record({ matrix: anyMatrix, title: nastyString }), { maxLength: 4 })])('any panels give a well-formed SVG', (panels) => {
    const root = checkSvg(heatmapPanels(panels, { title: 'panels' }))
    expect(cells(root)).toHaveLength(panels.flatMap((p) => p.matrix.flat()).filter(Number.isFinite).length)
  })
})

describe('heatmapGrid and attentionGrid', () => {
  const tokens = ['<SOS>', 'A', 'r', 'a']
  const layers = 2
  const heads = 3
  const weights = Array.from({ length: layers }, (_, l) =>
    Array.from({ length: heads }, (_, h) => causalWeights(tokens.map((_, i) => tokens.map((__, j) => Math.sin(l * 7 + h * 3 + i * 2 + j))))),
  )

  it('draws layers × heads panels with the tokens as labels, once per row and column of panels', () => {
    const root = checkSvg(attentionGrid(weights, tokens, { title: 'Attention per layer and head' }))
    expect(cells(root)).toHaveLength(layers * heads * tokens.length ** 2)
    const text = visibleText(root)
    for (const t of ['layer 0', 'layer 1', 'head 0', 'head 1', 'head 2', 'key', 'query']) expect(text).toContain(t)
    // Query labels left of the first column (one set per layer), key labels under the last row (one per head).
    const sos = elements(root).filter((e) => e.name === 'text' && textOf(e) === '<SOS>')
    expect(sos).toHaveLength(layers + heads)
    expect(byClass(root, 'g', 'colorbar')).toHaveLength(1)
  })

  it('a generic grid takes its own row and column titles', () => {
    const root = checkSvg(
      heatmapGrid(
        [
          [[[1]], [[2]]],
          [[[3]], [[4]]],
        ],
        { rowTitles: ['r0', 'r1'], colTitles: ['c0', 'c1'], showValues: true },
      ),
    )
    expect(values(root)).toEqual(['1.00', '2.00', '3.00', '4.00'])
    const text = visibleText(root)
    for (const t of ['r0', 'r1', 'c0', 'c1']) expect(text).toContain(t)
  })

  test.prop([fc.array(fc.array(anyMatrix, { maxLength: 3 }), { maxLength: 3 }), fc.array(nastyString, { maxLength: 6 })])('any grid gives a well-formed SVG', (grid, labels) => {
    checkSvg(heatmapGrid(grid, { rowLabels: labels, colLabels: labels, rowTitles: labels, colTitles: labels, xLabel: 'k', yLabel: 'q' }))
  })
})
