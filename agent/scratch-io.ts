/**
 * @module scratch-io
 * The agent's only access to the scratch store: read a whole object, write one atomically. Local
 * paths (and `file://` URIs) are served here; other schemes are where the project's Storage
 * (`s3://`) plugs in, through a dynamic import so the agent loads an SDK only when it needs one.
 */
import { randomBytes } from "node:crypto"
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { ReductioError } from "../runtime/errors.js"

/** Whole-object reads and atomic writes on a scratch store. */
export interface ScratchIo {
  /** The object's bytes, or undefined when it does not exist. */
  read(uri: string): Promise<Uint8Array | undefined>
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
  throw new ReductioError("STORAGE_ERROR", `this agent build cannot reach ${scheme}:// scratch (${uri})`, { details: { uri } })
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
