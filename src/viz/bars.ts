/**
 * Bar charts of next-token distributions: one panel per stage of the sampling pipeline
 * (raw softmax, after temperature, after top-k, after top-p, …), the same tokens in every
 * panel so that what a processor removed shows as a missing bar marked ×.
 *
 * @example
 * distributionBars([
 *   { title: 'softmax', bars: vocab.map((c, i) => ({ label: c, value: p0[i] })) },
 *   { title: 'top-k = 5', bars: vocab.map((c, i) => ({ label: c, value: p1[i] })) },
 * ], { title: 'Next character after "Ara"' })
 */
import { frame, niceLinearScale, tickLabelWidth, yAxis, yTitle, type Rect } from './axes.js'
import { el, escapeXml, FONT, fitText, formatValue, plural, svgDocument, textEl, textWidth, truncate, visibleToken, type Figure } from './svg.js'

/** One bar: a label (a character or a token) and its value (a probability, typically). */
export interface Bar {
  readonly label: string
  readonly value: number
}

/** One panel: a title (the stage, e.g. 'after top-p 0.9') and its bars. */
export interface BarPanel {
  readonly title: string
  readonly bars: readonly Bar[]
}

/** Options of {@link distributionBars}. */
export interface DistributionBarsOptions {
  readonly title?: string
  /** Title of the y axes (default 'probability'). */
  readonly yLabel?: string
  /** How many bars per panel (default 15): the largest values. */
  readonly topK?: number
  /**
   * Show the same tokens in every panel (default true): the top `topK` of the first panel, in
   * its order, matched by label. A token missing from a later panel counts as removed (value 0).
   * With false, each panel shows its own top `topK`.
   */
  readonly sameTokens?: boolean
  /** Print each value above its bar ('%.2f'; default true when there is room). */
  readonly showValues?: boolean
  /** Panels per row; by default up to 3. */
  readonly columns?: number
  /** Height of each panel's plot area in pixels (default 170). */
  readonly plotHeight?: number
}

const rank = (v: number): number => (Number.isFinite(v) ? v : v === Infinity ? Number.MAX_VALUE : -Number.MAX_VALUE)

// Identifies a bar by its label and which occurrence of that label it is (a token list may
// hold the same text twice), so that the same bar can be found in every panel.
const occurrenceIds = (bars: readonly Bar[]): string[] => {
  const seen = new Map<string, number>()
  return bars.map((b) => {
    const n = seen.get(b.label) ?? 0
    seen.set(b.label, n + 1)
    return `${b.label}\u0000${n}`
  })
}

/** The `k` largest bars (NaN and −∞ last), in descending order; ties keep their input order. */
export const topBars = (bars: readonly Bar[], k: number): readonly Bar[] =>
  bars
    .map((b, i) => ({ b, i }))
    .sort((p, q) => rank(q.b.value) - rank(p.b.value) || p.i - q.i)
    .slice(0, Math.max(0, k))
    .map((p) => p.b)

/**
 * Side-by-side bar charts of distributions (e.g. the next-token distribution before and after
 * each logits processor), as an SVG document. All panels share one y scale. Removed tokens —
 * probability 0, or a −∞ logit — are drawn as absent (a grey × on the baseline); when some
 * value is negative the panels are taken to show logits, and 0 is then an ordinary bar. NaN
 * and +∞ are skipped and counted in a caption.
 */
export const distributionBars = (panels: readonly BarPanel[], options: DistributionBarsOptions = {}): string => svgDocument(options.title, barsFigure(panels, options))

