/**
 * Heatmaps of matrices (attention weights, masks), as in the seed notebook's
 * `plt.imshow(weights, cmap='Blues')` with the values printed in the cells: one matrix, several
 * side by side ("without mask (encoder/BERT)" next to "with causal mask (decoder/GPT)"), or a
 * grid of layers × heads. All panels of one picture share one colour scale and one colour bar,
 * so that equal colours mean equal values.
 *
 * @example
 * const svg = heatmap(weights, { title: 'Attention', xLabel: 'key (K)', yLabel: 'query (Q)', min: 0, max: 1 })
 */
import { frame, rangeFraction, yTitle, xTitle } from './axes.js'
import {
  blues,
  el,
  escapeXml,
  FONT,
  fitText,
  formatTick,
  formatValue,
  niceTicks,
  plural,
  svgDocument,
  textColorOn,
  textEl,
  textWidth,
  truncate,
  visibleLabel,
  type Figure,
} from './svg.js'

/** A matrix as nested arrays of plain numbers, rows first (`matrix[query][key]`). */
export type Matrix = readonly (readonly number[])[]

/** Colour-scale and cell options shared by every heatmap function. */
export interface HeatmapScaleOptions {
  /** The picture's title. */
  readonly title?: string
  /** Print each value in its cell ('%.2f'); by default only when the cells are big enough. */
  readonly showValues?: boolean
  /** The value drawn lightest; by default the smallest finite value. */
  readonly min?: number
  /** The value drawn darkest; by default the largest finite value. */
  readonly max?: number
  /** Cell side in pixels; by default chosen from the matrix size. */
  readonly cellSize?: number
  /** Draw the colour bar (default true). */
  readonly colorbar?: boolean
}

/** Options of {@link heatmap}. */
export interface HeatmapOptions extends HeatmapScaleOptions {
  /** Labels of the rows (e.g. query tokens); by default 0, 1, 2, … */
  readonly rowLabels?: readonly string[]
  /** Labels of the columns (e.g. key tokens); by default 0, 1, 2, … */
  readonly colLabels?: readonly string[]
  /** Title of the horizontal axis (e.g. 'key (K)'). */
  readonly xLabel?: string
  /** Title of the vertical axis (e.g. 'query (Q)'). */
  readonly yLabel?: string
}

/** One panel of {@link heatmapPanels}: a matrix with its own title and labels. */
export interface HeatmapPanel {
  readonly matrix: Matrix
  readonly title?: string
  readonly rowLabels?: readonly string[]
  readonly colLabels?: readonly string[]
  readonly xLabel?: string
  readonly yLabel?: string
}

/** Options of {@link heatmapGrid}: labels shared by all panels, titles for the rows and columns of panels. */
export interface HeatmapGridOptions extends HeatmapScaleOptions {
  /** Title of each row of panels (e.g. 'layer 0'). */
  readonly rowTitles?: readonly string[]
  /** Title of each column of panels (e.g. 'head 0'). */
  readonly colTitles?: readonly string[]
  /** Row labels, drawn left of the first column of panels (e.g. query tokens). */
  readonly rowLabels?: readonly string[]
  /** Column labels, drawn under the last row of panels (e.g. key tokens). */
  readonly colLabels?: readonly string[]
  /** Axis title under the last row of panels. */
  readonly xLabel?: string
  /** Axis title at the far left, for the whole grid. */
  readonly yLabel?: string
}

/** A single heatmap with a colour bar, as an SVG document. */
export const heatmap = (matrix: Matrix, options: HeatmapOptions = {}): string => svgDocument(options.title, layout([[specOf({ ...options, matrix, title: undefined })]], options))

/**
 * Several heatmaps side by side on one colour scale (e.g. attention without and with the causal
 * mask), each with its own title, labels and axis titles, as an SVG document.
 */
export const heatmapPanels = (panels: readonly HeatmapPanel[], options: HeatmapScaleOptions = {}): string => svgDocument(options.title, layout([panels.map(specOf)], options))

/**
 * A grid of heatmaps, `grid[row][col]` (e.g. attention per layer and head), on one colour scale.
 * Tick labels are drawn once per row and column of panels, so a 6 × 12 grid stays readable.
 */
