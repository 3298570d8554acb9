/**
 * @module scratch-io
 * The agent's only access to the scratch store: read a whole object, write one atomically. Local
 * paths (and `file://` URIs) are served here; `s3://` goes through the project's Storage, whose S3
 * adapter is a dynamic import, so the agent evaluates the SDK only when a job needs it.
 */
import { randomBytes } from "node:crypto"
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { ReductioError, isReductioError } from "../runtime/errors.js"
import { storageFor } from "../runtime/storage/storage-registry.js"
import type { Storage } from "../runtime/storage/storage.js"

/** Whole-object reads and atomic writes on a scratch store. */
export interface ScratchIo {
  /** The object's bytes, or undefined when it does not exist. */
  read(uri: string): Promise<Uint8Array | undefined>
  /** Bytes `start` to `end` (inclusive, as HTTP Range; fewer at the end of the object), or undefined when it does not exist. */
  readRange(uri: string, start: number, end: number): Promise<Uint8Array | undefined>
  /** The object's size in bytes, or undefined when it does not exist. */
  size(uri: string): Promise<number | undefined>
  /** Writes the object so readers see either the old bytes or all the new ones. */
  write(uri: string, bytes: Uint8Array | string): Promise<void>
  /** Removes the object if present. */
  remove(uri: string): Promise<void>
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

/** The scratch IO for a URI (or local path). */
export async function scratchIoFor(uri: string): Promise<ScratchIo> {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase()
  if (scheme === undefined || scheme === "file") return localScratchIo
  return storageScratchIo(await storageFor(uri))
}

/** Scratch IO over the project's Storage (S3): the SDK loads only when a job needs it. */
function storageScratchIo(storage: Storage): ScratchIo {
  return {
    async read(uri) {
      try {
        return await storage.readBytes(uri)
      } catch (error) {
        if (isReductioError(error, "FILE_NOT_FOUND")) return undefined
        throw error
      }
    },
    async readRange(uri, start, end) {
      try {
        return await storage.readBytes(uri, { start, end })
      } catch (error) {
        if (isReductioError(error, "FILE_NOT_FOUND")) return undefined
        throw error
      }
    },
    size: async (uri) => (await storage.stat(uri))?.size,
    write: async (uri, bytes) => {
      await storage.writeBytes(uri, bytes)
    },
    remove: (uri) => storage.delete(uri),
  }
}

function localPath(uri: string): string {
  return uri.startsWith("file://") ? fileURLToPath(uri) : uri
}

/** Local files: reads return undefined for missing files; writes go to a temp file then rename. */
export const localScratchIo: ScratchIo = {
  async read(uri) {
    try {
      return await readFile(localPath(uri))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw storageError(uri, error)
    }
  },
  async readRange(uri, start, end) {
    let file: Awaited<ReturnType<typeof open>> | undefined
    try {
      file = await open(localPath(uri), "r")
      const buffer = new Uint8Array(end - start + 1)
      const { bytesRead } = await file.read(buffer, 0, buffer.length, start)
      return buffer.subarray(0, bytesRead)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw storageError(uri, error)
    } finally {
      await file?.close()
    }
  },
  async size(uri) {
    try {
      return (await stat(localPath(uri))).size
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw storageError(uri, error)
    }
  },
  async write(uri, bytes) {
    const path = localPath(uri)
    const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`
    try {
      await mkdir(dirname(path), { recursive: true })
      await writeFile(temp, bytes)
      await rename(temp, path)
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw storageError(uri, error)
    }
  },
  async remove(uri) {
    await unlink(localPath(uri)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw storageError(uri, error)
    })
  },
}

function storageError(uri: string, error: unknown): ReductioError {
  const code = (error as NodeJS.ErrnoException).code
  return new ReductioError(
    code === "EACCES" || code === "EPERM" ? "PERMISSION_DENIED" : "STORAGE_ERROR",
    `${uri}: ${(error as Error).message}`,
    {
      cause: error,
      details: { uri },
    },
  )
}