const barsFigure = (panels: readonly BarPanel[], options: DistributionBarsOptions): Figure => {
  const k = options.topK !== undefined && Number.isFinite(options.topK) ? Math.max(1, Math.floor(options.topK)) : 15
  const chosen: (readonly Bar[])[] =
    options.sameTokens === false || panels.length === 0
      ? panels.map((p) => topBars(p.bars, k))
      : (() => {
          const ids = occurrenceIds(panels[0].bars)
          const first = new Map(panels[0].bars.map((b, i) => [b, ids[i]] as const))
          const keys = topBars(panels[0].bars, k).map((b) => first.get(b) ?? '')
          return panels.map((p) => {
            const pid = occurrenceIds(p.bars)
            const byKey = new Map(p.bars.map((b, i) => [pid[i], b.value] as const))
            return keys.map((key) => ({ label: key.slice(0, key.lastIndexOf('\u0000')), value: byKey.get(key) ?? 0 }))
          })
        })()

  // Probabilities unless some value is negative (then logits, where 0 is an ordinary value):
  // a removed token is probability 0 or a −∞ logit.
  const logits = chosen.some((bars) => bars.some((b) => Number.isFinite(b.value) && b.value < 0))
  const isRemoved = (v: number): boolean => v === -Infinity || (v === 0 && !logits)
  let vMin = 0
  let vMax = 0
  let skipped = 0
  let removed = 0
  for (const bars of chosen)
    for (const { value } of bars) {
      if (isRemoved(value)) removed++
      else if (Number.isFinite(value)) {
        vMin = Math.min(vMin, value)
        vMax = Math.max(vMax, value)
      } else skipped++
    }
  if (vMax === vMin) vMax = vMin + 1
  else {
    // Headroom for the values printed above (and below) the longest bars.
    const room = (vMax / 2 - vMin / 2) * 0.16
    if (vMax > 0 && Number.isFinite(vMax + room)) vMax += room
    if (vMin < 0 && Number.isFinite(vMin - room)) vMin -= room
  }
  const ph = options.plotHeight !== undefined && Number.isFinite(options.plotHeight) ? Math.max(60, Math.min(2000, options.plotHeight)) : 170
  const top = 26
  const yScale = niceLinearScale(vMin, vMax, top + ph, top, 5)

  const labelsShown = chosen.map((bars) => bars.map((b) => truncate(visibleToken(b.label), 12)))
  const labelW = Math.max(0, ...labelsShown.flat().map((l) => textWidth(l, FONT.tick)))
  const valueFont = 9
  const valueW = textWidth('0.00', valueFont)
  const rotate = labelW + 6 > 40
  const slot = Math.ceil(Math.max(20, Math.min(40, rotate ? 0 : labelW + 6), valueW + 4))
  const showValues = options.showValues ?? true
  const maxBars = Math.max(1, ...chosen.map((b) => b.length))
  const titleW = Math.min(400, Math.max(0, ...panels.map((p) => textWidth(p.title, FONT.panelTitle))))
  const pw = Math.ceil(Math.max(maxBars * slot, titleW + 8))
  const left = Math.ceil(22 + tickLabelWidth(yScale) + 10)
  const labelBand = rotate ? Math.ceil(labelW * 0.71 + 16) : 18
  const panelW = left + pw + 14
  const panelH = top + ph + labelBand + 6
  const n = chosen.length
  const cols =
    options.columns !== undefined && Number.isFinite(options.columns)
      ? Math.max(1, Math.min(n || 1, Math.floor(options.columns)))
      : n <= 3
        ? Math.max(1, n)
        : Math.ceil(n / Math.ceil(n / 3))

  const parts: string[] = []
  chosen.forEach((bars, p) => {
    const ox = 8 + (p % cols) * panelW
    const oy = 4 + Math.floor(p / cols) * panelH
    const plot: Rect = { x: ox + left, y: oy + top, width: pw, height: ph }
    const shifted = { ...yScale, map: (v: number) => yScale.map(v) + oy }
    const zero = Math.round(shifted.map(0))
    const items: string[] = []
    const inset = (pw - bars.length * slot) / 2
    bars.forEach((b, i) => {
      const cx = plot.x + inset + (i + 0.5) * slot
      const label = labelsShown[p][i]
      const absent = !Number.isFinite(b.value)
      const gone = isRemoved(b.value)
      const tip = `${visibleToken(b.label)}: ${Number.isFinite(b.value) ? formatValue(b.value, 4) : String(b.value)}`
      if (!absent && !gone) {
        const y = shifted.map(b.value)
        const y0 = Math.min(y, zero)
        items.push(
          el(
            'rect',
            {
              class: 'bar',
              x: cx - slot * 0.36,
              y: y0,
              width: slot * 0.72,
              height: Math.max(0.5, Math.abs(zero - y)),
              fill: '#1f77b4',
            },
            el('title', {}, escapeXml(tip)),
          ),
        )
        if (showValues) {
          items.push(
            textEl(formatValue(b.value), {
              class: 'value',
              x: cx,
              y: b.value >= 0 ? y0 - 3 : y0 + Math.abs(zero - y) + 10,
              'text-anchor': 'middle',
              'font-size': valueFont,
              fill: '#333333',
            }),
          )
        }
      } else {
        items.push(
          el(
            'path',
            {
              class: gone ? 'removed' : 'skipped',
              d: `M${cx - 3.5} ${zero - 9.5}l7 7m0 -7l-7 7`,
              stroke: '#999999',
              'stroke-width': 1.4,
              fill: 'none',
            },
            el('title', {}, escapeXml(tip)),
          ),
        )
      }
      const labelAttrs = { fill: absent || gone ? '#999999' : '#222222' }
      items.push(
        rotate
          ? textEl(label, {
              ...labelAttrs,
              class: 'bar-label',
              x: 0,
              y: 0,
              dy: '0.35em',
              'text-anchor': 'end',
              transform: `translate(${Math.round(cx * 100) / 100},${plot.y + ph + 9}) rotate(-45)`,
            })
          : textEl(label, { ...labelAttrs, class: 'bar-label', x: cx, y: plot.y + ph + 15, 'text-anchor': 'middle' }),
      )
    })
    parts.push(
      el(
        'g',
        { class: 'panel' },
        yAxis(plot, shifted, true, true),
        el('line', { x1: plot.x, x2: plot.x + pw, y1: zero + 0.5, y2: zero + 0.5, stroke: '#444444' }),
        ...items,
        frame(plot),
        yTitle(fitText(options.yLabel ?? 'probability', ph, FONT.label), ox + 16, plot.y + ph / 2),
        textEl(fitText(panels[p].title, pw, FONT.panelTitle), {
          class: 'panel-title',
          x: plot.x + pw / 2,
          y: oy + 17,
          'text-anchor': 'middle',
          'font-size': FONT.panelTitle,
          fill: '#222222',
        }),
      ),
    )
  })
  const captions: string[] = []
  if (removed > 0) {
    captions.push(
      logits ? '\u00d7 marks tokens with a \u2212\u221e logit: removed by a processor' : '\u00d7 marks tokens with probability 0 (or a \u2212\u221e logit): removed by a processor',
    )
  }
  if (skipped > 0) captions.push(`${plural(skipped, 'value')} skipped (NaN or +\u221e)`)
  if (n === 0) captions.push('no panels: nothing to draw')
  const rows = Math.ceil(n / cols)
  return { width: 8 + cols * panelW + 8, height: 4 + Math.max(1, rows) * panelH, body: parts.join(''), captions }
}
