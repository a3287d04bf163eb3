/**
 * A small, strict XML parser for the tests: it throws on anything that is not well-formed
 * (unbalanced or misnested tags, unquoted or duplicate attributes, a raw `<` or a bare `&` in
 * text or attribute values, characters XML 1.0 forbids, text outside the root) and returns a
 * tree to query. It covers the subset of XML the pictures use (no DTD, CDATA or comments
 * needed, but comments and processing instructions are accepted).
 */

/** An element: its name, decoded attributes and children (elements and decoded text). */
export interface XmlElement {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: readonly XmlNode[]
}
/** A node: an element or a run of text. */
export type XmlNode = XmlElement | string

const NAME = /[A-Za-z_:][A-Za-z0-9_:.-]*/y
const INVALID_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/

const decode = (raw: string, where: string): string => {
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (c === '<') throw new Error(`raw '<' in ${where}`)
    if (c !== '&') {
      out += c
      continue
    }
    const m = ENTITY.exec(raw.slice(i, i + 12))
    if (!m) throw new Error(`bare '&' in ${where}: ${JSON.stringify(raw.slice(i, i + 12))}`)
    const e = m[0]
    out +=
      e === '&amp;'
        ? '&'
        : e === '&lt;'
          ? '<'
          : e === '&gt;'
            ? '>'
            : e === '&quot;'
              ? '"'
              : e === '&apos;'
                ? "'"
                : String.fromCodePoint(e[2] === 'x' ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10))
    i += e.length - 1
  }
  return out
}

/** Parses a document with one root element; throws with a position on any well-formedness error. */
export const parseXml = (src: string): XmlElement => {
  const bad = INVALID_CHAR.exec(src)
  if (bad) throw new Error(`character U+${bad[0].codePointAt(0)!.toString(16)} is not allowed in XML (at ${bad.index})`)
  let i = 0
  const stack: { name: string; attrs: Record<string, string>; children: XmlNode[] }[] = []
  let root: XmlElement | undefined
  const fail = (msg: string): never => {
    throw new Error(`${msg} at offset ${i}: ${JSON.stringify(src.slice(Math.max(0, i - 40), i + 40))}`)
  }
  const name = (): string => {
    NAME.lastIndex = i
    const m = NAME.exec(src)
    if (!m) return fail('expected a name')
    i += m[0].length
    return m[0]
  }
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++
  }
  while (i < src.length) {
    if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i)
      if (end < 0) fail('unterminated processing instruction')
      i = end + 2
    } else if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i)
      if (end < 0) fail('unterminated comment')
      i = end + 3
    } else if (src.startsWith('</', i)) {
      i += 2
      const n = name()
      ws()
      if (src[i] !== '>') fail('expected > after closing tag')
      i++
      const open = stack.pop()
      if (!open || open.name !== n) fail(`closing </${n}> does not match <${open?.name ?? '(none)'}>`)
      const node: XmlElement = open!
      if (stack.length === 0) {
        if (root) fail('more than one root element')
        root = node
      } else stack[stack.length - 1].children.push(node)
    } else if (src[i] === '<') {
      i++
      const n = name()
      const attrs: Record<string, string> = {}
      for (;;) {
        const before = i
        ws()
        if (src.startsWith('/>', i) || src[i] === '>') break
        if (i === before) fail('expected whitespace before an attribute')
        const a = name()
        ws()
        if (src[i] !== '=') fail(`attribute ${a} without =`)
        i++
        ws()
        const q = src[i]
        if (q !== '"' && q !== "'") fail(`attribute ${a} value not quoted`)
        const end = src.indexOf(q, i + 1)
        if (end < 0) fail(`attribute ${a} value not terminated`)
        if (Object.hasOwn(attrs, a)) fail(`duplicate attribute ${a}`)
        attrs[a] = decode(src.slice(i + 1, end), `attribute ${a} of <${n}>`)
        i = end + 1
      }
      const node = { name: n, attrs, children: [] as XmlNode[] }
      if (stack.length === 0 && root) fail('content after the root element')
      if (src.startsWith('/>', i)) {
        i += 2
        if (stack.length === 0) root = node
        else stack[stack.length - 1].children.push(node)
      } else {
        i++
        stack.push(node)
      }
    } else {
      const end = src.indexOf('<', i)
      const raw = src.slice(i, end < 0 ? src.length : end)
      if (stack.length === 0) {
        if (raw.trim() !== '') fail('text outside the root element')
      } else {
        if (raw.includes(']]>')) fail("']]>' in text")
        stack[stack.length - 1].children.push(decode(raw, `text in <${stack[stack.length - 1].name}>`))
      }
      i = end < 0 ? src.length : end
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack[stack.length - 1].name}>`)
  if (!root) return fail('no root element')
  return root
}

/** Every element under (and including) `node`, in document order. */
export const elements = (node: XmlElement): XmlElement[] => {
  const out: XmlElement[] = [node]
  for (const c of node.children) if (typeof c !== 'string') out.push(...elements(c))
  return out
}

/** The elements with this tag name that carry this class. */
export const byClass = (root: XmlElement, tag: string, cls: string): XmlElement[] =>
  elements(root).filter((e) => e.name === tag && (e.attrs.class ?? '').split(/\s+/).includes(cls))

/** The concatenated text inside an element, `<title>` tooltips included. */
export const textOf = (node: XmlElement): string => node.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('')

/** The visible text of an element: its text without the `<title>` tooltips. */
export const visibleText = (node: XmlElement): string => node.children.map((c) => (typeof c === 'string' ? c : c.name === 'title' ? '' : visibleText(c))).join('')