export const heatmapGrid = (grid: readonly (readonly Matrix[])[], options: HeatmapGridOptions = {}): string => {
  const rows = grid.length
  const specs = grid.map((row, r) =>
    row.map((matrix, c): Spec => {
      const base = specOf({ matrix, rowLabels: options.rowLabels, colLabels: options.colLabels })
      return {
        ...base,
        title: r === 0 ? options.colTitles?.[c] : undefined,
        rowLabels: c === 0 ? base.rowLabels : undefined,
        colLabels: r === rows - 1 ? base.colLabels : undefined,
        xLabel: r === rows - 1 ? options.xLabel : undefined,
        yLabel: c === 0 ? options.rowTitles?.[r] : undefined,
        boldYLabel: true,
      }
    }),
  )
  return svgDocument(options.title, layout(specs, options, options.yLabel))
}

/**
 * Attention weights per layer and head (`weights[layer][head][query][key]`) as a grid of
 * heatmaps on the scale [0, 1], with the tokens as query and key labels.
 */
export const attentionGrid = (weights: readonly (readonly Matrix[])[], tokens: readonly string[], options: Omit<HeatmapGridOptions, 'rowLabels' | 'colLabels'> = {}): string =>
  heatmapGrid(weights, {
    min: 0,
    max: 1,
    xLabel: 'key',
    yLabel: 'query',
    rowTitles: weights.map((_, l) => `layer ${l}`),
    colTitles: (weights[0] ?? []).map((_, h) => `head ${h}`),
    ...options,
    rowLabels: tokens,
    colLabels: tokens,
  })

// ---------------------------------------------------------------------------------------------

interface Spec {
  readonly matrix: Matrix
  readonly nr: number
  readonly nc: number
  readonly title?: string
  readonly rowLabels?: readonly string[]
  readonly colLabels?: readonly string[]
  readonly xLabel?: string
  readonly yLabel?: string
  readonly boldYLabel?: boolean
}

const MAX_LABEL_CHARS = 14
const labelsFor = (n: number, given: readonly string[] | undefined): string[] =>
  Array.from({ length: n }, (_, i) => truncate(visibleLabel(given?.[i] ?? String(i)), MAX_LABEL_CHARS))

const specOf = (p: HeatmapPanel): Spec => {
  const nr = p.matrix.length
  const nc = Math.max(0, ...p.matrix.map((r) => r.length))
  return {
    matrix: p.matrix,
    nr,
    nc,
    title: p.title,
    xLabel: p.xLabel,
    yLabel: p.yLabel,
    rowLabels: labelsFor(nr, p.rowLabels),
    colLabels: labelsFor(nc, p.colLabels),
  }
}

interface Measured {
  readonly spec: Spec
  readonly gridW: number
  readonly gridH: number
  readonly rowStride: number
  readonly colStride: number
  readonly rotateCols: boolean
  readonly rowLabelW: number
  readonly left: number
  readonly right: number
  readonly top: number
  readonly bottom: number
}

const TITLE_H = 24
const AXIS_TITLE_H = 22
const PANEL_GAP_X = 28
const PANEL_GAP_Y = 18
const MARGIN = 12

const maxWidth = (labels: readonly string[] | undefined, size: number): number => Math.max(0, ...(labels ?? []).map((l) => textWidth(l, size)))

const measure = (spec: Spec, cell: number): Measured => {
  const gridW = spec.nc * cell
  const gridH = spec.nr * cell
  const rowLabelW = maxWidth(spec.rowLabels, FONT.tick)
  const colLabelW = maxWidth(spec.colLabels, FONT.tick)
  const rowStride = Math.max(1, Math.ceil(14 / cell))
  let colStride = 1
  let rotateCols = false
  if (colLabelW + 4 > cell) {
    if (colLabelW <= 26) colStride = Math.ceil((colLabelW + 8) / cell)
    else {
      rotateCols = true
      colStride = Math.max(1, Math.ceil(16 / cell))
    }
  }
  const hasRows = (spec.rowLabels?.length ?? 0) > 0
  const hasCols = (spec.colLabels?.length ?? 0) > 0
  let left = (hasRows ? rowLabelW + 8 : 0) + (spec.yLabel ? AXIS_TITLE_H : 0)
  let right = hasCols && !rotateCols ? Math.max(0, (colLabelW - cell) / 2) : 0
  if (hasCols && rotateCols) left = Math.max(left, colLabelW * 0.71 + 10 - cell / 2)
  const top = spec.title ? TITLE_H : 0
  const bottom = (hasCols ? (rotateCols ? colLabelW * 0.71 + 16 : 18) : 0) + (spec.xLabel ? AXIS_TITLE_H : 0)
  const need = Math.max(spec.title ? Math.min(textWidth(spec.title, FONT.panelTitle), 420) : 0, spec.xLabel ? Math.min(textWidth(spec.xLabel, FONT.label), 420) : 0)
  if (need > gridW) {
    const extra = (need - gridW) / 2 + 2
    left = Math.max(left, extra)
    right = Math.max(right, extra)
  }
  return {
    spec,
    gridW,
    gridH,
    rowStride,
    colStride,
    rotateCols,
    rowLabelW,
    left: Math.ceil(left),
    right: Math.ceil(right),
    top,
    bottom: Math.ceil(bottom),
  }
}

