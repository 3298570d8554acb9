/**
 * @module extract
 * Safe, bounded extraction of a code bundle (tar.gz) into an empty directory. Nothing is ever
 * written outside it: each entry is checked against a model of the tree extracted so far
 * (archive-tree.ts: no `..`, no absolute paths, nothing written through a link, links only to files
 * already extracted, no special files) before anything is written for it (UNSAFE_ARCHIVE).
 *
 * The archive is streamed: gunzip's output is pulled chunk by chunk into the tar parser and each
 * file goes to disk as it arrives, so memory stays flat whatever the bundle expands to. Limits
 * ({@link ArchiveLimits}) bound the compressed and uncompressed bytes, the entries and the bytes of
 * one entry (ARCHIVE_TOO_LARGE). A tar that ends before its end-of-archive blocks is truncated
 * (UNSAFE_ARCHIVE).
 */
import { once } from "node:events"
import { link, mkdir, open, symlink } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { createGunzip } from "node:zlib"
import { type Extract, type Header, extract as tarExtract } from "tar-stream"
import { ReductioError } from "../runtime/errors.js"
import { type ArchiveTree, checkHardLink, checkSymlink, claim, claimParents, entryParts, unsafe } from "./archive-tree.js"

/** One entry of the archive: its header and a stream of its data. */
type Source = Extract extends AsyncIterable<infer T> ? T : never

/** Bounds on what one bundle may expand to. */
export interface ArchiveLimits {
  /** Bytes of the bundle, compressed, and of the tar inside it (headers included). */
  readonly maxBytes: number
  /** Entries (files, directories, links). */
  readonly maxEntries: number
  /** Bytes of one file. */
  readonly maxEntryBytes: number
}

const MIB = 1024 * 1024

/** 256 MiB in all, 10,000 entries, 128 MiB a file: far above what the bundler makes (a few MiB). */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({ maxBytes: 256 * MIB, maxEntries: 10_000, maxEntryBytes: 128 * MIB })

/** A tar ends with two zero blocks. */
const END_OF_ARCHIVE_BYTES = 1024

/** Bytes of the tar seen so far, and where the data of the last entry ended. */
interface TarProgress {
  bytes: number
  lastEnd: number
}

/**
 * Extracts `tarGz` into `dir` (which must exist and be empty) and returns the model of what it
 * wrote: every path (relative, `/`-separated) and whether it is a directory, a file or a symlink.
 *
 * @example
 * const tree = await extractSafely(bytes, await mkdtemp(join(tmpdir(), "code-")))
 */
export async function extractSafely(tarGz: Uint8Array, dir: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ArchiveTree> {
  if (tarGz.byteLength > limits.maxBytes) {
    throw tooLarge(`the code bundle is ${tarGz.byteLength} bytes, over the limit of ${limits.maxBytes}`, "maxBytes", limits.maxBytes)
  }
  const root = resolve(dir)
  const tree: ArchiveTree = new Map()
  const progress: TarProgress = { bytes: 0, lastEnd: 0 }
  const entries = tarExtract()
  const stop = new AbortController()
  const feeding = feed(tarGz, entries, limits, progress, stop.signal)
  // Handled here so a failure while an entry is being written is not an unhandled rejection.
  feeding.catch(() => undefined)
  try {
    let count = 0
    for await (const entry of entries) {
      if (++count > limits.maxEntries) {
        throw tooLarge(`the code bundle has more than ${limits.maxEntries} entries`, "maxEntries", limits.maxEntries)
      }
      await applyEntry(root, tree, entry, limits)
      progress.lastEnd = endOf(entry.header)
    }
    await feeding
  } catch (error) {
    stop.abort()
    entries.destroy()
    await feeding.catch(() => undefined)
    throw archiveError(error)
  }
  if (progress.bytes - progress.lastEnd < END_OF_ARCHIVE_BYTES) {
    throw new ReductioError("UNSAFE_ARCHIVE", "the code bundle's tar archive is truncated (it ends before its end-of-archive blocks)")
  }
  return tree
}

/** Pulls gunzip's output into the tar parser, with backpressure, counting and bounding the bytes. */
async function feed(tarGz: Uint8Array, entries: Extract, limits: ArchiveLimits, progress: TarProgress, signal: AbortSignal) {
  // 128 KiB output chunks: fewer, larger writes than zlib's 16 KiB default.
  const gunzip = createGunzip({ chunkSize: 128 * 1024 })
  gunzip.end(tarGz)
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      progress.bytes += chunk.length
      if (progress.bytes > limits.maxBytes) {
        throw tooLarge(`the code bundle expands to more than ${limits.maxBytes} bytes`, "maxBytes", limits.maxBytes)
      }
      if (!entries.write(chunk)) await once(entries, "drain", { signal })
      if (signal.aborted) return
    }
    // streamx's end() takes an optional last chunk; its typings make it required.
    entries.end(undefined)
  } catch (error) {
    gunzip.destroy()
    entries.destroy(error as Error)
    throw error
  }
}

