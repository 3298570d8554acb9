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

/** Hash of a record of already-encodable parts under a kind tag. */
function hashRecord(kind: string, parts: unknown[]): string {
  return sha256(cborEncode([kind, ...parts]))
}

/** Normalizes function source so formatting-only edits keep the task hash. */
export function normalizeSource(source: string): string {
  return source.replace(/\s+/g, " ").trim()
}

/** The task hash: identity plus code (or the pinned version). */
export function taskHash(name: string, versionOrSource: { version: string } | { source: string }, includes?: Uint8Array): string {
  const code = "version" in versionOrSource ? ["version", versionOrSource.version] : ["source", normalizeSource(versionOrSource.source)]
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
