/**
 * @module file-hash
 * How File and Dir hashes are computed from storage, and the checks the codecs' `prepare` and
 * `validate` hooks run: fresh from storage outside an execution and for local files; for S3
 * objects inside one, through what the execution already learnt (stat-scope.ts).
 */
import { statSync } from "node:fs"
import { encode as cborEncode } from "cborg"
import type { Dir } from "./dir.js"
import { ReductioError } from "./errors.js"
import type { File } from "./file.js"
import { STDOUT } from "./file-kinds.js"
import { sha256 } from "./hashing.js"
import { activeScope, knownHash, rememberHash, type StatScope, sharedHash } from "./stat-scope.js"
import { contentDigest } from "./storage/content-hash.js"
import { fsPathOf, hasEscapedName } from "./storage/local-names.js"
import { readablePath } from "./storage/local-storage.js"
import type { StorageStat } from "./storage/storage.js"
import { storageFor } from "./storage/storage-registry.js"

function hashOf(kind: string, ...parts: unknown[]): string {
  return sha256(cborEncode([kind, ...parts]))
}

/** The hash of an S3 object at `path` with this stat (undefined: missing). */
export function remoteHash(path: string, info: StorageStat | undefined): string {
  if (info === undefined) return hashOf("file", path, null)
  return hashOf("file", path, info.etag ?? null, info.size)
}

export function statHash(file: File, info: StorageStat | undefined): string {
  if (file.isRemote) return remoteHash(file.path, info)
  if (info === undefined) return hashOf("file", file.path, null)
  return hashOf("file", file.path, info.size, info.mtimeMs ?? null)
}

/** A File's hash from storage now. */
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
    const info = statSync(fsPathOf(file.path))
    return statHash(file, { size: info.size, mtimeMs: info.mtimeMs })
  } catch {
    return statHash(file, undefined)
  }
}

/**
 * A Dir's hash from one listing: every file's relative path (its bytes, for a local name that is
 * not UTF-8) and hash basis. The files' hashes join the execution's scope, so checking a File of
 * a listed Dir costs no request. FILE_NOT_FOUND when the directory does not exist.
 */
export async function dirHash(dir: Dir): Promise<string> {
  const storage = await storageFor(dir.path)
  const prefix = `${dir.path}/`
  const entries: unknown[] = []
  let any = false
  for await (const entry of storage.list(prefix)) {
    any = true
    const relative = entry.uri.slice(prefix.length)
    // An S3 "folder" marker (`prefix/`, as the console and empty staged dirs write) is no file.
    if (relative === "" || relative.endsWith("/")) continue
    if (dir.isRemote) {
      rememberHash(entry.uri, remoteHash(entry.uri, entry))
      entries.push([relative, entry.etag ?? null, entry.size])
    } else {
      const name = hasEscapedName(relative) ? fsPathOf(relative) : relative
      entries.push([name, entry.size, entry.mtimeMs ?? null])
    }
  }
  if (!any && !(await dirExists(dir))) {
    throw new ReductioError("FILE_NOT_FOUND", `directory ${dir.path} does not exist`, { details: { uri: dir.path } })
  }
  return hashOf("dir", dir.path, entries)
}

/** True when a directory exists (S3: when some object, a marker included, has its prefix). */
export async function dirExists(dir: Dir): Promise<boolean> {
  if (!dir.isRemote) {
    const { stat } = await import("node:fs/promises")
    const info = await stat(await readablePath(dir.path)).catch(() => undefined)
    return info?.isDirectory() === true
  }
  const storage = await storageFor(dir.path)
  for await (const _ of storage.list(`${dir.path}/`, { pageSize: 1 })) return true
  return false
}

/** What a codec hook knows of a value's hash: the recorded one and the scope it was learnt in. */
export interface HashState {
  readonly key: string
  readonly hash: string | undefined
  readonly scope: StatScope | undefined
}

/**
 * The hash to encode an S3 File or Dir with. Inside an execution: the recorded hash when this
 * execution learnt it (or learnt the same one for that URI); else storage is asked once and the
 * answer shared. Outside one: storage is asked.
 */
export async function preparedHash(state: HashState, fresh: () => Promise<string>): Promise<string> {
  const scope = activeScope()
  if (scope === undefined) return fresh()
  if (state.hash !== undefined) {
    const known = knownHash(state.key)
    if (known !== undefined) {
      if ((await known.catch(() => undefined)) === state.hash) return state.hash
    } else if (state.scope === scope) {
      rememberHash(state.key, state.hash)
      return state.hash
    }
  }
  const hash = await fresh()
  rememberHash(state.key, hash)
  return hash
}

/** Whether an S3 File or Dir still has its recorded hash, asking storage at most once per execution. */
export async function validatedHash(state: HashState, fresh: () => Promise<string>): Promise<boolean> {
  if (state.hash === undefined) return false
  try {
    return (await sharedHash(state.key, fresh)) === state.hash
  } catch {
    return false
  }
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
