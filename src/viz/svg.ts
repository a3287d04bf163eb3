/**
 * The shared pieces of the SVG pictures: escaping, number formatting, colours, "nice" axis
 * ticks, a rough text-width estimate for layout, and the document wrapper.
 *
 * Everything here is a pure function of plain numbers and strings: no DOM, no Node APIs, no
 * tfjs, no randomness, no dates. The same inputs give the same bytes in Node and the browser,
 * and the output is always well-formed XML: every piece of text goes through
 * {@link escapeXml}, every coordinate through {@link num} (which never prints NaN).
 */

/** Attribute values for {@link el}: numbers go through {@link num}, `undefined` leaves the attribute out. */
export type Attrs = Readonly<Record<string, string | number | undefined>>

// XML 1.0 allows only these characters (no controls but tab/newline/return, no lone surrogates).
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

/**
 * Escapes text for XML text and attribute values (`& < > " '`) and replaces characters XML
 * cannot carry at all (control characters, lone surrogates) with U+FFFD, so that any
 * user-supplied label gives a well-formed document.
 */
export const escapeXml = (s: string): string => s.replace(INVALID_XML, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c])

/**
 * Formats a coordinate or length for SVG: at most two decimals, no `-0`. Non-finite input
 * (which the charts never pass on purpose) gives `0` rather than an invalid `NaN`.
 */
export const num = (x: number): string => {
  if (!Number.isFinite(x)) return '0'
  const r = Math.round(x * 100) / 100
  return Object.is(r, -0) ? '0' : String(r)
}

/** Builds one element; `children` are markup already built (text must be passed through {@link escapeXml}). */
export const el = (name: string, attrs: Attrs = {}, ...children: readonly string[]): string => {
  let a = ''
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue
    a += ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`
  }
  const body = children.join('')
  return body === '' ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`
}

/** A `<text>` element holding `content` (escaped here). */
export const textEl = (content: string, attrs: Attrs = {}): string => el('text', attrs, escapeXml(content))

/**
 * Formats a value the way C's `%.Nf` does (default two decimals, as the seed notebook's
 * heatmaps print them), without a negative zero (`-0.00` becomes `0.00`). Non-finite values
 * give the empty string: they are drawn as blanks, never as text.
 */
export const formatValue = (v: number, decimals = 2): string => {
  if (!Number.isFinite(v)) return ''
  const s = v.toFixed(decimals)
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s
}

/**
 * Formats an axis tick value with the decimals of the tick step (so 1.5, 2.0, 2.5 line up),
 * in exponent form for very large magnitudes or steps below 1e-4, with a typographic minus sign
 * (U+2212) as matplotlib does.
 */
export const formatTick = (v: number, step: number): string => {
  if (!Number.isFinite(v)) return ''
  const a = Math.abs(v)
  let s: string
  if (a === 0 && step > 0 && step < 1e-4) s = '0'
  else if (a >= 1e6 || (a > 0 && (a < 1e-4 || (step > 0 && step < 1e-4)))) {
    s = v.toExponential(Math.min(6, Math.max(0, precisionOf(v / 10 ** Math.floor(Math.log10(a)))))).replace('e+', 'e')
  } else {
    const decimals = Number.isFinite(step) && step > 0 ? Math.min(10, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 2
    s = v.toFixed(decimals)
    if (/^-0(\.0*)?$/.test(s)) s = s.slice(1)
  }
  return s.replace(/^-/, '\u2212')
}

// Decimals needed to write x (up to 6), e.g. 2.5 -> 1, 2 -> 0.
const precisionOf = (x: number): number => {
  for (let d = 0; d < 6; d++) if (Math.abs(Number(x.toFixed(d)) - x) < 1e-9) return d
  return 6
}

// ---------------------------------------------------------------------------------------------
// Colours

type RGB = readonly [number, number, number]

/** The nine ColorBrewer stops of matplotlib's 'Blues' colormap, light to dark. */
export const BLUES_STOPS: readonly string[] = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b']

const parseHex = (hex: string): RGB => [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]
const toHex = ([r, g, b]: RGB): string =>
  '#' +
  [r, g, b]
    .map((c) =>
      Math.round(Math.min(255, Math.max(0, c)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')

const BLUES_RGB: readonly RGB[] = BLUES_STOPS.map(parseHex)

/**
 * The sequential 'Blues' colormap, as matplotlib interpolates it (linearly in RGB between the
 * nine stops): `t = 0` is almost white, `t = 1` dark navy. `t` is clamped to [0, 1]; NaN
 * gives the lightest colour.
 */
export const blues = (t: number): string => {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t))
  const pos = x * (BLUES_RGB.length - 1)
  const i = Math.min(BLUES_RGB.length - 2, Math.floor(pos))
  const f = pos - i
  const a = BLUES_RGB[i]
  const b = BLUES_RGB[i + 1]
  return toHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f])
}

