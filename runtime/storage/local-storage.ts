/**
 * @module local-storage
 * The local file system as a {@link Storage}: URIs are absolute paths (relative ones resolve
 * against the working directory) or `file://` URLs. Writes go to a temporary sibling first and are
 * renamed into place, so readers never see a partial file. Names that are not valid UTF-8 are
 * listed with their odd bytes percent-encoded and read back by those bytes (local-names.ts).
 */
import { randomBytes } from "node:crypto"
import { createReadStream, createWriteStream, constants as fsConstants, type Dirent } from "node:fs"
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises"
import { dirname, resolve, sep } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import { ReductioError } from "../errors.js"
import { fsPathOf, nameFromBytes } from "./local-names.js"
import type { ByteRange, ListOptions, Storage, StorageEntry, StorageStat, TransferOptions } from "./storage.js"

/** The absolute local path of a local URI (`/a/b`, `a/b` or `file:///a/b`). */
export function localPathOf(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : resolve(uri)
}

/** A path as the file system takes it: a string, or the bytes of a name that is not UTF-8. */
export type FsPath = string | Buffer

/**
 * The on-disk path of a local URI for reading: the bytes its escaped names stand for, or its
 * literal spelling when only that exists (see local-names.ts).
 */
export async function readablePath(uri: string): Promise<FsPath> {
  const path = localPathOf(uri)
  const bytes = fsPathOf(path)
  if (typeof bytes === "string") return bytes
  const found = await stat(bytes).then(
    () => true,
    () => false,
  )
  if (found) return bytes
  return (await stat(path).then(
    () => true,
    () => false,
  ))
    ? path
    : bytes
}

/** The on-disk path of a local URI for writing. */
export function writablePath(uri: string): FsPath {
  return fsPathOf(localPathOf(uri))
}

/** `path` with `suffix` appended (a temporary sibling). */
export function withSuffix(path: FsPath, suffix: string): FsPath {
  return typeof path === "string" ? path + suffix : Buffer.concat([path, Buffer.from(suffix)])
}

/** The parent directory of an on-disk path. */
export function parentOf(path: FsPath): FsPath {
  if (typeof path === "string") return dirname(path)
  const slash = path.lastIndexOf(0x2f)
  return slash <= 0 ? Buffer.from("/") : path.subarray(0, slash)
}

/**
 * The local file system.
 *
 * @example
 * const storage = new LocalStorage()
 * await storage.writeBytes("/tmp/out/hello.txt", "hello")
 */
export class LocalStorage implements Storage {
  readonly scheme = "file"

