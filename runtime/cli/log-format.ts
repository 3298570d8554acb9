/**
 * @module log-format
 * How `reductio log` and the run summary write jobs, times and counts, so both say the same.
 */
import type { Backend, CallRecord, JobCounts, JobView } from "../backend/backend.js"
import { decode } from "../codec.js"
import { callLabel, previewArgs, previewValue } from "../preview.js"

/** Totals of an execution's calls, as the run summary and `reductio log` print them. */
export interface CallTotals {
  /** Jobs plus the recorded calls reused below cached ones. */
  readonly jobs: number
  readonly done: number
  /** Cached jobs plus the reused calls. */
  readonly cached: number
  /** Of `cached`: calls reused with a cached parent, without a job of their own. */
  readonly reused: number
  readonly failed: number
  readonly cancelled: number
  readonly running: number
  readonly waiting: number
  readonly pending: number
}

/** `10002 jobs, 0 done, 10002 cached (10001 reused with a cached parent), 1 failed`. */
export function formatTotals(totals: CallTotals): string {
  const cached = totals.reused === 0 ? `${totals.cached} cached` : `${totals.cached} cached (${totals.reused} reused with a cached parent)`
  const parts = [`${totals.jobs} jobs`, `${totals.done} done`, cached]
  if (totals.failed > 0) parts.push(`${totals.failed} failed`)
  if (totals.cancelled > 0) parts.push(`${totals.cancelled} cancelled`)
  if (totals.running > 0) parts.push(`${totals.running} running`)
  if (totals.waiting > 0) parts.push(`${totals.waiting} waiting`)
  if (totals.pending > 0) parts.push(`${totals.pending} pending`)
  return parts.join(", ")
}

/** The totals of a backend's job counts. */
export function totalsOf(counts: JobCounts): CallTotals {
  const of = (status: keyof JobCounts["byStatus"]) => counts.byStatus[status] ?? 0
  return {
    jobs: counts.jobs + counts.reusedCalls,
    done: of("DONE"),
    cached: of("CACHED") + counts.reusedCalls,
    reused: counts.reusedCalls,
    failed: of("FAILED"),
    cancelled: of("CANCELLED"),
    running: of("RUNNING"),
    waiting: of("WAITING"),
    pending: of("PENDING"),
  }
}

/** Job counts from listed jobs (for backends without countJobs). */
export function countsOf(jobs: readonly JobView[]): JobCounts {
  const byStatus: Record<string, number> = {}
  let reusedCalls = 0
  for (const job of jobs) {
    byStatus[job.status] = (byStatus[job.status] ?? 0) + 1
    reusedCalls += job.reusedCalls ?? 0
  }
  return { jobs: jobs.length, byStatus, reusedCalls }
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19)
}

export function formatDuration(start: number | null, end: number | null): string {
  if (start === null || end === null) return "-"
  const seconds = Math.max(0, end - start) / 1000
  return seconds < 60
    ? `${seconds.toFixed(seconds < 10 ? 3 : 1)}s`
    : `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`
}

/**
 * A job's times apart: how long it waited before its body started on its executor, how long the
 * body ran, and (for a job with children) how long it then waited on them.
 */
export function formatJobTimes(job: JobView): string {
  if (job.startedAt === null) return job.endedAt === null ? "-" : `total ${formatDuration(job.createdAt, job.endedAt)}`
  const parts = [`wait ${formatDuration(job.createdAt, job.startedAt)}`, `run ${formatDuration(job.startedAt, job.bodyEndedAt)}`]
  if (job.bodyEndedAt !== null && job.endedAt !== null && job.endedAt - job.bodyEndedAt >= 1000)
    parts.push(`children ${formatDuration(job.bodyEndedAt, job.endedAt)}`)
  return parts.join(" ")
}

/** The first line of a job's stored error record, in at most `width` characters. */
export function briefError(json: string, width = 120): string {
  const record = parseErrorRecord(json)
  const text = record === undefined ? json : `${record.name ?? "Error"}: ${(record.message ?? "").split("\n")[0]}`
  return previewText(text, width)
}