/** WCAG relative luminance of a `#rrggbb` colour (0 black, 1 white); used to pick text colours and in tests. */
export const luminance = (hex: string): number => {
  const lin = (c: number) => {
    const s = c / 255
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  }
  const [r, g, b] = parseHex(hex)
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/** Black or white, whichever contrasts more with the background colour (dark text on light cells). */
export const textColorOn = (background: string): '#000000' | '#ffffff' => {
  const l = luminance(background)
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff'
}

/** The line palette: matplotlib's 'tab10', so series look as they would in the seed notebook. */
export const PALETTE: readonly string[] = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

// ---------------------------------------------------------------------------------------------
// Ticks

/** Axis ticks: the values, the step between them and the (possibly widened) bounds they cover. */
export interface Ticks {
  readonly lo: number
  readonly hi: number
  readonly step: number
  readonly values: readonly number[]
}

// The 1, 2 or 5 times a power of ten nearest to x (Heckbert's "nice numbers").
const niceNum = (x: number, round: boolean): number => {
  const e = Math.floor(Math.log10(x))
  const f = x / 10 ** e
  const nf = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
  return nf * 10 ** e
}

/**
 * "Nice" ticks (steps of 1, 2 or 5 times a power of ten) covering [min, max], about `count`
 * of them. `lo`/`hi` are the bounds widened to whole steps. A degenerate or non-finite range
 * is widened around its value (or replaced by [0, 1]) so that there is always an axis.
 * `integer` keeps the step at 1 or more (for epochs, counts, lengths).
 */
export const niceTicks = (min: number, max: number, count = 5, integer = false): Ticks => {
  let a = Number.isFinite(min) ? min : Number.isFinite(max) ? max : 0
  let b = Number.isFinite(max) ? max : a
  if (a > b) [a, b] = [b, a]
  // A range too narrow to tick (equal ends, or a difference lost in rounding) is widened.
  if (!(b - a > Math.max(Math.abs(a), Math.abs(b)) * 1e-12 && b - a > 1e-200)) {
    const mid = a / 2 + b / 2
    const pad = Math.abs(mid) < 1e-200 ? 1 : Math.abs(mid) * 0.1
    a = mid - pad
    b = mid + pad
  }
  let step = niceNum((b - a) / Math.max(1, count - 1), true)
  if (integer) step = Math.max(1, Math.round(step))
  const lo = Math.floor(a / step + 1e-9) * step
  const hi = Math.ceil(b / step - 1e-9) * step
  const n = Math.round((hi - lo) / step)
  // Ranges near the limits of doubles (±1.8e308) overflow: tick only the two ends.
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && n <= 1000)) return { lo: a, hi: b, step: Math.max(Math.abs(a), Math.abs(b)), values: [a, b] }
  const values: number[] = []
  for (let i = 0; i <= n; i++) values.push(roundTo(lo + i * step, step))
  return { lo: roundTo(lo, step), hi: roundTo(hi, step), step, values }
}

