/**
 * @module sync
 * Makes a directory (local or S3 prefix) hold what another holds, copying only the files whose
 * size or content differs (`aws s3 sync`, with content compared too): local to S3, S3 to local,
 * S3 to S3 (server-side) and local to local. Files only in the target are deleted only when asked.
 * Comparisons cost no read of S3: a size and an ETag from the listings, against a local file's MD5
 * (or multipart ETag) computed once and cached (etag-cache.ts). Transfers run `concurrency` at a
 * time, each streamed, retried and verified by its Storage.
 */
import { ReductioError } from "../errors.js"
import { globMatcher } from "./glob.js"
import { partsOf } from "./etag.js"
import type { StorageEntry } from "./storage.js"
import { listSide, openSide, type SyncSide, sameContent, uriOf } from "./sync-side.js"
import { mapLimit } from "./transfer-pool.js"

/** Options of {@link syncDirectories}. */
export interface SyncOptions {
  /** Delete files of the target that the source does not have (within the filters). Default false. */
  readonly delete?: boolean
  /**
   * Only paths matching one of these globs (relative to the root; a pattern without `/` matches
   * the file name at any depth). Default: every path.
   */
  readonly include?: readonly string[]
  /** Leave out paths matching one of these globs (applied after `include`; also never deleted). */
  readonly exclude?: readonly string[]
  /** Work out what would be done, and do nothing. */
  readonly dryRun?: boolean
  /** Files transferred (or compared) at once; default 16. */
  readonly concurrency?: number
  /** Called as the sync proceeds (often: throttle a display). */
  readonly onProgress?: (progress: SyncProgress) => void
  /** Where local ETag caches live (default: see etag-cache.ts); "" keeps none. */
  readonly cacheDir?: string
}

/** Where a sync is. */
export interface SyncProgress {
  readonly phase: "listing" | "comparing" | "copying" | "deleting" | "done"
  readonly filesDone: number
  readonly filesTotal: number
  readonly bytesDone: number
  readonly bytesTotal: number
}

/** One thing a sync did (or, in a dry run, would do). */
export interface SyncAction {
  readonly action: "copy" | "delete"
  /** The path relative to the roots. */
  readonly path: string
  readonly size: number
  /** Why a file is copied: the target lacks it, or its size or content differs. */
  readonly reason?: "missing" | "size" | "content"
}

/** What a sync did: files copied, skipped as identical, deleted, and bytes copied. */
export interface SyncResult {
  readonly copied: number
  readonly skipped: number
  readonly deleted: number
  readonly bytes: number
  readonly actions: readonly SyncAction[]
}

const MiB = 1024 * 1024
const DEFAULT_CONCURRENCY = 16
const MAX_CONCURRENCY = 1024

/**
 * Syncs `target` to hold what `source` holds. FILE_NOT_FOUND when the source does not exist (an
 * empty listing is never taken for an empty directory to mirror); INVALID_ARGUMENT when one root
 * lies inside the other.
 *
 * @example
 * const { copied, skipped } = await syncDirectories("results/", "s3://lab/run7/results", { delete: true })
 */
export async function syncDirectories(source: string, target: string, options: SyncOptions = {}): Promise<SyncResult> {
  const concurrency = checkOptions(options)
  const [from, to] = await Promise.all([openSide(source, options.cacheDir), openSide(target, options.cacheDir)])
  refuseOverlap(from, to)
  const selected = selector(options)
  const progress = new ProgressCounter(options.onProgress)
  progress.report("listing")
  const [fromEntries, toEntries] = await Promise.all([listSide(from, true), listSide(to, false)])
  const plan = await planSync(from, fromEntries, to, toEntries, selected, options, concurrency, progress)
  if (options.dryRun !== true) {
    progress.start("copying", plan.copies.length, plan.bytes)
    await mapLimit(plan.copies, concurrency, async (copy) => {
      await transfer(from, to, copy.path, fromEntries.get(copy.path) as StorageEntry, (bytes) => progress.add(0, bytes))
      progress.add(1, 0)
    })
    if (plan.deletions.length > 0) {
      progress.start("deleting", plan.deletions.length, 0)
      await to.storage.deleteMany(plan.deletions.map((deletion) => uriOf(to, deletion.path)))
    }
  }
  from.cache?.retain(new Set(fromEntries.keys()))
  await Promise.all([from.cache?.save(), to.cache?.save()])
  progress.report("done")
  return {
    copied: plan.copies.length,
    skipped: plan.skipped,
    deleted: plan.deletions.length,
    bytes: plan.bytes,
    actions: [...plan.copies, ...plan.deletions],
  }
}

interface Plan {
  readonly copies: SyncAction[]
  readonly deletions: SyncAction[]
  readonly skipped: number
  readonly bytes: number
}