  async stat(uri: string): Promise<StorageStat | undefined> {
    try {
      const info = await stat(await readablePath(uri))
      if (!info.isFile()) return undefined
      return { size: info.size, mtimeMs: info.mtimeMs }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw localError(error, uri, "stat")
    }
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.stat(uri)) !== undefined
  }

  async readBytes(uri: string, range?: ByteRange): Promise<Uint8Array> {
    try {
      const handle = await open(await readablePath(uri), "r")
      try {
        const { size } = await handle.stat()
        const start = Math.min(range?.start ?? 0, size)
        const end = Math.min(range?.end ?? size - 1, size - 1)
        const length = Math.max(0, end - start + 1)
        const buffer = Buffer.allocUnsafe(length)
        let read = 0
        while (read < length) {
          const { bytesRead } = await handle.read(buffer, read, length - read, start + read)
          if (bytesRead === 0) break
          read += bytesRead
        }
        return new Uint8Array(buffer.buffer, buffer.byteOffset, read)
      } finally {
        await handle.close()
      }
    } catch (error) {
      throw localError(error, uri, "read")
    }
  }

  async writeBytes(uri: string, data: Uint8Array | string): Promise<StorageStat> {
    return this.#atomically(uri, "write", (tmp) => writeFile(tmp, data))
  }

  async createReadStream(uri: string, range?: ByteRange): Promise<Readable> {
    // Opening first turns a missing file into FILE_NOT_FOUND here rather than a stream 'error'.
    const handle = await open(await readablePath(uri), "r").catch((error: unknown) => {
      throw localError(error, uri, "read")
    })
    return createReadStream("", {
      fd: handle,
      start: range?.start,
      end: range?.end,
      highWaterMark: STREAM_CHUNK,
    })
  }

  async writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<StorageStat> {
    return this.#atomically(uri, "write", (tmp) => pipeline(toReadable(source), createWriteStream(tmp, { highWaterMark: STREAM_CHUNK })))
  }

  async upload(localPath: string, uri: string, options?: TransferOptions): Promise<StorageStat> {
    return this.copy(localPath, uri, options)
  }

  async download(uri: string, localPath: string, options?: TransferOptions): Promise<StorageStat> {
    return this.copy(uri, localPath, options)
  }

  async *list(prefix: string, _options?: ListOptions): AsyncIterable<StorageEntry> {
    const asUrl = prefix.startsWith("file:")
    const base = localPathOf(prefix) + (prefix.endsWith("/") ? sep : "")
    const root = base.endsWith(sep) ? base : dirname(base)
    const found: Found[] = []
    await walk({ text: root, fs: fsPathOf(root) }, found, prefix)
    const matching = found.filter((path) => path.text.startsWith(base)).sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    for (const path of matching) {
      let info: import("node:fs").Stats
      try {
        info = await stat(path.fs)
      } catch (error) {
        if (isMissing(error)) continue
        throw localError(error, path.text, "list")
      }
      if (!info.isFile()) continue
      yield { uri: asUrl ? pathToFileURL(path.text).href : path.text, size: info.size, mtimeMs: info.mtimeMs }
    }
  }

  async delete(uri: string): Promise<void> {
    try {
      await unlink(await readablePath(uri))
    } catch (error) {
      if (isMissing(error)) return
      throw localError(error, uri, "delete")
    }
  }

  async deleteMany(uris: readonly string[]): Promise<void> {
    for (let i = 0; i < uris.length; i += DELETE_BATCH) await Promise.all(uris.slice(i, i + DELETE_BATCH).map((uri) => this.delete(uri)))
  }

  async copy(fromUri: string, toUri: string, options?: TransferOptions): Promise<StorageStat> {
    const from = await readablePath(fromUri)
    const source = await stat(from).catch((error: unknown) => {
      throw localError(error, fromUri, "copy")
    })
    const written = await this.#atomically(toUri, "copy", async (tmp) => {
      try {
        // A copy-on-write clone where the file system supports it, a plain copy elsewhere.
        await copyFile(from, tmp, fsConstants.COPYFILE_FICLONE)
      } catch (error) {
        throw localError(error, fromUri, "copy")
      }
    })
    if (written.size !== source.size) {
      throw new ReductioError("TRANSFER_CORRUPT", `copying ${fromUri} to ${toUri} wrote ${written.size} bytes of ${source.size}`, {
        details: { uri: toUri, source: fromUri, expected: source.size, actual: written.size },
      })
    }
    options?.onBytes?.(written.size)
    return written
  }

  /** Runs `write` into a temporary sibling of `uri`, renames it into place and stats the result. */
  async #atomically(uri: string, action: string, write: (tmp: FsPath) => Promise<unknown>): Promise<StorageStat> {
    const path = writablePath(uri)
    const tmp = withSuffix(path, `.reductio-${randomBytes(6).toString("hex")}.tmp`)
    try {
      await mkdir(parentOf(path), { recursive: true })
      await write(tmp)
      const info = await stat(tmp)
      await rename(tmp, path)
      return { size: info.size, mtimeMs: info.mtimeMs }
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw localError(error, uri, action)
    }
  }
}

/** Read and write chunk size: large chunks keep hashing and copying near disk speed. */
const STREAM_CHUNK = 1024 * 1024
/** Unlinks in flight at once in {@link LocalStorage.deleteMany}. */
const DELETE_BATCH = 64

function toReadable(source: Readable | AsyncIterable<Uint8Array>): Readable {
  return source instanceof Readable ? source : Readable.from(source)
}

/** A path found by a listing: as reductio spells it, and as the file system takes it. */
interface Found {
  readonly text: string
  readonly fs: FsPath
}

async function walk(dir: Found, out: Found[], uri: string): Promise<void> {
  let entries: Dirent<Buffer>[]
  try {
    // Names as bytes: a name that is not UTF-8 would otherwise come back mangled and unreadable.
    entries = await readdir(dir.fs, { withFileTypes: true, encoding: "buffer" })
  } catch (error) {
    if (isMissing(error)) return
    throw localError(error, uri, "list")
  }
  const separator = dir.text.endsWith(sep) ? "" : sep
  for (const entry of entries) {
    const name = entry.name
    const text = `${dir.text}${separator}${nameFromBytes(name)}`
    const fs: FsPath =
      typeof dir.fs === "string" && name.toString("utf8") === nameFromBytes(name)
        ? `${dir.fs}${separator}${name.toString("utf8")}`
        : Buffer.concat([Buffer.from(dir.fs), Buffer.from(separator), name])
    if (entry.isDirectory()) await walk({ text, fs }, out, uri)
    else out.push({ text, fs })
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === "ENOENT" || code === "ENOTDIR"
}

/** Maps a Node file system error to a ReductioError naming the URI (ReductioErrors pass through). */
export function localError(error: unknown, uri: string, action: string): ReductioError {
  if (error instanceof ReductioError) return error
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const details = { uri, action, ...(code === undefined ? {} : { errno: code }) }
  if (isMissing(error)) return new ReductioError("FILE_NOT_FOUND", `cannot ${action} ${uri}: no such file`, { cause: error, details })
  if (code === "EACCES" || code === "EPERM") {
    return new ReductioError("PERMISSION_DENIED", `cannot ${action} ${uri}: permission denied`, { cause: error, details })
  }
  return new ReductioError("STORAGE_ERROR", `cannot ${action} ${uri}: ${(error as Error).message}`, { cause: error, details })
}
