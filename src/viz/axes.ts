/**
 * Cartesian axes shared by the line chart, the histogram and the bar charts: linear and
 * logarithmic scales, tick marks with light grid lines, rotated axis titles.
 */
import { el, FONT, formatLogTick, formatTick, logTicks, niceTicks, textEl, textWidth, type Ticks } from './svg.js'

/** A rectangle in pixels. */
export interface Rect {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** A one-dimensional scale: data value to pixel, with its ticks already labelled. */
export interface Scale {
  readonly map: (v: number) => number
  readonly ticks: readonly { readonly value: number; readonly label: string }[]
  /** True when the value can be placed on this scale (finite, and positive on a log scale). */
  readonly accepts: (v: number) => boolean
}

/**
 * Where v sits from lo to hi (lo ≠ hi) as a fraction: 0 at lo, 1 at hi. A span wider than
 * ±1.8e308 overflows to Infinity, so only then are the values halved first: halving rounds
 * subnormals one step apart together (3.5e-323 / 2 === 4e-323 / 2).
 */
export const rangeFraction = (v: number, lo: number, hi: number): number => (Number.isFinite(hi - lo) ? (v - lo) / (hi - lo) : (v / 2 - lo / 2) / (hi / 2 - lo / 2))

/** A linear scale from the domain [d0, d1] onto the pixel range [r0, r1], with the given ticks. */
export const linearScale = (d0: number, d1: number, r0: number, r1: number, ticks: Ticks): Scale => {
  const span = d1 - d0 || 1
  return {
    map: (v) => r0 + rangeFraction(v, d0, d1 === d0 ? d0 + 1 : d1) * (r1 - r0),
    ticks: ticks.values.filter((t) => t >= d0 - span * 1e-9 && t <= d1 + span * 1e-9).map((value) => ({ value, label: formatTick(value, ticks.step) })),
    accepts: Number.isFinite,
  }
}

/**
 * A log10 scale showing [min, max] (both > 0) with a 5% margin (in log space) on each side,
 * onto [r0, r1].
 */
export const logScale = (min: number, max: number, r0: number, r1: number): Scale => {
  const a = Math.log10(min > 0 && Number.isFinite(min) ? min : 1)
  const b = Math.log10(max > 0 && Number.isFinite(max) ? max : 10)
  const m = Math.max(b - a, 0.5) * 0.05
  const l0 = a - m
  const span = b - a + 2 * m
  const t = logTicks(10 ** l0, 10 ** (l0 + span))
  return {
    map: (v) => r0 + ((Math.log10(v) - l0) / span) * (r1 - r0),
    ticks: t.values.map((value) => ({ value, label: formatLogTick(value) })),
    accepts: (v) => Number.isFinite(v) && v > 0,
  }
}

/** A linear scale whose domain is the nice bounds around [min, max] (for bars, which start at 0). */
export const niceLinearScale = (min: number, max: number, r0: number, r1: number, count = 5, integer = false): Scale => {
  const t = niceTicks(min, max, count, integer)
  return linearScale(t.lo, t.hi, r0, r1, t)
}

/**
 * A linear scale showing [min, max] with a 5% margin on each side, as matplotlib does, and
 * nice ticks inside it (for line charts). `integer` keeps the tick step at 1 or more.
 */
export const paddedLinearScale = (min: number, max: number, r0: number, r1: number, count = 6, integer = false): Scale => {
  const t0 = niceTicks(min, max, count, integer)
  const lo = Number.isFinite(min) ? min : t0.lo
  const hi = Number.isFinite(max) ? max : t0.hi
  const pad = hi > lo ? (hi - lo) * 0.05 : (t0.hi - t0.lo) / 2
  const d0 = hi > lo ? lo - pad : (lo + hi) / 2 - pad
  const d1 = hi > lo ? hi + pad : (lo + hi) / 2 + pad
  return linearScale(d0, d1, r0, r1, niceTicks(d0, d1, count, integer))
}

/** The widest tick label of a scale, in pixels at the tick font size. */
export const tickLabelWidth = (s: Scale): number => Math.max(0, ...s.ticks.map((t) => textWidth(t.label, FONT.tick)))

const GRID = '#e6e6e6'
const AXIS = '#444444'

/** Horizontal grid lines, tick marks and labels for a y scale along the left edge of `plot`. */
export const yAxis = (plot: Rect, scale: Scale, grid = true, labels = true): string =>
  el(
    'g',
    { class: 'y-axis' },
    ...scale.ticks.map(({ value, label }) => {
      const y = Math.round(scale.map(value)) + 0.5
      return (
        (grid ? el('line', { x1: plot.x, x2: plot.x + plot.width, y1: y, y2: y, stroke: GRID }) : '') +
        el('line', { x1: plot.x - 4, x2: plot.x, y1: y, y2: y, stroke: AXIS }) +
        (labels ? textEl(label, { x: plot.x - 7, y, dy: '0.35em', 'text-anchor': 'end', fill: '#333333' }) : '')
      )
    }),
  )

/** Vertical grid lines, tick marks and labels for an x scale along the bottom edge of `plot`. */
export const xAxis = (plot: Rect, scale: Scale, grid = true): string => {
  const bottom = plot.y + plot.height
  return el(
    'g',
    { class: 'x-axis' },
    ...scale.ticks.map(({ value, label }) => {
      const x = Math.round(scale.map(value)) + 0.5
      return (
        (grid ? el('line', { x1: x, x2: x, y1: plot.y, y2: bottom, stroke: GRID }) : '') +
        el('line', { x1: x, x2: x, y1: bottom, y2: bottom + 4, stroke: AXIS }) +
        textEl(label, { x, y: bottom + 17, 'text-anchor': 'middle', fill: '#333333' })
      )
    }),
  )
}

/** The frame (spines) around a plot area. */
export const frame = (plot: Rect): string => el('rect', { x: plot.x + 0.5, y: plot.y + 0.5, width: plot.width, height: plot.height, fill: 'none', stroke: AXIS })

/** An axis title centred under the plot. */
export const xTitle = (text: string, cx: number, y: number): string =>
  textEl(text, { class: 'x-label', x: cx, y, 'text-anchor': 'middle', 'font-size': FONT.label, fill: '#222222' })

/** An axis title rotated to read bottom-to-top, centred at (x, cy). */
export const yTitle = (text: string, x: number, cy: number, bold = false): string =>
  textEl(text, {
    class: 'y-label',
    x: 0,
    y: 0,
    transform: `translate(${Math.round(x)},${Math.round(cy)}) rotate(-90)`,
    'text-anchor': 'middle',
    'font-size': FONT.label,
    'font-weight': bold ? 'bold' : undefined,
    fill: '#222222',
  })
