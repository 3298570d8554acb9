/**
 * @module insert-mapped
 * Inserts text into generated code and keeps its source map true: every mapping at or after an
 * insertion on the same generated line moves right by the inserted length. Enough for appending
 * tsx's dynamic-import interop to esbuild's output without a source-map library.
 */

/** A source map in the v3 format, as esbuild writes it. */
export interface SourceMapV3 {
  readonly version: 3
  readonly mappings: string
  readonly [key: string]: unknown
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const DIGIT = new Map([...BASE64].map((char, value) => [char, value]))

/**
 * `code` with `text` inserted at each offset (any order; offsets into the original), and `map`
 * with its generated columns moved to match.
 */
export function insertMapped(code: string, map: SourceMapV3, offsets: readonly number[], text: string): { code: string; map: SourceMapV3 } {
  if (offsets.length === 0) return { code, map }
  const sorted = [...offsets].sort((a, b) => a - b)
  // Insert columns per generated line.
  const inserts = new Map<number, number[]>()
  let line = 0
  let lineStart = 0
  let next = 0
  for (const offset of sorted) {
    for (; next < offset; next++) {
      if (code.charCodeAt(next) === 10) {
        line++
        lineStart = next + 1
      }
    }
    const columns = inserts.get(line)
    if (columns === undefined) inserts.set(line, [offset - lineStart])
    else columns.push(offset - lineStart)
  }
  let out = ""
  let at = 0
  for (const offset of sorted) {
    out += code.slice(at, offset) + text
    at = offset
  }
  out += code.slice(at)
  const lines = map.mappings.split(";").map((segments, index) => {
    const columns = inserts.get(index)
    return columns === undefined ? segments : shiftLine(segments, columns, text.length)
  })
  return { code: out, map: { ...map, mappings: lines.join(";") } }
}

/** One generated line's segments with each generated column moved past the inserts before it. */
function shiftLine(segments: string, columns: readonly number[], length: number): string {
  if (segments === "") return segments
  let previousOriginal = 0
  let previousShifted = 0
  return segments
    .split(",")
    .map((segment) => {
      const [delta, rest] = readVlq(segment)
      const original = previousOriginal + delta
      const shifted = original + length * columns.filter((column) => column <= original).length
      const encoded = writeVlq(shifted - previousShifted) + rest
      previousOriginal = original
      previousShifted = shifted
      return encoded
    })
    .join(",")
}

/** The first base64 VLQ number of `segment`, and the text after it. */
function readVlq(segment: string): [number, string] {
  let value = 0
  let shift = 0
  let index = 0
  for (;;) {
    const digit = DIGIT.get(segment[index++] as string)
    if (digit === undefined) throw new Error(`malformed source map segment ${JSON.stringify(segment)}`)
    value += (digit & 31) << shift
    shift += 5
    if ((digit & 32) === 0) break
  }
  const magnitude = value >>> 1
  return [value & 1 ? -magnitude : magnitude, segment.slice(index)]
}

function writeVlq(number: number): string {
  let value = number < 0 ? (-number << 1) | 1 : number << 1
  let out = ""
  do {
    let digit = value & 31
    value >>>= 5
    if (value > 0) digit |= 32
    out += BASE64[digit]
  } while (value > 0)
  return out
}
