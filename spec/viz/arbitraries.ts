/**
 * Shared fast-check arbitraries and checks for the viz specs: hostile labels, numbers with
 * NaN and infinities, and a check that a picture is a well-formed SVG document.
 */
import { fc } from '@fast-check/vitest'
import { expect } from 'vitest'
import { elements, parseXml, type XmlElement } from './xml.js'

/** Labels with markup characters, quotes, non-ASCII, control characters and lone surrogates. */
export const nastyString = fc.string({
  maxLength: 12,
  unit: fc.oneof(
    fc.constantFrom('<', '>', '&', '"', "'", ']]>', '&amp;', '<svg>', 'é', '名', '😀', '\u0000', '\u0008', '\uD800', '\uDFFF', '\uFFFE', '\n', '\t', ' '),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  ),
})

/** Any number, with NaN, ±Infinity, ±0 and extremes much more likely than uniform sampling gives. */
export const anyNumber = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e300, -1e300, 5e-324, Number.MAX_VALUE) },
)

/** A finite number of moderate size. */
export const finiteNumber = fc.double({ min: -1e6, max: 1e6, noNaN: true })

/** A matrix (possibly ragged or empty) of any numbers. */
export const anyMatrix = fc.array(fc.array(anyNumber, { maxLength: 7 }), { maxLength: 7 })

/**
 * Parses the picture (throwing if it is not well-formed XML) and checks that it is an SVG
 * document with a finite viewBox and no NaN/Infinity in any attribute. Returns the tree.
 */
export const checkSvg = (svg: string): XmlElement => {
  const root = parseXml(svg)
  expect(root.name).toBe('svg')
  expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
  const box = root.attrs.viewBox.split(' ').map(Number)
  expect(box).toHaveLength(4)
  for (const v of box) expect(Number.isFinite(v)).toBe(true)
  expect(box[2]).toBeGreaterThan(0)
  expect(box[3]).toBeGreaterThan(0)
  for (const e of elements(root)) {
    for (const [k, v] of Object.entries(e.attrs)) {
      if (/NaN|Infinity|undefined/.test(v)) throw new Error(`<${e.name} ${k}="${v}"> has a non-number`)
    }
  }
  return root
}
