import { describe, expect, it } from 'vitest'
import { fc, test } from '@fast-check/vitest'
import {
  blues,
  BLUES_STOPS,
  el,
  escapeXml,
  formatTick,
  formatValue,
  logTicks,
  luminance,
  niceTicks,
  num,
  PALETTE,
  svgDocument,
  textColorOn,
  textEl,
  truncate,
  visibleLabel,
  visibleToken,
} from '../../src/viz/svg.js'
import { nastyString } from './arbitraries.js'
import { parseXml, textOf, type XmlElement } from './xml.js'

// What escapeXml promises to keep: everything XML can carry; the rest becomes U+FFFD.
const xmlSafe = (s: string) => s.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')

describe('escapeXml', () => {
  it('escapes the five markup characters', () => {
    expect(escapeXml(`<a href="x">Tom & Jerry's</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;')
  })

  it('keeps non-ASCII text and replaces characters XML cannot carry', () => {
    expect(escapeXml('Éowyn 名前 😀')).toBe('Éowyn 名前 😀')
    expect(escapeXml('a\u0000b\uD800c\uFFFEd')).toBe('a\uFFFDb\uFFFDc\uFFFDd')
  })

  test.prop([nastyString])('text and attribute values round-trip through an XML parser', (s) => {
    const doc = parseXml(el('a', { title: s }, escapeXml(s), textEl(s)))
    expect(doc.attrs.title).toBe(xmlSafe(s))
    expect(textOf(doc)).toBe(xmlSafe(s) + xmlSafe(s))
  })
})

describe('numbers', () => {
  it('num prints coordinates with at most two decimals and never NaN or -0', () => {
    expect(num(1.23456)).toBe('1.23')
    expect(num(-0.001)).toBe('0')
    expect(num(10)).toBe('10')
    expect(num(NaN)).toBe('0')
    expect(num(Infinity)).toBe('0')
  })

  it("formatValue is printf's %.2f without a negative zero, and blank for non-finite values", () => {
    expect(formatValue(0.25)).toBe('0.25')
    expect(formatValue(0.999)).toBe('1.00')
    expect(formatValue(1 / 3)).toBe('0.33')
    expect(formatValue(-0.001)).toBe('0.00')
    expect(formatValue(-0.5)).toBe('-0.50')
    expect(formatValue(0.123456, 4)).toBe('0.1235')
    expect(formatValue(NaN)).toBe('')
    expect(formatValue(-Infinity)).toBe('')
  })

  it('formatTick uses the decimals of the step, exponents for extremes and a real minus sign', () => {
    expect(formatTick(2, 0.5)).toBe('2.0')
    expect(formatTick(2.5, 0.5)).toBe('2.5')
    expect(formatTick(0, 0.2)).toBe('0.0')
    expect(formatTick(100, 50)).toBe('100')
    expect(formatTick(-0.4, 0.2)).toBe('\u22120.4')
    expect(formatTick(1e-5, 1e-5)).toBe('1e-5')
    expect(formatTick(2.5e7, 5e6)).toBe('2.5e7')
    expect(formatTick(0, 1e-5)).toBe('0')
    expect(formatTick(2e-5, 1e-5)).toBe('2e-5')
  })
})

describe('ticks', () => {
  const isNiceStep = (step: number) => {
    const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9)
    return [1, 2, 5, 10].some((n) => Math.abs(m - n) < 1e-6)
  }

  it('gives the familiar ticks', () => {
    expect(niceTicks(0, 1).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(niceTicks(1.33, 2.98, 6).values).toEqual([1, 1.5, 2, 2.5, 3])
    expect(niceTicks(1, 3, 5, true).values).toEqual([1, 2, 3])
  })

  test.prop([fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 2, max: 10 })])(
    'cover the range with a 1-2-5 step and a sensible number of ticks',
    (a, b, count) => {
      const t = niceTicks(a, b, count)
      // Covering up to the rounding that cleans 0.30000000000000004 into 0.3.
      expect(t.lo).toBeLessThanOrEqual(Math.min(a, b) + t.step * 1e-9)
      expect(t.hi).toBeGreaterThanOrEqual(Math.max(a, b) - t.step * 1e-9)
      expect(isNiceStep(t.step)).toBe(true)
      expect(t.values.length).toBeGreaterThanOrEqual(2)
      expect(t.values.length).toBeLessThanOrEqual(2 * count + 3)
      for (let i = 1; i < t.values.length; i++) expect(t.values[i]).toBeGreaterThan(t.values[i - 1])
    },
  )

  it('survive degenerate and non-finite ranges', () => {
    for (const [a, b] of [
      [3, 3],
      [0, 0],
      [NaN, NaN],
      [Infinity, -Infinity],
      [NaN, 5],
    ]) {
      const t = niceTicks(a, b)
      expect(t.values.length).toBeGreaterThanOrEqual(2)
      expect(t.values.every(Number.isFinite)).toBe(true)
    }
  })

  it('log ticks are powers of ten, filled in with 2 and 5 over a short range', () => {
    expect(logTicks(0.5, 2000).values).toEqual([1, 10, 100, 1000])
    expect(logTicks(0.8, 25).values).toEqual([1, 2, 5, 10, 20])
    expect(logTicks(3, 4).values.length).toBeGreaterThanOrEqual(1)
  })
})

describe('colours', () => {
  it("'Blues' runs from near-white to navy through the ColorBrewer stops", () => {
    expect(blues(0)).toBe('#f7fbff')
    expect(blues(1)).toBe('#08306b')
    expect(blues(0.5)).toBe(BLUES_STOPS[4])
    expect(blues(-3)).toBe('#f7fbff')
    expect(blues(7)).toBe('#08306b')
  })

  test.prop([fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })])('is darker for larger values', (a, b) => {
    const [lo, hi] = a < b ? [a, b] : [b, a]
    // 8-bit colours: values closer than a step of the 256-colour map may share a colour.
    if (hi - lo > 1 / 64) expect(luminance(blues(hi))).toBeLessThan(luminance(blues(lo)))
    else expect(luminance(blues(hi))).toBeLessThanOrEqual(luminance(blues(lo)))
  })

  it('puts dark text on light cells and light text on dark cells', () => {
    expect(textColorOn(blues(0))).toBe('#000000')
    expect(textColorOn(blues(0.3))).toBe('#000000')
    expect(textColorOn(blues(0.8))).toBe('#ffffff')
    expect(textColorOn(blues(1))).toBe('#ffffff')
  })

  it('has ten distinct line colours', () => {
    expect(new Set(PALETTE).size).toBe(10)
  })
})

describe('labels', () => {
  it('shows whitespace in tokens', () => {
    expect(visibleToken(' the')).toBe('\u2423the')
    expect(visibleToken('\n')).toBe('\u21b5')
    expect(visibleToken('')).toBe('\u2205')
    expect(visibleToken('\u0001')).toBe('\\u0001')
    expect(visibleLabel('layer 0')).toBe('layer 0')
    expect(visibleLabel(' the')).toBe('\u2423the')
  })

  it('truncates with an ellipsis, counting code points', () => {
    expect(truncate('abcdef', 4)).toBe('abc\u2026')
    expect(truncate('😀😀😀', 3)).toBe('😀😀😀')
  })
})

describe('svgDocument', () => {
  it('wraps long captions onto several lines instead of cutting them', () => {
    const long = 'a caption that is much longer than the narrow figure it sits under, so it wraps'
    const doc = parseXml(svgDocument(undefined, { width: 200, height: 100, body: '', captions: [long] }))
    const lines = doc.children.filter((c): c is XmlElement => typeof c !== 'string' && c.attrs.class === 'caption')
    expect(lines.length).toBeGreaterThan(1)
    expect(lines.map(textOf).join(' ')).toBe(long)
  })

  it('wraps a figure with a viewBox, a title, fonts and a white background', () => {
    const doc = parseXml(svgDocument('Loss & <accuracy>', { width: 300, height: 200, body: '<g/>', captions: ['2 points skipped'] }))
    expect(doc.name).toBe('svg')
    expect(doc.attrs.viewBox).toMatch(/^0 0 \d+ \d+$/)
    expect(doc.attrs['font-family']).toContain('sans-serif')
    const [title, bg] = doc.children as readonly XmlElement[]
    expect(title.name).toBe('title')
    expect(textOf(title)).toBe('Loss & <accuracy>')
    expect(bg.name).toBe('rect')
    expect(bg.attrs.fill).toBe('#ffffff')
    expect(textOf(doc)).toContain('2 points skipped')
  })

  it('is deterministic: no ids, no dates', () => {
    const a = svgDocument('t', { width: 10, height: 10, body: '', captions: [] })
    expect(svgDocument('t', { width: 10, height: 10, body: '', captions: [] })).toBe(a)
    expect(a).not.toMatch(/\bid=/)
  })
})