async function applyEntry(root: string, tree: ArchiveTree, entry: Source, limits: ArchiveLimits): Promise<void> {
  const { header } = entry
  const name = header.name
  const parts = entryParts(name)
  claimParents(tree, parts, name)
  const target = join(root, ...parts)
  switch (header.type) {
    case "file":
    case "contiguous-file":
      if ((header.size ?? 0) > limits.maxEntryBytes) {
        throw tooLarge(
          `entry ${JSON.stringify(name)} is ${header.size} bytes, over the limit of ${limits.maxEntryBytes}`,
          "maxEntryBytes",
          limits.maxEntryBytes,
        )
      }
      claim(tree, parts, "file", name)
      await writeEntry(target, entry, header.mode)
      return
    case "directory":
      claim(tree, parts, "dir", name)
      await mkdir(target, { recursive: true, mode: 0o755 })
      break
    case "symlink": {
      const linkname = checkSymlink(tree, parts, header.linkname, name)
      claim(tree, parts, "symlink", name)
      await mkdir(dirname(target), { recursive: true })
      await symlink(linkname, target)
      break
    }
    case "link": {
      const source = checkHardLink(tree, header.linkname, name)
      claim(tree, parts, "file", name)
      await mkdir(dirname(target), { recursive: true })
      await link(join(root, ...source), target)
      break
    }
    default:
      throw unsafe(name, `entries of type ${String(header.type)} are not allowed`)
  }
  entry.resume()
}

async function writeEntry(target: string, content: AsyncIterable<unknown>, mode: number | undefined): Promise<void> {
  await mkdir(dirname(target), { recursive: true })
  // "wx": never follows or overwrites an existing path (the model already refuses both).
  const handle = await open(target, "wx", (mode ?? 0o644) & 0o755)
  try {
    for await (const chunk of content) await handle.write(chunk as Buffer)
  } finally {
    await handle.close()
  }
}

/** Where an entry's data (padded to 512-byte blocks) ends in the tar stream. */
function endOf(header: Header): number {
  const start = (header as Header & { byteOffset?: number }).byteOffset ?? 0
  const size = header.type === "directory" ? 0 : (header.size ?? 0)
  return start + Math.ceil(size / 512) * 512
}

function tooLarge(message: string, limit: keyof ArchiveLimits, value: number): ReductioError {
  return new ReductioError("ARCHIVE_TOO_LARGE", `${message}: raise the agent's limit (agent/README.md) or make the bundle smaller`, {
    details: { limit, value },
  })
}

/** Our own errors as they are; file system errors as STORAGE_ERROR; gzip and tar parse errors as UNSAFE_ARCHIVE. */
function archiveError(error: unknown): ReductioError {
  if (error instanceof ReductioError) return error
  const { code, syscall, message } = error as NodeJS.ErrnoException
  if (syscall !== undefined) return new ReductioError("STORAGE_ERROR", `cannot extract the code bundle: ${message}`, { cause: error })
  const what = typeof code === "string" && code.startsWith("Z_") ? "a valid gzip stream" : "a valid tar archive"
  return new ReductioError("UNSAFE_ARCHIVE", `the code bundle is not ${what}: ${message}`, { cause: error })
}