const chooseCellSize = (specs: readonly (readonly Spec[])[], options: HeatmapScaleOptions): number => {
  if (options.cellSize !== undefined && Number.isFinite(options.cellSize) && options.cellSize >= 1) {
    return Math.round(Math.min(options.cellSize, 200))
  }
  const rows = Math.max(1, specs.length)
  const cols = Math.max(1, ...specs.map((r) => r.length))
  const dim = Math.max(1, ...specs.flat().map((s) => Math.max(s.nr, s.nc)))
  const target = Math.min(cols === 1 ? 420 : Math.max(140, 860 / cols), rows === 1 ? 420 : Math.max(140, 720 / rows))
  return Math.max(3, Math.min(56, Math.floor(target / dim)))
}

const finiteRange = (specs: readonly Spec[]): [number, number] | undefined => {
  let lo = Infinity
  let hi = -Infinity
  for (const s of specs)
    for (const row of s.matrix)
      for (const v of row) {
        if (Number.isFinite(v)) {
          if (v < lo) lo = v
          if (v > hi) hi = v
        }
      }
  return lo <= hi ? [lo, hi] : undefined
}

const layout = (specs: readonly (readonly Spec[])[], options: HeatmapScaleOptions, outerYLabel?: string): Figure => {
  const cell = chooseCellSize(specs, options)
  const all = specs.flat()
  const data = finiteRange(all)
  let lo = Number.isFinite(options.min) ? (options.min as number) : data?.[0]
  let hi = Number.isFinite(options.max) ? (options.max as number) : data?.[1]
  if (lo !== undefined && hi === undefined) hi = lo
  if (hi !== undefined && lo === undefined) lo = hi
  if (lo !== undefined && hi !== undefined && hi < lo) hi = lo
  const scale = lo !== undefined && hi !== undefined ? { lo, hi } : undefined

  const ms = specs.map((row) => row.map((s) => measure(s, cell)))
  const nRows = ms.length
  const nCols = Math.max(0, ...ms.map((r) => r.length))
  const colLeft = Array.from({ length: nCols }, (_, c) => Math.max(0, ...ms.map((r) => r[c]?.left ?? 0)))
  const colRight = Array.from({ length: nCols }, (_, c) => Math.max(0, ...ms.map((r) => r[c]?.right ?? 0)))
  const colW = Array.from({ length: nCols }, (_, c) => Math.max(0, ...ms.map((r) => r[c]?.gridW ?? 0)))
  const rowTop = ms.map((r) => Math.max(0, ...r.map((m) => m.top)))
  const rowBottom = ms.map((r) => Math.max(0, ...r.map((m) => m.bottom)))
  const rowH = ms.map((r) => Math.max(0, ...r.map((m) => m.gridH)))

  const outerBand = outerYLabel ? AXIS_TITLE_H + 4 : 0
  const xs: number[] = []
  let x = MARGIN + outerBand
  for (let c = 0; c < nCols; c++) {
    x += colLeft[c]
    xs.push(x)
    x += colW[c] + colRight[c] + (c < nCols - 1 ? PANEL_GAP_X : 0)
  }
  const ys: number[] = []
  let y = 4
  for (let r = 0; r < nRows; r++) {
    y += rowTop[r]
    ys.push(y)
    y += rowH[r] + rowBottom[r] + (r < nRows - 1 ? PANEL_GAP_Y : 0)
  }
  const contentBottom = y
  const showValues = options.showValues ?? cell >= 30
  const parts: string[] = []
  let blanks = 0
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < ms[r].length; c++) {
      const drawn = drawPanel(ms[r][c], xs[c], ys[r], cell, scale, showValues)
      parts.push(drawn.markup)
      blanks += drawn.blanks
    }
  }
  const cellsTop = ys[0] ?? 4
  const cellsBottom = nRows > 0 ? ys[nRows - 1] + rowH[nRows - 1] : cellsTop
  if (outerYLabel) {
    parts.push(yTitle(fitText(outerYLabel, Math.max(60, cellsBottom - cellsTop), FONT.label), MARGIN + 14, (cellsTop + cellsBottom) / 2))
  }
  let width = x
  const captions: string[] = []
  if (scale && options.colorbar !== false && all.some((s) => s.nr > 0 && s.nc > 0)) {
    const bar = colorbar(x + 22, cellsTop, Math.max(80, cellsBottom - cellsTop), scale)
    parts.push(bar.markup)
    width = x + 22 + bar.width
  }
  if (blanks > 0) captions.push(`${plural(blanks, 'cell')} left blank (NaN, \u00b1\u221e or missing values)`)
  if (all.length === 0 || all.every((s) => s.nr === 0 || s.nc === 0)) captions.push('empty matrix: nothing to draw')
  return {
    width: Math.ceil(width + MARGIN),
    height: Math.ceil(Math.max(contentBottom, cellsTop + 84) + MARGIN),
    body: parts.join(''),
    captions,
  }
}

