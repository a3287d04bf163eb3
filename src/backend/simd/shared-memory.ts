/**
 * The kernels module made to import a shared memory: tfjs-wasm's threaded build keeps its
 * heap in a shared `WebAssembly.Memory`, and a module can import that only if it declares its
 * memory import `shared` with a maximum. Rather than carry a second assembly of every .wat,
 * the import's limits are rewritten in the bytes: `(memory 1)` becomes `(memory 1 65536 shared)`.
 * The code is unchanged (the kernels run on the main thread, between tfjs's calls, so they
 * need no atomics).
 */

/** Reads an unsigned LEB128 at `at`: [value, bytes used]. */
const leb = (b: Uint8Array, at: number): [number, number] => {
  let value = 0
  let shift = 0
  let i = at
  for (;;) {
    const byte = b[i++] as number
    value += (byte & 0x7f) * 2 ** shift
    shift += 7
    if ((byte & 0x80) === 0) return [value, i - at]
  }
}

const encodeLeb = (n: number): number[] => {
  const out: number[] = []
  let v = n
  do {
    let byte = v & 0x7f
    v = Math.floor(v / 128)
    if (v !== 0) byte |= 0x80
    out.push(byte)
  } while (v !== 0)
  return out
}

/** Skips a wasm name (length-prefixed bytes) at `at`: the offset after it. */
const skipName = (b: Uint8Array, at: number): number => {
  const [n, used] = leb(b, at)
  return at + used + n
}

/** Skips limits (flags, min, [max]) at `at`. */
const skipLimits = (b: Uint8Array, at: number): number => {
  const flags = b[at] as number
  let i = at + 1
  i += leb(b, i)[1]
  if (flags & 1) i += leb(b, i)[1]
  return i
}

/** The most pages a wasm32 memory can have (4 GiB). */
const MAX_PAGES = 65536

/**
 * The module's bytes with its (only) memory import declared shared, maximum 65,536 pages, or
 * null when the module imports no memory or already imports a shared one.
 */
export const withSharedMemoryImport = (bytes: Uint8Array): Uint8Array<ArrayBuffer> | null => {
  let at = 8 // magic + version
  while (at < bytes.length) {
    const id = bytes[at] as number
    const [size, sizeBytes] = leb(bytes, at + 1)
    const body = at + 1 + sizeBytes
    if (id === 2) {
      const [count, countBytes] = leb(bytes, body)
      let i = body + countBytes
      for (let e = 0; e < count; e++) {
        i = skipName(bytes, skipName(bytes, i))
        const kind = bytes[i++] as number
        if (kind === 0)
          i += leb(bytes, i)[1] // function: type index
        else if (kind === 1)
          i = skipLimits(bytes, i + 1) // table: element type, limits
        else if (kind === 3)
          i += 2 // global: value type, mutability
        else if (kind === 2) {
          const flags = bytes[i] as number
          if (flags & 2) return null
          const end = skipLimits(bytes, i)
          const [min] = leb(bytes, i + 1)
          const limits = [0x03, ...encodeLeb(min), ...encodeLeb(MAX_PAGES)]
          const newBody = [...bytes.subarray(body, i), ...limits, ...bytes.subarray(end, body + size)]
          const out = [...bytes.subarray(0, at), 2, ...encodeLeb(newBody.length), ...newBody, ...bytes.subarray(body + size)]
          return Uint8Array.from(out)
        } else return null
      }
      return null
    }
    at = body + size
  }
  return null
}
