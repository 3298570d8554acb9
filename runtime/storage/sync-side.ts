/**
 * @module sync-side
 * One side of a sync (a local directory or an S3 prefix): listing it by relative path, and
 * deciding whether a file on one side has the same bytes as one on the other without reading the
 * remote one: sizes first, then S3's ETag against the local file's MD5 (or its multipart ETag for
 * the part sizes that fit), computed once and kept in the {@link EtagCache}.
 */
import { ReductioError } from "../errors.js"
import { type LocalEtags, localEtags, partSizeCandidates, partsOf } from "./etag.js"
import { EtagCache } from "./etag-cache.js"
import { localError, localPathOf, readablePath } from "./local-storage.js"
import type { Storage, StorageEntry } from "./storage.js"
import { isS3Uri, storageFor } from "./storage-registry.js"

/** A directory being synced. */
export interface SyncSide {
  /** The root: an absolute local path or `s3://bucket/prefix`, without a trailing slash. */
  readonly root: string
  readonly storage: Storage
  readonly local: boolean
  /** ETags computed for local files (local sides only). */
  readonly cache: EtagCache | undefined
}

/** Opens a side; local roots get their ETag cache (`cacheDir` overrides where caches live). */
export async function openSide(location: string, cacheDir?: string): Promise<SyncSide> {
  if (typeof location !== "string" || location === "")
    throw new ReductioError("INVALID_ARGUMENT", `a sync needs a directory or s3:// prefix, got ${JSON.stringify(location)}`)
  const local = !isS3Uri(location)
  const root = trimSlash(local ? localPathOf(location) : location)
  const storage = await storageFor(root)
  return { root, storage, local, cache: local ? await EtagCache.open(root, cacheDir) : undefined }
}

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path
}

/** The URI of `relative` under the side's root. */
export function uriOf(side: SyncSide, relative: string): string {
  return `${side.root}/${relative}`
}

/**
 * Every file under the side, by relative path. S3 keys ending in `/` (folder markers) are left out.
 * With `mustExist`, a missing directory (S3: no object under the prefix) is FILE_NOT_FOUND.
 */
export async function listSide(side: SyncSide, mustExist: boolean): Promise<Map<string, StorageEntry>> {
  const prefix = `${side.root}/`
  const entries = new Map<string, StorageEntry>()
  let any = false
  for await (const entry of side.storage.list(prefix)) {
    any = true
    const relative = entry.uri.slice(prefix.length)
    if (relative === "" || relative.endsWith("/")) continue
    entries.set(relative, entry)
  }
  if (mustExist && !any && !(side.local && (await isLocalDirectory(side.root)))) {
    throw new ReductioError("FILE_NOT_FOUND", `${side.root} does not exist (no directory, or no object under the prefix)`, {
      details: { uri: side.root },
    })
  }
  return entries
}

async function isLocalDirectory(path: string): Promise<boolean> {
  const { stat } = await import("node:fs/promises")
  return stat(await readablePath(path)).then(
    (info) => info.isDirectory(),
    () => false,
  )
}

/** Whether the two entries (same relative path) hold the same bytes, as far as can be told without reading S3. */
export async function sameContent(
  source: SyncSide,
  from: StorageEntry,
  target: SyncSide,
  to: StorageEntry,
  relative: string,
  onHashed?: (bytes: number) => void,
): Promise<boolean> {
  if (from.size !== to.size) return false
  if (!source.local && !target.local) return from.etag !== undefined && from.etag === to.etag
  if (source.local && !target.local) return to.etag !== undefined && localHasEtag(source, relative, from, to.etag, target, onHashed)
  if (!source.local && target.local) return from.etag !== undefined && localHasEtag(target, relative, to, from.etag, source, onHashed)
  const [a, b] = await Promise.all([localMd5(source, relative, from, onHashed), localMd5(target, relative, to, onHashed)])
  return a === b
}

/** Whether the local file at `relative` has the S3 ETag `etag` (its part size guessed from the remote side's). */
async function localHasEtag(
  side: SyncSide,
  relative: string,
  entry: StorageEntry,
  etag: string,
  remote: SyncSide,
  onHashed?: (bytes: number) => void,
): Promise<boolean> {
  const parts = partsOf(etag)
  if (parts === undefined) return (await localMd5(side, relative, entry, onHashed)) === etag
  const preferred = remote.storage.partSize === undefined ? [] : [remote.storage.partSize]
  const candidates = partSizeCandidates(entry.size, parts, preferred)
  const known = side.cache?.get(relative, entry)
  const missing = candidates.filter((size) => known?.multipart.get(size) === undefined)
  if (candidates.some((size) => known?.multipart.get(size) === etag)) return true
  if (missing.length === 0) return false
  const computed = await hashLocal(side, relative, entry, missing, onHashed)
  return missing.some((size) => computed.multipart.get(size) === etag)
}

async function localMd5(side: SyncSide, relative: string, entry: StorageEntry, onHashed?: (bytes: number) => void): Promise<string> {
  const known = side.cache?.get(relative, entry)?.md5
  return known ?? (await hashLocal(side, relative, entry, [], onHashed)).md5
}

async function hashLocal(
  side: SyncSide,
  relative: string,
  entry: StorageEntry,
  partSizes: readonly number[],
  onHashed?: (bytes: number) => void,
): Promise<LocalEtags> {
  const uri = uriOf(side, relative)
  const etags = await localEtags(await readablePath(uri), partSizes, onHashed).catch((error: unknown) => {
    throw localError(error, uri, "hash")
  })
  side.cache?.set(relative, entry, etags)
  return etags
}
