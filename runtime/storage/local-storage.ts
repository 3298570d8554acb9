/**
 * @module local-storage
 * The local file system as a {@link Storage}: URIs are absolute paths (relative ones resolve
 * against the working directory) or `file://` URLs. Writes go to a temporary sibling first and are
 * renamed into place, so readers never see a partial file.
 */
import { randomBytes } from "node:crypto"
import { createReadStream, createWriteStream, constants as fsConstants } from "node:fs"
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises"
import { dirname, join, resolve, sep } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import { ReductioError } from "../errors.js"
import type { ByteRange, ListOptions, Storage, StorageEntry, StorageStat } from "./storage.js"

/** The absolute local path of a local URI (`/a/b`, `a/b` or `file:///a/b`). */
export function localPathOf(uri: string): string {
  return uri.startsWith("file:") ? fileURLToPath(uri) : resolve(uri)
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
    const path = localPathOf(uri)
    try {
      const info = await stat(path)
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
    const path = localPathOf(uri)
    try {
      const handle = await open(path, "r")
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

  async writeBytes(uri: string, data: Uint8Array | string): Promise<void> {
    await this.#atomically(uri, "write", (tmp) => writeFile(tmp, data))
  }

  async createReadStream(uri: string, range?: ByteRange): Promise<Readable> {
    const path = localPathOf(uri)
    // Opening first turns a missing file into FILE_NOT_FOUND here rather than a stream 'error'.
    const handle = await open(path, "r").catch((error: unknown) => {
      throw localError(error, uri, "read")
    })
    return createReadStream("", {
      fd: handle,
      start: range?.start,
      end: range?.end,
      highWaterMark: STREAM_CHUNK,
    })
  }

  async writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    await this.#atomically(uri, "write", (tmp) => pipeline(toReadable(source), createWriteStream(tmp, { highWaterMark: STREAM_CHUNK })))
  }

  async upload(localPath: string, uri: string): Promise<void> {
    await this.copy(localPath, uri)
  }

  async download(uri: string, localPath: string): Promise<void> {
    await this.copy(uri, localPath)
  }

  async *list(prefix: string, _options?: ListOptions): AsyncIterable<StorageEntry> {
    const asUrl = prefix.startsWith("file:")
    const base = localPathOf(prefix) + (prefix.endsWith("/") ? sep : "")
    const root = base.endsWith(sep) ? base : dirname(base)
    const paths: string[] = []
    await walk(root, paths, prefix)
    const matching = paths.filter((path) => path.startsWith(base)).sort()
    for (const path of matching) {
      const info = await this.stat(path)
      if (info === undefined) continue
      yield { uri: asUrl ? pathToFileURL(path).href : path, ...info }
    }
  }

  async delete(uri: string): Promise<void> {
    try {
      await unlink(localPathOf(uri))
    } catch (error) {
      if (isMissing(error)) return
      throw localError(error, uri, "delete")
    }
  }

  async copy(fromUri: string, toUri: string): Promise<void> {
    const from = localPathOf(fromUri)
    await this.#atomically(toUri, "copy", async (tmp) => {
      try {
        // A copy-on-write clone where the file system supports it, a plain copy elsewhere.
        await copyFile(from, tmp, fsConstants.COPYFILE_FICLONE)
      } catch (error) {
        throw localError(error, fromUri, "copy")
      }
    })
  }

  /** Runs `write` into a temporary sibling of `uri`, then renames it into place. */
  async #atomically(uri: string, action: string, write: (tmp: string) => Promise<unknown>): Promise<void> {
    const path = localPathOf(uri)
    const tmp = `${path}.reductio-${randomBytes(6).toString("hex")}.tmp`
    try {
      await mkdir(dirname(path), { recursive: true })
      await write(tmp)
      await rename(tmp, path)
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw localError(error, uri, action)
    }
  }
}

/** Read and write chunk size: large chunks keep hashing and copying near disk speed. */
const STREAM_CHUNK = 1024 * 1024

function toReadable(source: Readable | AsyncIterable<Uint8Array>): Readable {
  return source instanceof Readable ? source : Readable.from(source)
}

async function walk(dir: string, out: string[], uri: string): Promise<void> {
  let entries: import("node:fs").Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    if (isMissing(error)) return
    throw localError(error, uri, "list")
  }
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) await walk(path, out, uri)
    else out.push(path)
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