// Where v sits in the colour range, as a fraction (0 for an empty range).
const fraction = (v: number, scale: { lo: number; hi: number }): number => (scale.hi > scale.lo ? rangeFraction(v, scale.lo, scale.hi) : 0)

const colorOf = (v: number, scale: { lo: number; hi: number }): string => blues(fraction(v, scale))

const drawPanel = (m: Measured, ox: number, oy: number, cell: number, scale: { lo: number; hi: number } | undefined, showValues: boolean): { markup: string; blanks: number } => {
  const { spec } = m
  const cells: string[] = []
  const values: string[] = []
  let hatch = ''
  let blanks = 0
  const texts = spec.matrix.map((row) => row.map((v) => formatValue(v)))
  const longest = Math.max(4, ...texts.flat().map((t) => t.length))
  const valueFont = Math.max(4, Math.min(11, Math.floor((cell - 4) / (longest * 0.64))))
  for (let i = 0; i < spec.nr; i++) {
    const row = spec.matrix[i]
    for (let j = 0; j < spec.nc; j++) {
      const v = j < row.length ? row[j] : NaN
      const cx = ox + j * cell
      const cy = oy + i * cell
      if (!Number.isFinite(v) || scale === undefined) {
        blanks++
        hatch += `M${cx} ${cy + cell}L${cx + cell} ${cy}`
        continue
      }
      const fill = colorOf(v, scale)
      const tip = `${spec.rowLabels?.[i] ?? i}, ${spec.colLabels?.[j] ?? j}: ${formatValue(v, 4)}`
      cells.push(el('rect', { class: 'cell', x: cx, y: cy, width: cell, height: cell, fill }, el('title', {}, escapeXml(tip))))
      if (showValues) {
        values.push(
          textEl(texts[i][j], {
            class: 'value',
            x: cx + cell / 2,
            y: cy + cell / 2,
            dy: '0.35em',
            'text-anchor': 'middle',
            fill: textColorOn(fill),
          }),
        )
      }
    }
  }
  const out: string[] = []
  out.push(el('g', { class: 'cells', 'shape-rendering': 'crispEdges' }, ...cells))
  if (hatch) out.push(el('path', { class: 'blank', d: hatch, stroke: '#c8c8c8', 'stroke-width': 1, fill: 'none' }))
  if (values.length > 0) out.push(el('g', { class: 'values', 'font-size': valueFont }, ...values))
  if (m.gridW > 0 && m.gridH > 0) out.push(frame({ x: ox, y: oy, width: m.gridW - 1, height: m.gridH - 1 }))
  const rowLabels = spec.rowLabels ?? []
  const labels: string[] = []
  for (let i = 0; i < rowLabels.length; i += m.rowStride) {
    labels.push(textEl(rowLabels[i], { x: ox - 6, y: oy + (i + 0.5) * cell, dy: '0.35em', 'text-anchor': 'end' }))
  }
  const colLabels = spec.colLabels ?? []
  for (let j = 0; j < colLabels.length; j += m.colStride) {
    const x = ox + (j + 0.5) * cell
    labels.push(
      m.rotateCols
        ? textEl(colLabels[j], { x: 0, y: 0, dy: '0.35em', 'text-anchor': 'end', transform: `translate(${num2(x)},${oy + m.gridH + 8}) rotate(-45)` })
        : textEl(colLabels[j], { x, y: oy + m.gridH + 15, 'text-anchor': 'middle' }),
    )
  }
  if (labels.length > 0) out.push(el('g', { class: 'tick-labels', fill: '#333333' }, ...labels))
  if (spec.title) {
    out.push(
      textEl(fitText(spec.title, Math.max(m.gridW + m.left + m.right, 60), FONT.panelTitle), {
        class: 'panel-title',
        x: ox + m.gridW / 2,
        y: oy - 9,
        'text-anchor': 'middle',
        'font-size': FONT.panelTitle,
        fill: '#222222',
      }),
    )
  }
  if (spec.xLabel) {
    const tickBand = colLabels.length > 0 ? (m.rotateCols ? m.bottom - AXIS_TITLE_H : 18) : 0
    out.push(xTitle(fitText(spec.xLabel, Math.max(m.gridW + m.left + m.right, 60), FONT.label), ox + m.gridW / 2, oy + m.gridH + tickBand + 15))
  }
  if (spec.yLabel) {
    const labelBand = rowLabels.length > 0 ? m.rowLabelW + 8 : 0
    out.push(yTitle(fitText(spec.yLabel, Math.max(m.gridH, 60), FONT.label), ox - labelBand - 8, oy + m.gridH / 2, spec.boldYLabel))
  }
  return { markup: out.join(''), blanks }
}