// Removes floating-point noise (0.30000000000000004) relative to the step.
const roundTo = (v: number, step: number): number => {
  if (Math.abs(v) < step * 1e-6) return 0
  return Number(v.toPrecision(12))
}

/**
 * Ticks for a logarithmic axis showing [min, max] (both > 0): the powers of ten inside the
 * range, with 2× and 5× added when that gives fewer than three ticks, and every integer
 * multiple when still fewer than two. `lo`/`hi` are the range itself.
 */
export const logTicks = (min: number, max: number): Ticks => {
  let a = Number.isFinite(min) && min > 0 ? min : 1
  let b = Number.isFinite(max) && max > 0 ? max : a * 10
  if (a > b) [a, b] = [b, a]
  if (a === b) {
    a /= 2
    b *= 2
  }
  const e0 = Math.floor(Math.log10(a))
  const e1 = Math.ceil(Math.log10(b))
  const inside = (v: number) => v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9)
  const stride = Math.max(1, Math.ceil((e1 - e0) / 8))
  const at = (multiples: readonly number[], everyDecade: boolean): number[] => {
    const out: number[] = []
    for (let e = Math.max(e0, -320); e <= Math.min(e1, 308); e += everyDecade ? 1 : stride) {
      for (const m of multiples) if (inside(m * pow10(e))) out.push(Number((m * pow10(e)).toPrecision(12)))
    }
    return out
  }
  let values = at([1], false)
  if (values.length < 3) values = at([1, 2, 5], true)
  if (values.length < 2) values = at([1, 2, 3, 4, 5, 6, 7, 8, 9], true)
  return { lo: a, hi: b, step: 10, values }
}

const pow10 = (e: number): number => Number(`1e${e}`)

/** Formats a tick on a log axis: plain decimals between 1e-4 and 1e6, exponent form outside. */
export const formatLogTick = (v: number): string => {
  const a = Math.abs(v)
  if (a >= 1e-4 && a < 1e6) return formatTick(v, 10 ** Math.floor(Math.log10(a) + 1e-9))
  return formatTick(v, 1)
}

// ---------------------------------------------------------------------------------------------
// Text

/**
 * A rough width in pixels of `s` set in DejaVu Sans / Helvetica at `fontSize`, for layout
 * only (margins, whether labels fit, rotation). It errs on the wide side.
 */
export const textWidth = (s: string, fontSize: number): number => {
  let w = 0
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    w += charWidth(ch, c)
  }
  return w * fontSize
}

const NARROW = new Set([..."iljIft.,:;|!'`()[]{} "])
const WIDE = new Set([...'mwMW@%&'])
const charWidth = (ch: string, c: number): number => {
  if (NARROW.has(ch)) return 0.34
  if (WIDE.has(ch)) return 0.9
  if (c >= 48 && c <= 57) return 0.64
  if (c >= 65 && c <= 90) return 0.72
  if (c >= 97 && c <= 122) return 0.6
  if (c >= 0x1100) return 1.0
  return 0.66
}

/** Shortens `s` to at most `max` characters, ending with an ellipsis when cut. */
export const truncate = (s: string, max: number): string => {
  const chars = [...s]
  return chars.length <= max ? s : chars.slice(0, Math.max(1, max - 1)).join('') + '\u2026'
}

/** Shortens `s` with an ellipsis until its estimated width fits `width` pixels at `fontSize`. */
export const fitText = (s: string, width: number, fontSize: number): string => {
  if (textWidth(s, fontSize) <= width) return s
  const chars = [...s]
  let n = chars.length
  while (n > 1 && textWidth(chars.slice(0, n - 1).join('') + '\u2026', fontSize) > width) n--
  return chars.slice(0, Math.max(1, n - 1)).join('') + '\u2026'
}

/**
 * Breaks `s` at spaces into lines that fit `width` pixels at `fontSize` (a word too long for
 * a line is shortened with an ellipsis).
 */
