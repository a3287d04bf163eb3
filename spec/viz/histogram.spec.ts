import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import { histogram, histogramBins } from '../../src/viz/histogram.js'
import { anyNumber, checkSvg, nastyString } from './arbitraries.js'
import { byClass, textOf, visibleText, type XmlElement } from './xml.js'

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0)
const bars = (root: XmlElement) => byClass(root, 'rect', 'bar')
const captions = (root: XmlElement) => byClass(root, 'text', 'caption').map(textOf).join(' ')

describe('histogramBins', () => {
  it('gives integer data one bin per integer, centred on it', () => {
    const b = histogramBins([3, 4, 4, 5, 5, 5, 7])
    expect(b.edges).toEqual([2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    expect(b.counts).toEqual([1, 2, 3, 0, 1])
    expect(b.centred).toBe(true)
  })

  it('cuts [min, max] into equal bins, the last one closed (as numpy)', () => {
    const b = histogramBins([0, 0.5, 1, 1.5, 2], { bins: 4 })
    expect(b.edges).toEqual([0, 0.5, 1, 1.5, 2])
    expect(b.counts).toEqual([1, 1, 1, 2])
  })

  it('takes a bin width', () => {
    const b = histogramBins([0.1, 0.2, 0.35, 0.9], { binWidth: 0.25 })
    expect(b.edges).toEqual([0, 0.25, 0.5, 0.75, 1])
    expect(b.counts).toEqual([2, 1, 0, 1])
    expect(histogramBins([2, 3, 4, 5, 6], { binWidth: 2 }).counts).toEqual([2, 2, 1])
  })

  it('handles one distinct value, no values and non-finite values', () => {
    expect(sum(histogramBins([4, 4, 4], { bins: 3 }).counts)).toBe(3)
    expect(histogramBins([])).toEqual({ edges: [0, 1], counts: [0], skipped: 0, centred: false })
    const b = histogramBins([1, NaN, 2, Infinity, -Infinity])
    expect(sum(b.counts)).toBe(2)
    expect(b.skipped).toBe(3)
  })

  it('rejects invalid options with a RangeError naming the option', () => {
    expect(() => histogramBins([1, 2], { bins: 0 })).toThrow(/bins must be an integer/)
    expect(() => histogramBins([1, 2], { bins: 2.5 })).toThrow(RangeError)
    expect(() => histogramBins([1, 2], { binWidth: -1 })).toThrow(/binWidth must be a positive/)
    expect(() => histogramBins([0, 1e9], { binWidth: 1e-3 })).toThrow(/at most 10000/)
  })

  test.prop([fc.array(anyNumber, { maxLength: 200 }), fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined })])(
    'the bin counts sum to the number of finite values',
    (values, bins) => {
      const b = histogramBins(values, { bins })
      expect(sum(b.counts)).toBe(values.filter(Number.isFinite).length)
      expect(b.skipped).toBe(values.length - values.filter(Number.isFinite).length)
      expect(b.edges).toHaveLength(b.counts.length + 1)
      if (bins !== undefined && values.some(Number.isFinite)) expect(b.counts).toHaveLength(bins)
    },
  )

  test.prop([fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 5 })])(
    'integer data with an integer width: every value falls inside its bin',
    (values, binWidth) => {
      const b = histogramBins(values, { binWidth })
      expect(sum(b.counts)).toBe(values.length)
      for (let i = 0; i < b.counts.length; i++) {
        const inside = values.filter((v) => v > b.edges[i] && v < b.edges[i + 1]).length
        expect(b.counts[i]).toBe(inside)
      }
    },
  )
})

describe('histogram', () => {
  const lengths = [4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 9, 12]

  it('draws the name-length histogram: a bar per non-empty bin, counts adding up', () => {
    const root = checkSvg(histogram(lengths, { title: 'Distribution of name lengths', xLabel: 'length', yLabel: 'frequency' }))
    const bs = bars(root)
    expect(bs.map((b) => Number(b.attrs['data-count']))).toEqual([1, 2, 4, 3, 2, 1, 1])
    expect(sum(bs.map((b) => Number(b.attrs['data-count'])))).toBe(lengths.length)
    // Taller bars for larger counts; a bar per length, left to right.
    const h = bs.map((b) => Number(b.attrs.height))
    expect(h[2]).toBe(Math.max(...h))
    expect(h[0]).toBeCloseTo(h[5], 5)
    expect(textOf(bs[2])).toBe('6: 4')
    const text = visibleText(root)
    for (const t of ['Distribution of name lengths', 'length', 'frequency']) expect(text).toContain(t)
    expect(captions(root)).toBe('')
  })

  it('skips non-finite values and says so', () => {
    const root = checkSvg(histogram([1, 2, NaN, 2, Infinity]))
    expect(sum(bars(root).map((b) => Number(b.attrs['data-count'])))).toBe(3)
    expect(captions(root)).toBe('2 values skipped (NaN or \u00b1\u221e)')
  })

  it('says "no data" for no values', () => {
    expect(visibleText(checkSvg(histogram([])))).toContain('no data')
  })

  test.prop([fc.array(anyNumber, { maxLength: 100 }), fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }), nastyString])(
    'any values give a well-formed SVG whose bars count every finite value',
    (values, bins, title) => {
      const svg = histogram(values, { bins, title, xLabel: title, yLabel: title })
      const root = checkSvg(svg)
      expect(sum(bars(root).map((b) => Number(b.attrs['data-count'])))).toBe(values.filter(Number.isFinite).length)
      expect(histogram(values, { bins, title, xLabel: title, yLabel: title })).toBe(svg)
    },
  )
})
