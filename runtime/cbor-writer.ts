/**
 * @module cbor-writer
 * Writes canonical CBOR bytes directly: shortest-form heads, integers as integers, every other
 * number as a 64-bit float. The codec and the hash records build on it; encoding a value is then
 * one pass with no intermediate token lists, which matters when a result holds 100,000 calls.
 * Decoding is wire-reader.ts.
 */
import { ReductioError } from "./errors.js"

/**
 * The largest encoding written, in bytes: what SQLite (SQLITE_MAX_LENGTH) and Postgres (bytea)
 * store in one value, so a value too large is refused where it is made, naming it, instead of
 * failing the database write that carries it.
 */
export const MAX_ENCODED_BYTES = 1_000_000_000

/** CBOR major types. */
export const MAJOR = { unsigned: 0, negative: 1, bytes: 2, text: 3, array: 4, map: 5, tag: 6 } as const

const SIMPLE = { false: 0xf4, true: 0xf5, null: 0xf6, undefined: 0xf7, float64: 0xfb } as const

let shared: Buffer | undefined

/** Text up to this many characters is tried as ASCII first (see CborWriter.text). */
const SHORT_TEXT = 128

/** A growable byte buffer with CBOR writers. */
export class CborWriter {
  #buffer: Buffer
  #length = 0
  readonly #ownsShared: boolean

  /**
   * @param useShared write into one module-wide scratch buffer (the result is copied out by
   * {@link take}); a writer that may run while another is open must not use it.
   */
  constructor(useShared = false) {
    if (useShared && shared !== undefined) {
      this.#buffer = shared
      shared = undefined
      this.#ownsShared = true
    } else {
      this.#buffer = Buffer.allocUnsafe(256)
      this.#ownsShared = useShared
    }
  }

  get length(): number {
    return this.#length
  }

  /** The bytes written so far, copied out; returns a shared buffer to the pool. */
  take(): Uint8Array {
    const out = new Uint8Array(this.#length)
    // Most encodings are a few bytes (the arguments of one call): a loop beats making a view.
    if (this.#length <= 64) for (let i = 0; i < this.#length; i++) out[i] = this.#buffer[i] as number
    else out.set(this.#buffer.subarray(0, this.#length))
    if (this.#ownsShared) shared = this.#buffer
    return out
  }

  /** Ends the writer without copying its bytes out (after {@link view}). */
  release(): void {
    if (this.#ownsShared) shared = this.#buffer
  }

  /** The bytes written so far, without copying (valid until the next write). */
  view(): Uint8Array {
    return this.#buffer.subarray(0, this.#length)
  }

  /** A major type with its argument in the shortest form, as canonical CBOR requires. */
  head(major: number, value: number): void {
    const type = major << 5
    this.#reserve(9)
    const b = this.#buffer
    if (value < 24) b[this.#length++] = type | value
    else if (value < 0x100) {
      b[this.#length++] = type | 24
      b[this.#length++] = value
    } else if (value < 0x10000) {
      b[this.#length++] = type | 25
      b.writeUInt16BE(value, this.#length)
      this.#length += 2
    } else if (value < 0x100000000) {
      b[this.#length++] = type | 26
      b.writeUInt32BE(value, this.#length)
      this.#length += 4
    } else {
      b[this.#length++] = type | 27
      b.writeUInt32BE(Math.floor(value / 0x100000000), this.#length)
      b.writeUInt32BE(value >>> 0, this.#length + 4)
      this.#length += 8
    }
  }

  /** A number: safe integers as CBOR integers, anything else (fractions, NaN, ±Infinity, -0) as float64. */
  number(value: number): void {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
      if (value >= 0) this.head(MAJOR.unsigned, value)
      else this.head(MAJOR.negative, -1 - value)
      return
    }
    this.#reserve(9)
    this.#buffer[this.#length++] = SIMPLE.float64
    this.#buffer.writeDoubleBE(value, this.#length)
    this.#length += 8
  }

  text(value: string): void {
    // Short ASCII text (hex hashes, record kinds, most keys) is copied in JavaScript: cheaper
    // than two calls into C++ to measure and write it.
    if (value.length <= SHORT_TEXT && this.#ascii(value)) return
    const length = Buffer.byteLength(value)
    this.head(MAJOR.text, length)
    this.#reserve(length)
    this.#length += this.#buffer.write(value, this.#length)
  }

  bytes(value: Uint8Array): void {
    this.head(MAJOR.bytes, value.length)
    this.raw(value)
  }

  /** Bytes that are already CBOR. */
  raw(value: Uint8Array): void {
    this.#reserve(value.length)
    this.#buffer.set(value, this.#length)
    this.#length += value.length
  }

  boolean(value: boolean): void {
    this.#byte(value ? SIMPLE.true : SIMPLE.false)
  }

  null(): void {
    this.#byte(SIMPLE.null)
  }

  undefined(): void {
    this.#byte(SIMPLE.undefined)
  }

  /** Writes `value` as CBOR text when every character is ASCII; false (nothing written) otherwise. */
  #ascii(value: string): boolean {
    const length = value.length
    const start = this.#length
    this.head(MAJOR.text, length)
    this.#reserve(length)
    const b = this.#buffer
    let at = this.#length
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i)
      if (code >= 0x80) {
        this.#length = start
        return false
      }
      b[at++] = code
    }
    this.#length = at
    return true
  }

  #byte(value: number): void {
    this.#reserve(1)
    this.#buffer[this.#length++] = value
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return
    const needed = this.#length + extra
    if (needed > MAX_ENCODED_BYTES) {
      throw new ReductioError(
        "UNENCODABLE_VALUE",
        `cannot encode a value of more than ${MAX_ENCODED_BYTES} bytes (the largest one the database stores); write large data to a File and return the File`,
        { details: { byteLimit: MAX_ENCODED_BYTES } },
      )
    }
    const grown = Buffer.allocUnsafe(Math.min(Math.max(this.#buffer.length * 2, needed), MAX_ENCODED_BYTES))
    this.#buffer.copy(grown, 0, 0, this.#length)
    this.#buffer = grown
  }
}
