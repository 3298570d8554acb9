/**
 * @module etag-cache
 * What sync computed of local files (their MD5, their multipart ETags by part size), kept between
 * syncs so an unchanged file is not read again: one small JSON file per local directory synced,
 * under `$REDUCTIO_CACHE_DIR` (default `$XDG_CACHE_HOME/reductio`, else `~/.cache/reductio`), in
 * `etags/<sha256 of the directory>.json`. An entry holds for the path while its size and mtime are
 * those it was computed for. A file there is only a cache: an unreadable, oversized or malformed
 * one is ignored (and replaced), and one that cannot be written is skipped.
 *
 * Why a file and not the reductio database: `reductio sync` and `Dir.syncTo` run anywhere (a
 * laptop without a project, a Batch container), and the kernel never loads a database driver.
 */
import { createHash, randomBytes } from "node:crypto"
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import type { LocalEtags } from "./etag.js"

/** What a cache knows of a file: possibly its MD5, possibly multipart ETags by part size. */
export interface KnownEtags {
  readonly md5: string | undefined
  readonly multipart: ReadonlyMap<number, string>
}

/** One file's computed ETags, valid for that size and mtime. */
interface CacheEntry {
  readonly size: number
  readonly mtimeMs: number
  md5?: string
  parts: Record<string, string>
}

const VERSION = 1
/** A cache file larger than this is not read (a directory of a million files is about 150 MB less). */
const MAX_CACHE_BYTES = 256 * 1024 * 1024
const MD5 = /^[0-9a-f]{32}$/
const MULTIPART = /^[0-9a-f]{32}-\d{1,5}$/

/** The directory reductio keeps caches in. */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env["REDUCTIO_CACHE_DIR"]) return env["REDUCTIO_CACHE_DIR"]
  return join(env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "reductio")
}

/**
 * The ETags computed for the files of one local directory.
 *
 * @example
 * const cache = await EtagCache.open("/data/run7")
 * cache.get("reads.fastq", { size, mtimeMs })
 * await cache.save()
 */
export class EtagCache {
  readonly #file: string | undefined
  readonly #root: string
  readonly #entries: Map<string, CacheEntry>
  #changed = false

  private constructor(file: string | undefined, root: string, entries: Map<string, CacheEntry>) {
    this.#file = file
    this.#root = root
    this.#entries = entries
  }

  /** Opens the cache of `root` (an absolute local directory); `directory` overrides where caches live. */
  static async open(root: string, directory: string | undefined = cacheDirectory()): Promise<EtagCache> {
    if (directory === undefined || directory === "") return new EtagCache(undefined, root, new Map())
    const file = join(directory, "etags", `${createHash("sha256").update(root).digest("hex").slice(0, 32)}.json`)
    return new EtagCache(file, root, await readEntries(file, root))
  }

  /** What is known of `path` (relative to the root) at this size and mtime. */
  get(path: string, current: { readonly size: number; readonly mtimeMs?: number | undefined }): KnownEtags | undefined {
    const entry = this.#entries.get(path)
    if (entry === undefined || entry.size !== current.size || entry.mtimeMs !== current.mtimeMs) return undefined
    const multipart = new Map(Object.entries(entry.parts).map(([size, etag]) => [Number(size), etag]))
    return { md5: entry.md5, multipart }
  }

  /** Records ETags of `path` at this size and mtime (merged with what is known at the same stat). */
  set(path: string, current: { readonly size: number; readonly mtimeMs?: number | undefined }, etags: Partial<LocalEtags>): void {
    if (current.mtimeMs === undefined) return
    const previous = this.#entries.get(path)
    const same = previous !== undefined && previous.size === current.size && previous.mtimeMs === current.mtimeMs
    const entry: CacheEntry = same ? previous : { size: current.size, mtimeMs: current.mtimeMs, parts: {} }
    if (etags.md5 !== undefined && MD5.test(etags.md5)) entry.md5 = etags.md5
    for (const [size, etag] of etags.multipart ?? []) if (MULTIPART.test(etag)) entry.parts[String(size)] = etag
    this.#entries.set(path, entry)
    this.#changed = true
  }

  /** Records a single ETag as S3 gave it (`<md5>` or `<md5>-N` with its part size). */
  setEtag(path: string, current: { readonly size: number; readonly mtimeMs?: number | undefined }, etag: string, partSize: number): void {
    if (MD5.test(etag)) this.set(path, current, { md5: etag })
    else if (MULTIPART.test(etag)) this.set(path, current, { multipart: new Map([[partSize, etag]]) })
  }

  /** Keeps only the entries of `paths` (the files that exist now). */
  retain(paths: ReadonlySet<string>): void {
    for (const path of this.#entries.keys()) {
      if (!paths.has(path)) {
        this.#entries.delete(path)
        this.#changed = true
      }
    }
  }

  /** Writes the cache atomically (mode 0600), if anything changed; failures are ignored. */
  async save(): Promise<void> {
    if (this.#file === undefined || !this.#changed) return
    const file = this.#file
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`
    try {
      await mkdir(join(file, ".."), { recursive: true, mode: 0o700 })
      const entries = Object.fromEntries(this.#entries)
      await writeFile(tmp, JSON.stringify({ version: VERSION, root: this.#root, entries }), { mode: 0o600 })
      await chmod(tmp, 0o600)
      await rename(tmp, file)
      this.#changed = false
    } catch {
      // Only a cache: the next sync computes again.
      await rm(tmp, { force: true }).catch(() => undefined)
    }
  }
}

/** The valid entries of a cache file; anything unreadable or malformed reads as empty. */
async function readEntries(file: string, root: string): Promise<Map<string, CacheEntry>> {
  const entries = new Map<string, CacheEntry>()
  try {
    const info = await stat(file)
    if (!info.isFile() || info.size > MAX_CACHE_BYTES) return entries
    const parsed = JSON.parse(await readFile(file, "utf8")) as unknown
    if (!isRecord(parsed) || parsed["version"] !== VERSION || parsed["root"] !== root || !isRecord(parsed["entries"])) return entries
    for (const [path, raw] of Object.entries(parsed["entries"])) {
      const entry = validEntry(raw)
      if (entry !== undefined) entries.set(path, entry)
    }
  } catch {
    // Missing or unreadable: start empty.
  }
  return entries
}

function validEntry(raw: unknown): CacheEntry | undefined {
  if (!isRecord(raw)) return undefined
  const { size, mtimeMs, md5, parts } = raw
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return undefined
  if (typeof mtimeMs !== "number" || !Number.isFinite(mtimeMs)) return undefined
  const entry: CacheEntry = { size, mtimeMs, parts: {} }
  if (typeof md5 === "string" && MD5.test(md5)) entry.md5 = md5
  if (isRecord(parts)) {
    for (const [partSize, etag] of Object.entries(parts)) {
      if (/^\d{1,12}$/.test(partSize) && typeof etag === "string" && MULTIPART.test(etag)) entry.parts[partSize] = etag
    }
  }
  return entry
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}