export const wrapText = (s: string, width: number, fontSize: number): string[] => {
  const lines: string[] = []
  let line = ''
  for (const word of s.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`
    if (line !== '' && textWidth(next, fontSize) > width) {
      lines.push(fitText(line, width, fontSize))
      line = word
    } else line = next
  }
  lines.push(fitText(line, width, fontSize))
  return lines
}

/**
 * Makes a character or token label visible: a space becomes `␣`, a newline `↵`, a tab `⇥`,
 * other control characters `\uXXXX`, the empty string `∅`. GPT-2 tokens such as `" the"`
 * read `␣the`.
 */
export const visibleToken = (s: string): string => (s === '' ? '\u2205' : showControls(s, true))

const showControls = (s: string, spaces: boolean): string =>
  s.replace(spaces ? /[\u0000-\u001f\u007f ]/g : /[\u0000-\u001f\u007f]/g, (c) =>
    c === ' ' ? '\u2423' : c === '\n' ? '\u21b5' : c === '\t' ? '\u21e5' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )

// ---------------------------------------------------------------------------------------------
// The document

/** The font stack of every picture (DejaVu Sans is matplotlib's default font). */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif'

/** Font sizes shared by the pictures, in pixels. */
export const FONT = { title: 15, panelTitle: 13, label: 12, tick: 11, caption: 11 } as const

/** What a chart builds before it is wrapped in a document: its size, its markup and its captions. */
export interface Figure {
  readonly width: number
  readonly height: number
  readonly body: string
  readonly captions: readonly string[]
}

const TITLE_BAND = 34
const BOLD = 1.1 // bold text is about this much wider
const CAPTION_LINE = 16

/**
 * Wraps a figure into a standalone `<svg>` document: a viewBox (so it scales), the title
 * drawn at the top and repeated in `<title>` for screen readers, the font settings, a white
 * background, and the captions (notes such as "2 NaN values skipped") under the figure.
 */
export const svgDocument = (title: string | undefined, fig: Figure): string => {
  const top = title ? TITLE_BAND : 8
  const width = Math.ceil(Math.max(fig.width, title ? Math.min(textWidth(title, FONT.title) * BOLD + 32, 1200) : 0))
  const titleText = title ? fitText(title, (width - 24) / BOLD, FONT.title) : ''
  const lines = fig.captions.flatMap((c) => wrapText(c, width - 24, FONT.caption))
  const captionH = lines.length > 0 ? lines.length * CAPTION_LINE + 8 : 0
  const height = Math.ceil(top + fig.height + captionH)
  const dx = Math.round((width - fig.width) / 2)
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      'font-family': FONT_FAMILY,
      'font-size': FONT.tick,
    },
    title ? el('title', {}, escapeXml(title)) : '',
    el('rect', { width: '100%', height: '100%', fill: '#ffffff' }),
    title ? textEl(titleText, { x: width / 2, y: 22, 'text-anchor': 'middle', 'font-size': FONT.title, 'font-weight': 'bold', fill: '#222222' }) : '',
    el('g', { transform: `translate(${dx},${top})` }, fig.body),
    ...lines.map((c, i) =>
      textEl(c, {
        class: 'caption',
        x: 12,
        y: top + fig.height + 4 + (i + 1) * CAPTION_LINE - 4,
        'font-size': FONT.caption,
        'font-style': 'italic',
        fill: '#555555',
      }),
    ),
  )
}

/** Says "1 value" / "3 values" and the like. */
export const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`

/**
 * Makes a tick label readable: control characters become `\uXXXX` (newline `↵`, tab `⇥`),
 * and spaces become `␣` when the label is blank or starts or ends with one (a token such as
 * `" the"`), while inner spaces (`"layer 0"`) stay.
 */
export const visibleLabel = (s: string): string => (s === '' || /^\s|\s$/.test(s) ? visibleToken(s) : showControls(s, false))
