/**
 * @module local-names
 * Local file names are bytes; reductio's paths are strings. A name that is valid UTF-8 is its own
 * string. A name that is not (or one that would read as an escape, below) is written with each
 * invalid byte and each `%` percent-encoded (`caf%E9.txt` for the Latin-1 bytes of `café.txt`).
 * The mapping is lossless and reversible: a path component is read back as bytes exactly when it
 * is the canonical escape of a name that needs one. The one cost: a literal name that is itself
 * such an escape (a file really called `caf%E9.txt`) is listed as `caf%25E9.txt`; when a path names
 * bytes that do not exist but its literal spelling does, reads fall back to the literal file.
 */
import { isUtf8 } from "node:buffer"

const PERCENT = 0x25
const SLASH = 0x2f
const HEX = "0123456789ABCDEF"
const ESCAPE = /%[0-9A-Fa-f]{2}/

/**
 * The string for a directory entry's name.
 *
 * @example
 * nameFromBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9])) // "caf%E9"
 */
export function nameFromBytes(name: Uint8Array): string {
  return needsEscape(name) ? escapeBytes(name) : Buffer.from(name).toString("utf8")
}

/** True when any component of `path` stands for bytes that are not its UTF-8 spelling. */
export function hasEscapedName(path: string): boolean {
  if (!path.includes("%")) return false
  return path.split("/").some(isCanonicalEscape)
}

/**
 * What a path is on disk: the string itself, or a Buffer of the bytes its escaped components
 * stand for.
 *
 * @example
 * fsPathOf("/data/caf%E9.txt") // Buffer of "/data/caf\xe9.txt"
 */
export function fsPathOf(path: string): string | Buffer {
  if (!hasEscapedName(path)) return path
  const parts = path.split("/").map((part) => (isCanonicalEscape(part) ? unescapeText(part) : Buffer.from(part, "utf8")))
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.of(SLASH), part])))
}

/** The bytes a name stands for when written as a path component (what {@link nameFromBytes} inverts). */
export function nameBytes(name: string): Uint8Array {
  return isCanonicalEscape(name) ? unescapeText(name) : Buffer.from(name, "utf8")
}

/** True for a name that is valid UTF-8 and reads as itself. */
export function isPlainName(name: string): boolean {
  return !isCanonicalEscape(name)
}

function needsEscape(bytes: Uint8Array): boolean {
  return !isUtf8(bytes) || isCanonicalEscape(Buffer.from(bytes).toString("utf8"))
}

/** A component that is exactly the escape of some name needing one (terminates: each step drops a `%XX`). */
function isCanonicalEscape(text: string): boolean {
  if (!ESCAPE.test(text)) return false
  const bytes = unescapeText(text)
  return needsEscape(bytes) && escapeBytes(bytes) === text
}

/** Percent-encodes `%` and every byte outside a valid UTF-8 sequence; keeps everything else. */
function escapeBytes(bytes: Uint8Array): string {
  const out: number[] = []
  let i = 0
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i)
    const first = bytes[i] as number
    if (length === 0 || first === PERCENT) {
      out.push(PERCENT, HEX.charCodeAt(first >> 4), HEX.charCodeAt(first & 15))
      i++
      continue
    }
    for (let k = 0; k < length; k++) out.push(bytes[i + k] as number)
    i += length
  }
  return Buffer.from(out).toString("utf8")
}

function unescapeText(text: string): Buffer {
  const out: Buffer[] = []
  let last = 0
  for (const match of text.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    out.push(Buffer.from(text.slice(last, match.index), "utf8"), Buffer.of(Number.parseInt(match[1] as string, 16)))
    last = (match.index as number) + 3
  }
  out.push(Buffer.from(text.slice(last), "utf8"))
  return Buffer.concat(out)
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 (RFC 3629: no overlongs, no surrogates). */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] as number
  if (b0 < 0x80) return 1
  const cont = (k: number, low = 0x80, high = 0xbf) => {
    const b = bytes[i + k]
    return b !== undefined && b >= low && b <= high
  }
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80
    const high = b0 === 0xed ? 0x9f : 0xbf
    return cont(1, low, high) && cont(2) ? 3 : 0
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80
    const high = b0 === 0xf4 ? 0x8f : 0xbf
    return cont(1, low, high) && cont(2) && cont(3) ? 4 : 0
  }
  return 0
}
