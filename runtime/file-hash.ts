/**
 * @module file-hash
 * How File and Dir hashes are computed from storage, and the checks the codecs' `validate` hooks run.
 */
import { statSync } from "node:fs"
import { encode as cborEncode } from "cborg"
import type { Dir } from "./dir.js"
import type { File } from "./file.js"
import { STDOUT } from "./file-kinds.js"
import { sha256 } from "./hashing.js"
import { contentDigest } from "./storage/content-hash.js"
import type { StorageStat } from "./storage/storage.js"
import { storageFor } from "./storage/storage-registry.js"

function hashOf(kind: string, ...parts: unknown[]): string {
  return sha256(cborEncode([kind, ...parts]))
}

export function statHash(file: File, info: StorageStat | undefined): string {
  if (info === undefined) return hashOf("file", file.path, null)
  if (file.isRemote) return hashOf("file", file.path, info.etag ?? null, info.size)
  return hashOf("file", file.path, info.size, info.mtimeMs ?? null)
}

export async function currentHash(file: File): Promise<string> {
  if (file.path === STDOUT) return hashOf("file", STDOUT)
  const storage = await storageFor(file.path)
  const info = await storage.stat(file.path)
  if (info === undefined || file.isRemote || !file.contentHash) return statHash(file, info)
  return contentDigest(file.path, info)
}

/** The hash of an unprepared local File, synchronously (a stat); undefined when that cannot be. */
export function hashNow(file: File): string | undefined {
  if (file.path === STDOUT) return hashOf("file", STDOUT)
  if (file.isRemote || file.contentHash) return undefined
  try {
    const info = statSync(file.path)
    return statHash(file, { size: info.size, mtimeMs: info.mtimeMs })
  } catch {
    return statHash(file, undefined)
  }
}

export async function dirHash(dir: Dir): Promise<string> {
  const storage = await storageFor(dir.path)
  const prefix = `${dir.path}/`
  const entries: unknown[] = []
  for await (const entry of storage.list(prefix)) {
    const relative = entry.uri.slice(prefix.length)
    entries.push(dir.isRemote ? [relative, entry.etag ?? null, entry.size] : [relative, entry.size, entry.mtimeMs ?? null])
  }
  return hashOf("dir", dir.path, entries)
}

/** Checks in flight by file and recorded hash: a file in many cached values is checked once at a time. */
const validating = new Map<string, Promise<boolean>>()

/** Runs `check`, or joins the same check already in flight; nothing is kept once it settles. */
export function validateOnce(key: string, check: () => Promise<boolean>): Promise<boolean> {
  let pending = validating.get(key)
  if (pending === undefined) {
    pending = check().finally(() => validating.delete(key))
    validating.set(key, pending)
  }
  return pending
}

export async function stillValid(recorded: string | undefined, current: () => Promise<string>): Promise<boolean> {
  if (recorded === undefined) return false
  try {
    return (await current()) === recorded
  } catch {
    // Cannot confirm the file (permission, network): run the call again rather than trust it.
    return false
  }
}