const num2 = (x: number): number => Math.round(x * 100) / 100

const colorbar = (x: number, y: number, h: number, scale: { lo: number; hi: number }): { markup: string; width: number } => {
  const w = 14
  const slices = 64
  const rects: string[] = []
  for (let i = 0; i < slices; i++) {
    const y0 = Math.round(y + h - ((i + 1) * h) / slices)
    const y1 = Math.round(y + h - (i * h) / slices)
    rects.push(el('rect', { x, y: y0, width: w, height: y1 - y0, fill: blues((i + 0.5) / slices) }))
  }
  const span = scale.hi / 2 - scale.lo / 2
  const inside = (t: number) => t >= scale.lo - span * 1e-9 && t <= scale.hi + span * 1e-9
  // About one tick per 36 px, but at least three inside the range (nice ticks may overshoot it).
  let ticks = niceTicks(scale.lo, scale.hi, Math.max(3, Math.min(6, Math.floor(h / 36))))
  for (let count = 4; count <= 10 && ticks.values.filter(inside).length < 3; count++) ticks = niceTicks(scale.lo, scale.hi, count)
  const shown = span > 0 ? ticks.values.filter(inside) : [scale.lo]
  const labels = shown.map((t) => {
    const ty = span > 0 ? y + h - fraction(t, scale) * h : y + h
    const label = span > 0 ? formatTick(t, ticks.step) : formatValue(t, 2)
    return { ty, label }
  })
  const labelW = Math.max(0, ...labels.map((l) => textWidth(l.label, FONT.tick)))
  return {
    markup: el(
      'g',
      { class: 'colorbar' },
      el('g', { 'shape-rendering': 'crispEdges' }, ...rects),
      el('rect', { x: x + 0.5, y: y + 0.5, width: w - 1, height: h - 1, fill: 'none', stroke: '#444444' }),
      ...labels.map(
        ({ ty, label }) =>
          el('line', { x1: x + w, x2: x + w + 4, y1: Math.round(ty) + 0.5, y2: Math.round(ty) + 0.5, stroke: '#444444' }) +
          textEl(label, { x: x + w + 7, y: ty, dy: '0.35em', fill: '#333333' }),
      ),
    ),
    width: w + 8 + labelW,
  }
}