/** What to copy and delete: compares every selected source file with the target's. */
async function planSync(
  from: SyncSide,
  fromEntries: ReadonlyMap<string, StorageEntry>,
  to: SyncSide,
  toEntries: ReadonlyMap<string, StorageEntry>,
  selected: (path: string) => boolean,
  options: SyncOptions,
  concurrency: number,
  progress: ProgressCounter,
): Promise<Plan> {
  const paths = [...fromEntries.keys()].filter(selected).sort()
  if (to.local) for (const path of paths) refuseOutside(path, from, to)
  const reasons = new Map<string, SyncAction["reason"]>()
  progress.start("comparing", paths.length, 0)
  await mapLimit(paths, concurrency, async (path) => {
    const source = fromEntries.get(path) as StorageEntry
    const existing = toEntries.get(path)
    if (existing === undefined) reasons.set(path, "missing")
    else if (existing.size !== source.size) reasons.set(path, "size")
    else if (!(await sameContent(from, source, to, existing, path))) reasons.set(path, "content")
    progress.add(1, 0)
  })
  const copies: SyncAction[] = []
  let bytes = 0
  for (const path of paths) {
    const reason = reasons.get(path)
    if (reason === undefined) continue
    const size = (fromEntries.get(path) as StorageEntry).size
    copies.push({ action: "copy", path, size, reason })
    bytes += size
  }
  const deletions: SyncAction[] =
    options.delete === true
      ? [...toEntries.entries()]
          .filter(([path]) => !fromEntries.has(path) && selected(path))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([path, entry]) => ({ action: "delete", path, size: entry.size }))
      : []
  return { copies, deletions, skipped: paths.length - copies.length, bytes }
}

/** Copies one file across the sides, and records the local file's ETag where the transfer learnt it. */
async function transfer(from: SyncSide, to: SyncSide, path: string, entry: StorageEntry, onBytes: (bytes: number) => void): Promise<void> {
  const fromUri = uriOf(from, path)
  const toUri = uriOf(to, path)
  if (from.local && !to.local) {
    const written = await to.storage.upload(fromUri, toUri, { onBytes })
    const parts = written.etag === undefined ? undefined : partsOf(written.etag)
    // The part size S3Storage uploaded with (grown to stay within 10,000 parts).
    const partSize = Math.max(to.storage.partSize ?? 0, Math.ceil(entry.size / 10_000 / MiB) * MiB)
    if (written.etag !== undefined) from.cache?.setEtag(path, entry, written.etag, parts === undefined ? entry.size : partSize)
  } else if (!from.local && to.local) {
    const written = await from.storage.download(fromUri, toUri, { onBytes, source: entry })
    // A multipart ETag's part size is not known here: the next sync computes it once.
    const parts = written.etag === undefined ? undefined : partsOf(written.etag)
    if (written.etag !== undefined && (parts ?? 1) === 1) to.cache?.setEtag(path, written, written.etag, written.size)
  } else {
    await to.storage.copy(fromUri, toUri, { onBytes, source: entry })
  }
}

function checkOptions(options: SyncOptions): number {
  for (const key of ["include", "exclude"] as const) {
    const patterns = options[key]
    if (patterns !== undefined && (!Array.isArray(patterns) || patterns.some((p) => typeof p !== "string" || p === ""))) {
      throw new ReductioError("INVALID_ARGUMENT", `sync ${key} must be a list of glob patterns, got ${JSON.stringify(patterns)}`)
    }
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new ReductioError("INVALID_ARGUMENT", `sync concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, got ${concurrency}`)
  }
  return concurrency
}

/** A predicate for the paths the filters select. */
function selector(options: SyncOptions): (path: string) => boolean {
  const include = (options.include ?? []).map((pattern) => globMatcher(pattern, { matchBase: true }))
  const exclude = (options.exclude ?? []).map((pattern) => globMatcher(pattern, { matchBase: true }))
  return (path) => (include.length === 0 || include.some((match) => match(path))) && !exclude.some((match) => match(path))
}

/** An S3 key with `.` or `..` segments would be written outside a local target: refused. */
function refuseOutside(path: string, from: SyncSide, to: SyncSide): void {
  if (!path.split("/").some((segment) => segment === "." || segment === "..")) return
  throw new ReductioError(
    "INVALID_ARGUMENT",
    `${uriOf(from, path)} has a . or .. segment: copied to ${to.root} it would land outside it; rename the object or exclude it`,
    { details: { uri: uriOf(from, path), target: to.root } },
  )
}

/** One root inside the other would copy a sync into itself. */
function refuseOverlap(from: SyncSide, to: SyncSide): void {
  if (from.local !== to.local) return
  const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b === "/"
  if (inside(from.root, to.root) || inside(to.root, from.root)) {
    throw new ReductioError("INVALID_ARGUMENT", `cannot sync ${from.root} to ${to.root}: one lies inside the other`, {
      details: { source: from.root, target: to.root },
    })
  }
}

/** Counts files and bytes of the current phase and reports them. */
class ProgressCounter {
  #phase: SyncProgress["phase"] = "listing"
  #filesDone = 0
  #filesTotal = 0
  #bytesDone = 0
  #bytesTotal = 0

  constructor(readonly onProgress: ((progress: SyncProgress) => void) | undefined) {}

  start(phase: SyncProgress["phase"], files: number, bytes: number): void {
    this.#phase = phase
    this.#filesDone = 0
    this.#filesTotal = files
    this.#bytesDone = 0
    this.#bytesTotal = bytes
    this.report(phase)
  }

  add(files: number, bytes: number): void {
    this.#filesDone += files
    this.#bytesDone += bytes
    this.report(this.#phase)
  }

  report(phase: SyncProgress["phase"]): void {
    this.#phase = phase
    this.onProgress?.({
      phase,
      filesDone: this.#filesDone,
      filesTotal: this.#filesTotal,
      bytesDone: this.#bytesDone,
      bytesTotal: this.#bytesTotal,
    })
  }
}
