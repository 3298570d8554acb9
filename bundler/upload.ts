/**
 * @module upload
 * Puts a code bundle at `<scratch>/code/<sha256>.tar.gz`, only when it is not there yet. Local
 * scratch directories are written directly (temp file + rename, so readers never see a partial
 * bundle); `s3://` scratch goes through the project's Storage (`storageFor`).
 */
import { randomBytes } from "node:crypto"
import { mkdir, rename, stat, writeFile } from "node:fs/promises"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { scratch } from "../runtime/protocol.js"
import { storageFor } from "../runtime/storage/storage-registry.js"

/** The result of {@link uploadBundle}. */
export interface UploadResult {
  /** Where the bundle is: a local absolute path or an `s3://` URI. */
  readonly uri: string
  /** False when the bundle was already there. */
  readonly uploaded: boolean
}

/**
 * Uploads bundle bytes named by their sha256 under `scratchRoot` unless already present.
 *
 * @example
 * const { uri, uploaded } = await uploadBundle(".reductio/scratch", sha256, bytes)
 */
export async function uploadBundle(scratchRoot: string, sha256: string, bytes: Uint8Array): Promise<UploadResult> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(scratchRoot) && !scratchRoot.startsWith("file://")) {
    const uri = scratch.code(scratchRoot, sha256)
    const storage = await storageFor(uri)
    if (await storage.exists(uri)) return { uri, uploaded: false }
    await storage.writeBytes(uri, bytes)
    return { uri, uploaded: true }
  }
  const root = scratchRoot.startsWith("file://") ? fileURLToPath(scratchRoot) : resolve(scratchRoot)
  const path = scratch.code(root, sha256)
  const existing = await stat(path).catch(() => undefined)
  if (existing !== undefined && existing.size === bytes.length) return { uri: path, uploaded: false }
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`
  await writeFile(temp, bytes)
  await rename(temp, path)
  return { uri: path, uploaded: true }
}
