/**
 * Histograms, such as the seed notebook's distribution of name lengths
 * (`plt.hist(lengths, bins=30, edgecolor='black')`).
 *
 * @example
 * histogram(names.map((n) => [...n].length), { binWidth: 1, title: 'Name lengths', xLabel: 'length', yLabel: 'count' })
 */
import { frame, linearScale, niceLinearScale, tickLabelWidth, xAxis, xTitle, yAxis, yTitle, type Rect } from './axes.js'
import { el, escapeXml, FONT, fitText, formatTick, niceTicks, plural, svgDocument, textEl, type Figure } from './svg.js'

/** How to cut the range into bins: a number of equal bins, or a bin width. */
export interface BinOptions {
  /** Number of equal-width bins over [min, max] (a positive integer). */
  readonly bins?: number
  /**
   * Width of each bin (positive). With integer data and an integer width the bins are centred
   * on the integers (a bin per length 3, 4, 5, … when the width is 1).
   */
  readonly binWidth?: number
}

/** Options of {@link histogram}. */
export interface HistogramOptions extends BinOptions {
  readonly title?: string
  readonly xLabel?: string
  /** Title of the y axis (default 'count'). */
  readonly yLabel?: string
  /** Size of the plot area in pixels (default 560 × 300). */
  readonly plotWidth?: number
  readonly plotHeight?: number
}

/** Bin edges (one more than the counts), the count in each bin, and how many values were non-finite. */
export interface Bins {
  readonly edges: readonly number[]
  readonly counts: readonly number[]
  /** Values left out because they were NaN or ±∞. */
  readonly skipped: number
  /** True when the bins are centred on integers (integer data, integer width). */
  readonly centred: boolean
}

const MAX_BINS = 10_000

/**
 * Counts the finite values into bins, numpy-style: bins are half-open [a, b) except the last,
 * which includes its right edge, so the counts always add up to the number of finite values.
 * Without `bins` or `binWidth`: integer data spanning at most 60 gets one bin per integer,
 * other data Sturges' rule (⌈log2 n⌉ + 1 bins). Throws a RangeError for an invalid option.
 */
