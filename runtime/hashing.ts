/**
 * @module hashing
 * SHA-256 over the canonical encoding of type-tagged records, so hashes of different kinds never
 * collide and parents include their children's hashes (a Merkle DAG). Hashes are lowercase hex.
 *
 * - task hash = name + (version ?? normalized function source) [+ hashIncludes]
 * - args hash = the encoded, fully reduced arguments (Files contribute their file hash)
 * - eval hash = task hash + args hash: the cache key and the scratch directory name
 * - value hash = the encoded value
 * - call hash = task hash + args hash + value hash + child call hashes: the provenance node
 */
import * as crypto from "node:crypto"
import { encode as cborEncode } from "cborg"
import { encode } from "./codec.js"

/** SHA-256 of bytes, as lowercase hex. */
export function sha256(bytes: Uint8Array | string): string {
  return oneShot === undefined ? crypto.createHash("sha256").update(bytes).digest("hex") : oneShot("sha256", bytes, "hex")
}

// crypto.hash (Node >= 20.12) avoids allocating a Hash object per call: most hashing here is of
// small records, where that allocation dominates.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: "hex") => string }).hash

/** A part of a hashed record: text, bytes, null, or a list of texts. */
type RecordPart = string | Uint8Array | null | readonly string[]

/**
 * Hash of a record under a kind tag: sha256 of the canonical CBOR of `[kind, ...parts]`. Records
 * hold only text, bytes, null and lists of text, so their CBOR is written here directly: hashing
 * runs several times per call, and going through the general encoder would dominate it.
 */
function hashRecord(kind: string, parts: readonly RecordPart[]): string {
  const writer = new RecordWriter()
  writer.header(4, parts.length + 1)
  writer.text(kind)
  for (const part of parts) writer.part(part)
  return sha256(writer.bytes())
}

/**
 * Writes the subset of canonical CBOR that hash records use into one shared buffer: hashing is
 * synchronous, so a single buffer serves every record without allocating.
 */
class RecordWriter {
  static #shared = Buffer.allocUnsafe(64 * 1024)
  #buffer = RecordWriter.#shared
  #length = 0

  part(part: RecordPart): void {
    if (part === null) this.#byte(0xf6)
    else if (typeof part === "string") this.text(part)
    else if (part instanceof Uint8Array) {
      this.header(2, part.length)
      this.#reserve(part.length)
      this.#buffer.set(part, this.#length)
      this.#length += part.length
    } else {
      this.header(4, part.length)
      for (const item of part) this.text(item)
    }
  }

  text(value: string): void {
    const length = Buffer.byteLength(value)
    this.header(3, length)
    this.#reserve(length)
    this.#length += this.#buffer.write(value, this.#length)
  }

  /** A major type with its argument, in the shortest form (as canonical CBOR requires). */
  header(major: number, value: number): void {
    const type = major << 5
    this.#reserve(5)
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
    } else throw new RangeError("hash record part too large")
  }

  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length)
  }

  #byte(value: number): void {
    this.#reserve(1)
    this.#buffer[this.#length++] = value
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + extra))
    this.#buffer.copy(grown, 0, 0, this.#length)
    this.#buffer = grown
    RecordWriter.#shared = grown
  }
}

/** The canonical CBOR of a hash record, through the general encoder (tests compare both). */
export function recordBytesForTest(kind: string, parts: readonly RecordPart[]): { direct: Uint8Array; general: Uint8Array } {
  const writer = new RecordWriter()
  writer.header(4, parts.length + 1)
  writer.text(kind)
  for (const part of parts) writer.part(part)
  return { direct: Uint8Array.from(writer.bytes()), general: cborEncode([kind, ...parts]) }
}

/** Normalizes function source so formatting-only edits keep the task hash. */
export function normalizeSource(source: string): string {
  return source.replace(/\s+/g, " ").trim()
}

/** The task hash: identity plus code (or the pinned version). */
export function taskHash(name: string, versionOrSource: { version: string } | { source: string }, includes?: Uint8Array): string {
  const code: RecordPart[] =
    "version" in versionOrSource ? ["version", versionOrSource.version] : ["source", normalizeSource(versionOrSource.source)]
  return hashRecord("task", [name, ...code, includes ?? null])
}

/** The args hash of already-encoded arguments. */
export function argsHashOf(encodedArgs: Uint8Array): string {
  return hashRecord("args", [encodedArgs])
}

/** The eval hash: the cache key of one call. */
export function evalHashOf(taskHash: string, argsHash: string): string {
  return hashRecord("eval", [taskHash, argsHash])
}

/** The value hash of already-encoded bytes. */
export function valueHashOf(encodedValue: Uint8Array): string {
  return hashRecord("value", [encodedValue])
}

/** The call hash: a provenance node, including its children's call hashes. */
export function callHashOf(taskHash: string, argsHash: string, valueHash: string, childCallHashes: readonly string[]): string {
  return hashRecord("call", [taskHash, argsHash, valueHash, childCallHashes])
}

/** Encodes a value and returns the bytes with its value hash. */
export function encodeAndHash(value: unknown, path = "value"): { bytes: Uint8Array; hash: string } {
  const bytes = encode(value, path)
  return { bytes, hash: valueHashOf(bytes) }
}