/** Text on one line, without control characters, in at most `width` characters. */
export function previewText(text: string, width: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: keeping them off the terminal is the point
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}

/** A stored error record, or undefined when the JSON is not one. */
export function parseErrorRecord(
  json: string,
): { name?: string; message?: string; stack?: string; code?: string; details?: Record<string, unknown> } | undefined {
  try {
    const record = JSON.parse(json) as unknown
    return typeof record === "object" && record !== null ? (record as { name?: string }) : undefined
  } catch {
    return undefined
  }
}

/** Values larger than this are not decoded for a preview. */
const MAX_PREVIEW_BYTES = 4 * 1024 * 1024

/** Reads and decodes stored values for previews, in one query when the backend can. */
export class ValuePreviews {
  readonly #bytes = new Map<string, Uint8Array | undefined>()

  constructor(private readonly backend: Backend) {}

  /**
   * Loads the values of these hashes (skipping ones already loaded). `calls`: the calls whose
   * arguments or values they are, as records or by hash; a call's own row holds the small ones
   * (see {@link CallRecord.valueBytes}), which are not found by hash alone.
   */
  async load(hashes: Iterable<string | null | undefined>, calls: Iterable<CallRecord | string | null | undefined> = []): Promise<void> {
    const ofCalls: string[] = []
    for (const call of calls) {
      if (call == null) continue
      if (typeof call === "string") ofCalls.push(call)
      else {
        if (call.argsBytes !== undefined) this.#bytes.set(call.argsHash, call.argsBytes)
        if (call.valueBytes !== undefined) this.#bytes.set(call.valueHash, call.valueBytes)
      }
    }
    const wanted = [...new Set(hashes)].filter((hash): hash is string => typeof hash === "string" && !this.#bytes.has(hash))
    if (wanted.length === 0) return
    if (this.backend.readContent !== undefined) {
      const { values = [] } = await this.backend.readContent({ values: wanted, ...(ofCalls.length > 0 ? { valuesOfCalls: ofCalls } : {}) })
      for (const value of values) this.#bytes.set(value.hash, value.bytes)
    } else {
      for (const hash of wanted) this.#bytes.set(hash, await this.backend.getValue(hash))
    }
    for (const hash of wanted) if (!this.#bytes.has(hash)) this.#bytes.set(hash, undefined)
  }

  /** A job's arguments on one line, or "" when they are not recorded. */
  args(job: Pick<JobView, "argsHash" | "taskName">, width: number): string {
    const decoded = this.#decoded(job.argsHash)
    if (decoded === undefined) return ""
    if (!decoded.ok) return decoded.text
    return Array.isArray(decoded.value) ? previewArgs(job.taskName, decoded.value, width) : previewValue(decoded.value, width)
  }

  /** A stored value on one line, or "" when it is not recorded. */
  value(hash: string | null | undefined, width: number): string {
    const decoded = this.#decoded(hash)
    if (decoded === undefined) return ""
    return decoded.ok ? previewValue(decoded.value, width) : decoded.text
  }

  #decoded(hash: string | null | undefined): { ok: true; value: unknown } | { ok: false; text: string } | undefined {
    if (hash == null) return undefined
    const bytes = this.#bytes.get(hash)
    if (bytes === undefined) return undefined
    if (bytes.byteLength > MAX_PREVIEW_BYTES) return { ok: false, text: `(${bytes.byteLength} bytes)` }
    try {
      return { ok: true, value: decode(bytes) }
    } catch {
      // A value of a type whose codec only the workflow registers.
      return { ok: false, text: `(value ${hash.slice(0, 12)}: not decodable here)` }
    }
  }
}

/** How a listing names a job: its task, a call site's name, a script's builder. */
export function jobLabel(job: Pick<JobView, "taskName" | "name">, parentTaskName?: string | null): string {
  return callLabel(job.taskName, job.name, parentTaskName)
}