export const histogramBins = (values: readonly number[], options: BinOptions = {}): Bins => {
  const { bins, binWidth } = options
  if (bins !== undefined && !(Number.isInteger(bins) && bins >= 1 && bins <= MAX_BINS)) {
    throw new RangeError(`histogram: bins must be an integer in [1, ${MAX_BINS}], got ${bins}`)
  }
  if (binWidth !== undefined && !(Number.isFinite(binWidth) && binWidth > 0)) {
    throw new RangeError(`histogram: binWidth must be a positive finite number, got ${binWidth}`)
  }
  const finite = values.filter(Number.isFinite)
  const skipped = values.length - finite.length
  if (finite.length === 0) return { edges: [0, 1], counts: [0], skipped, centred: false }
  let lo = Infinity
  let hi = -Infinity
  for (const v of finite) {
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const integers = finite.every(Number.isInteger)
  const {
    start: s,
    width: w,
    n: nb,
    centred,
  } = binWidth !== undefined
    ? byWidth(lo, hi, binWidth, integers)
    : bins === undefined && integers && hi - lo <= 60
      ? byWidth(lo, hi, 1, true)
      : byCount(lo, hi, bins ?? Math.ceil(Math.log2(finite.length)) + 1)
  const edges = Array.from({ length: nb + 1 }, (_, i) => clean(s + i * w))
  const counts = new Array<number>(nb).fill(0)
  for (const v of finite) {
    const k = Math.floor((v - s) / w)
    // k is NaN only when the range overflows (values near ±1.8e308): put v at its end.
    counts[Number.isNaN(k) ? (v > 0 ? nb - 1 : 0) : Math.min(nb - 1, Math.max(0, k))]++
  }
  return { edges, counts, skipped, centred }
}

interface Layout {
  readonly start: number
  readonly width: number
  readonly n: number
  readonly centred: boolean
}

const byWidth = (lo: number, hi: number, w: number, integers: boolean): Layout => {
  const centred = integers && Number.isInteger(w)
  const start = centred ? lo - 0.5 : Math.floor(lo / w) * w
  let n = Math.max(1, Math.ceil((hi - start) / w - 1e-9))
  if (start + n * w < hi) n++
  if (n > MAX_BINS) throw new RangeError(`histogram: binWidth ${w} gives ${n} bins over [${lo}, ${hi}] (at most ${MAX_BINS})`)
  return { start, width: w, n, centred }
}

// A single distinct value gets the range value ± 0.5 (as numpy), widened for large magnitudes.
const byCount = (lo: number, hi: number, n: number): Layout => {
  if (lo < hi) return { start: lo, width: hi / n - lo / n, n, centred: false }
  const pad = Math.max(0.5, Math.abs(lo) * 0.05)
  return { start: lo - pad, width: (2 * pad) / n, n, centred: false }
}

const clean = (x: number): number => Number(x.toPrecision(12))

/** A histogram of the values as an SVG document (bars with black edges, as in the seed notebook). */
export const histogram = (values: readonly number[], options: HistogramOptions = {}): string => svgDocument(options.title, histogramFigure(histogramBins(values, options), options))

const histogramFigure = (b: Bins, options: HistogramOptions): Figure => {
  const pw = options.plotWidth !== undefined && Number.isFinite(options.plotWidth) ? Math.max(80, Math.min(4000, options.plotWidth)) : 560
  const ph = options.plotHeight !== undefined && Number.isFinite(options.plotHeight) ? Math.max(80, Math.min(4000, options.plotHeight)) : 300
  const yLabel = options.yLabel ?? 'count'
  const top = 8
  const maxCount = Math.max(1, ...b.counts)
  const yScale = niceLinearScale(0, maxCount, top + ph, top, 6, true)
  const left = Math.ceil(10 + 22 + tickLabelWidth(yScale) + 8)
  const plot: Rect = { x: left, y: top, width: pw, height: ph }
  const e0 = b.edges[0]
  const e1 = b.edges[b.edges.length - 1]
  const pad = (e1 - e0) * 0.02
  const xt = b.centred ? niceTicks(e0 + 0.5, e1 - 0.5, 10, true) : niceTicks(e0, e1, 8)
  const xScale = linearScale(e0 - pad, e1 + pad, plot.x, plot.x + pw, xt)
  const bars: string[] = []
  b.counts.forEach((c, i) => {
    if (c === 0) return
    const xa = xScale.map(b.edges[i])
    const xb = xScale.map(b.edges[i + 1])
    const yt = yScale.map(c)
    const range =
      b.centred && b.edges[i + 1] - b.edges[i] === 1
        ? `${formatTick(b.edges[i] + 0.5, 1)}`
        : `[${formatTick(b.edges[i], Math.abs(b.edges[i + 1] - b.edges[i]) / 10)}, ${formatTick(b.edges[i + 1], Math.abs(b.edges[i + 1] - b.edges[i]) / 10)}${i === b.counts.length - 1 ? ']' : ')'}`
    bars.push(
      el(
        'rect',
        {
          class: 'bar',
          'data-count': c,
          x: xa,
          y: yt,
          width: Math.max(0.5, xb - xa),
          height: Math.max(0, top + ph - yt),
          fill: '#1f77b4',
          stroke: '#000000',
          'stroke-width': 0.8,
        },
        el('title', {}, escapeXml(`${range}: ${c}`)),
      ),
    )
  })
  const parts = [
    yAxis(plot, yScale),
    xAxis(plot, xScale, false),
    el('g', { class: 'bars' }, ...bars),
    frame(plot),
    options.xLabel ? xTitle(fitText(options.xLabel, pw, FONT.label), plot.x + pw / 2, plot.y + ph + 38) : '',
    yTitle(fitText(yLabel, ph, FONT.label), 24, plot.y + ph / 2),
    b.counts.every((c) => c === 0) ? textEl('no data', { x: plot.x + pw / 2, y: plot.y + ph / 2, 'text-anchor': 'middle', fill: '#888888', 'font-size': FONT.label }) : '',
  ]
  const captions = b.skipped > 0 ? [`${plural(b.skipped, 'value')} skipped (NaN or \u00b1\u221e)`] : []
  return { width: plot.x + pw + 24, height: plot.y + ph + (options.xLabel ? 46 : 28) + 8, body: parts.join(''), captions }
}
