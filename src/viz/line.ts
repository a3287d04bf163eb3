/**
 * Line charts with a legend: the loss curves (train and validation per epoch) and the
 * per-token latency with and without the KV cache against the context length.
 *
 * @example
 * lineChart([
 *   { name: 'train', points: trainLoss.map((l, i) => [i + 1, l]) },
 *   { name: 'validation', points: valLoss.map((l, i) => [i + 1, l]) },
 * ], { title: 'Training curve', xLabel: 'epoch', yLabel: 'loss (nats/token)' })
 */
import { frame, logScale, niceLinearScale, paddedLinearScale, tickLabelWidth, xAxis, xTitle, yAxis, yTitle, type Rect, type Scale } from './axes.js'
import { el, escapeXml, FONT, fitText, num, PALETTE, plural, svgDocument, textEl, textWidth, truncate, type Figure } from './svg.js'

/** One line: a name for the legend and its (x, y) points, drawn in the given order. */
export interface Series {
  readonly name: string
  readonly points: readonly (readonly [number, number])[]
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  /** Logarithmic y axis (points with y ≤ 0 are then skipped). */
  readonly logY?: boolean
  /** Size of the plot area in pixels (default 560 × 320); the margins and legend come on top. */
  readonly plotWidth?: number
  readonly plotHeight?: number
  /** Draw a dot at each point; by default when a series has at most 40 points. */
  readonly markers?: boolean
}

const DASHES = [undefined, '6 3', '2 3', '8 3 2 3'] as const

/**
 * A line chart as an SVG document: one `<path>` per series (broken where points are
 * non-finite), a legend entry per series, grid lines and nice ticks. Skipped points (NaN,
 * ±∞, or y ≤ 0 on a log axis) are counted in a caption.
 */
export const lineChart = (series: readonly Series[], options: LineChartOptions = {}): string => svgDocument(options.title, lineFigure(series, options))

const lineFigure = (series: readonly Series[], options: LineChartOptions): Figure => {
  const logY = options.logY === true
  const okX = Number.isFinite
  const okY = (y: number) => Number.isFinite(y) && (!logY || y > 0)
  let xMin = Infinity
  let xMax = -Infinity
  let yMin = Infinity
  let yMax = -Infinity
  let skipped = 0
  let allIntX = true
  for (const s of series)
    for (const [x, y] of s.points) {
      if (!okX(x) || !okY(y)) {
        skipped++
        continue
      }
      xMin = Math.min(xMin, x)
      xMax = Math.max(xMax, x)
      yMin = Math.min(yMin, y)
      yMax = Math.max(yMax, y)
      if (!Number.isInteger(x)) allIntX = false
    }
  const hasData = xMin <= xMax
  const pw = clampSize(options.plotWidth, 560)
  const ph = clampSize(options.plotHeight, 320)

  // The y scale decides the left margin (its tick labels), so build it against a provisional top.
  const top = 8
  const yScale0: Scale = !hasData ? niceLinearScale(0, 1, top + ph, top) : logY ? logScale(yMin, yMax, top + ph, top) : paddedLinearScale(yMin, yMax, top + ph, top, 6)
  const left = Math.ceil(10 + (options.yLabel ? 22 : 0) + tickLabelWidth(yScale0) + 8)
  const plot: Rect = { x: left, y: top, width: pw, height: ph }

  // x: the data range with a 5% margin, ticks inside it, integer steps for integer data.
  const xScale = hasData ? paddedLinearScale(xMin, xMax, plot.x, plot.x + pw, 8, allIntX) : paddedLinearScale(0, 1, plot.x, plot.x + pw, 6)

  const names = series.map((s) => truncate(s.name, 32))
  const legendW = series.length > 0 ? Math.ceil(44 + Math.max(...names.map((n) => textWidth(n, FONT.tick)))) : 0
  const legendX = plot.x + pw + 18

  const lines: string[] = []
  const dots: string[] = []
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length]
    const dash = DASHES[Math.floor(k / PALETTE.length) % DASHES.length]
    let d = ''
    let run: [number, number][] = []
    const flush = () => {
      if (run.length > 0) d += run.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${num(px)} ${num(py)}`).join('')
      const lonely = run.length === 1
      const wantDots = options.markers ?? s.points.length <= 40
      if (wantDots || lonely) for (const [px, py] of run) dots.push(el('circle', { cx: px, cy: py, r: 2.8, fill: color }))
      run = []
    }
    for (const [x, y] of s.points) {
      if (okX(x) && okY(y)) run.push([xScale.map(x), yScale0.map(y)])
      else flush()
    }
    flush()
    lines.push(
      el(
        'path',
        {
          class: 'series',
          d,
          fill: 'none',
          stroke: color,
          'stroke-width': 2,
          'stroke-linejoin': 'round',
          'stroke-linecap': 'round',
          'stroke-dasharray': dash,
        },
        el('title', {}, escapeXml(s.name)),
      ),
    )
  })

  const legend = series.map((_, k) => {
    const y = plot.y + 12 + k * 20
    const color = PALETTE[k % PALETTE.length]
    const dash = DASHES[Math.floor(k / PALETTE.length) % DASHES.length]
    return el(
      'g',
      { class: 'legend-entry' },
      el('line', { x1: legendX + 8, x2: legendX + 30, y1: y, y2: y, stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash }),
      textEl(names[k], { x: legendX + 36, y, dy: '0.35em', fill: '#222222' }),
    )
  })
  const legendBox =
    series.length > 0
      ? el('rect', { x: legendX + 0.5, y: plot.y + 0.5, width: legendW - 1, height: 24 + (series.length - 1) * 20 - 1, fill: '#ffffff', stroke: '#cccccc', rx: 3 })
      : ''

  const parts = [
    yAxis(plot, yScale0),
    xAxis(plot, xScale),
    el('g', { class: 'lines' }, ...lines),
    el('g', { class: 'markers' }, ...dots),
    frame(plot),
    options.xLabel ? xTitle(fitText(options.xLabel, pw, FONT.label), plot.x + pw / 2, plot.y + ph + 38) : '',
    options.yLabel ? yTitle(fitText(options.yLabel, ph, FONT.label), 24, plot.y + ph / 2) : '',
    legendBox,
    el('g', { class: 'legend' }, ...legend),
    hasData ? '' : textEl('no data', { x: plot.x + pw / 2, y: plot.y + ph / 2, 'text-anchor': 'middle', fill: '#888888', 'font-size': FONT.label }),
  ]
  const captions: string[] = []
  if (skipped > 0) captions.push(`${plural(skipped, 'point')} skipped (NaN, \u00b1\u221e${logY ? ' or \u2264 0 on the log scale' : ''})`)
  const height = Math.max(plot.y + ph + (options.xLabel ? 46 : 28), plot.y + 24 + series.length * 20) + 8
  return { width: legendX + legendW + 12, height, body: parts.join(''), captions }
}

const clampSize = (v: number | undefined, dflt: number): number => (v !== undefined && Number.isFinite(v) ? Math.round(Math.min(4000, Math.max(80, v))) : dflt)
