/**
 * @module hashing
 * SHA-256 over the canonical encoding of type-tagged records, so hashes of different kinds never
 * collide and parents include their children's hashes (a Merkle DAG). Hashes are lowercase hex.
 *
 * - task hash = name + (version ?? normalized function source) [+ hashIncludes]
 * - args hash = the encoded, fully reduced arguments (Files contribute their file hash)
 * - eval hash = encoding version + task hash + args hash: the cache key and the scratch directory name
 * - value hash = the encoded value
 * - call hash = task hash + args hash + value hash + child call hashes: the provenance node
 */
import * as crypto from "node:crypto"
import { encode as cborEncode } from "cborg"
import { CborWriter, MAJOR } from "./cbor-writer.js"
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
 * hold only text, bytes, null and lists of text.
 */
function hashRecord(kind: string, parts: readonly RecordPart[]): string {
  const writer = recordBytes(kind, parts)
  const hash = sha256(writer.view())
  writer.release()
  return hash
}

function recordBytes(kind: string, parts: readonly RecordPart[]): CborWriter {
  const writer = new CborWriter(true)
  writer.head(MAJOR.array, parts.length + 1)
  writer.text(kind)
  for (const part of parts) {
    if (part === null) writer.null()
    else if (typeof part === "string") writer.text(part)
    else if (part instanceof Uint8Array) writer.bytes(part)
    else {
      writer.head(MAJOR.array, part.length)
      for (const item of part) writer.text(item)
    }
  }
  return writer
}

/** The canonical CBOR of a hash record, through the general encoder (tests compare both). */
export function recordBytesForTest(kind: string, parts: readonly RecordPart[]): { direct: Uint8Array; general: Uint8Array } {
  return { direct: recordBytes(kind, parts).take(), general: cborEncode([kind, ...parts]) }
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

/**
 * The version of what a cached value means, part of every eval hash. 2: object keys, Map entries
 * and Set members keep their insertion order (before, they were sorted, and a replayed value lost
 * its order): bumping it makes every evaluation recorded under 1 miss once instead of replaying
 * a value in a different order than a fresh run would give.
 *
 * A finished job's row leaves out an eval hash its call node's task and args hashes derive
 * (`evalHashOf` with this version; see the backend's migrations): a new version needs a migration
 * that writes the eval hash of those rows, derived with the version before.
 */
export const CACHE_VERSION = "2"

/**
 * The eval hash: the cache key of one call. A call of a task that reads context adds the hash of
 * the values it reads ({@link contextHashOf}); every other call's is cache version + task hash +
 * args hash.
 */
export function evalHashOf(taskHash: string, argsHash: string, contextHash?: string): string {
  return hashRecord(
    "eval",
    contextHash === undefined ? [CACHE_VERSION, taskHash, argsHash] : [CACHE_VERSION, taskHash, argsHash, contextHash],
  )
}

/** The hash of the context values a call reads (the encoded `{ key: value }` of its declared keys). */
export function contextHashOf(encodedValues: Uint8Array): string {
  return hashRecord("context", [encodedValues])
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
