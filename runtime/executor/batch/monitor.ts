/**
 * @module monitor
 * Follows submitted Batch jobs within the API budget. One loop per executor: each poll describes
 * every followed job (singles and array parents, 100 ids a call); an array parent is read through
 * its `statusSummary`, and its children are listed (ListJobs by status, 1,000 a page) only when the
 * summary shows more finished children than already seen. The interval starts short and grows
 * while nothing changes; a poll that cost k calls waits at least k / `callsPerSecond` before the
 * next, so following 10,000 children costs about as much as following one job.
 */
import { toErrorRecord } from "../../errors.js"
import type { BatchApi, BatchJobState } from "./batch-client.js"

/** Who cares about a followed job. */
export interface WatchHandler {
  /** A single job (index undefined) or an array child reached SUCCEEDED or FAILED. Called once per index. */
  finished(index: number | undefined, state: BatchJobState): void
  /** False once no call waits on this job any more: the monitor stops following it. */
  wanted(): boolean
}

/** Options of a {@link Monitor}. */
export interface MonitorOptions {
  /** Shortest interval between polls, in ms (default 1,000). */
  readonly minIntervalMs?: number | undefined
  /** Longest, reached while nothing changes (default 10,000). */
  readonly maxIntervalMs?: number | undefined
  /** Average Batch calls per second the monitor may spend (default 0.8: headroom under 1/s for submissions). */
  readonly callsPerSecond?: number | undefined
  /** Polls a job may be missing from DescribeJobs before its calls fail (default 5). */
  readonly missingPolls?: number | undefined
  /** Failed polls in a row (each after the client's own retries) before every followed call fails (default 5). */
  readonly failedPolls?: number | undefined
  readonly log?: ((message: string) => void) | undefined
  /** Called after each poll with the completions (singles and children) it delivered (benches count rounds). */
  readonly onRound?: ((completions: number) => void) | undefined
}

interface Watched {
  readonly handler: WatchHandler
  readonly size: number | undefined
  readonly reported: Set<number>
  seen: { succeeded: number; failed: number }
  nextListAt: number
  missing: number
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED"])

/**
 * @example
 * const monitor = new Monitor(api, { minIntervalMs: 1_000 })
 * monitor.watch(parentId, 200, { finished: (index, state) => settle(index, state), wanted: () => true })
 */
export class Monitor {
  readonly #watched = new Map<string, Watched>()
  readonly #min: number
  readonly #max: number
  readonly #budget: number
  readonly #missingPolls: number
  #interval: number
  #timer: NodeJS.Timeout | undefined
  #timerAt = 0
  #earliest = 0
  #polling = false
  #stopped = false
  #failedPolls = 0
  /** Completions delivered by the poll in progress. */
  #delivered = 0

  constructor(
    private readonly api: BatchApi,
    private readonly options: MonitorOptions = {},
  ) {
    this.#min = options.minIntervalMs ?? 1_000
    this.#max = Math.max(this.#min, options.maxIntervalMs ?? 10_000)
    this.#budget = options.callsPerSecond ?? 0.8
    this.#missingPolls = options.missingPolls ?? 5
    this.#interval = this.#min
  }

  /** Follows a single job (`size` undefined) or an array parent of `size` children. */
  watch(jobId: string, size: number | undefined, handler: WatchHandler): void {
    this.#watched.set(jobId, {
      handler,
      size,
      reported: new Set(),
      seen: { succeeded: 0, failed: 0 },
      nextListAt: 0,
      missing: 0,
    })
    this.#interval = this.#min
    this.#schedule(this.#min)
  }

  /** Jobs followed now. */
  get size(): number {
    return this.#watched.size
  }

  /** Stops polling; followed jobs are forgotten (they keep running in Batch). */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#watched.clear()
  }

  #schedule(delay: number): void {
    if (this.#stopped || this.#polling) return
    const at = Math.max(Date.now() + delay, this.#earliest)
    if (this.#timer !== undefined && this.#timerAt <= at) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => void this.#tick(), at - Date.now())
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    for (const [jobId, watched] of this.#watched) if (!watched.handler.wanted()) this.#watched.delete(jobId)
    if (this.#watched.size === 0 || this.#stopped) return
    this.#polling = true
    const startedAt = Date.now()
    let calls = 0
    let changed = false
    try {
      ;({ calls, changed } = await this.#poll())
      this.#failedPolls = 0
    } catch (error) {
      const message = toErrorRecord(error).message
      this.options.log?.(`AWS Batch monitoring failed, retrying: ${message}`)
      calls = 1
      if (++this.#failedPolls >= (this.options.failedPolls ?? 5)) this.#giveUp(`cannot follow the job: ${message}`)
    } finally {
      this.#polling = false
      this.options.onRound?.(this.#delivered)
      this.#delivered = 0
    }
    this.#interval = changed ? this.#min : Math.min(this.#max, this.#interval * 1.5)
    this.#earliest = startedAt + (calls * 1000) / this.#budget
    if (this.#watched.size > 0) this.#schedule(this.#interval)
  }

  async #poll(): Promise<{ calls: number; changed: boolean }> {
    const ids = [...this.#watched.keys()]
    const states = await this.api.describeJobs(ids)
    let calls = Math.ceil(ids.length / 100)
    let changed = false
    const seen = new Set<string>()
    for (const state of states) {
      seen.add(state.jobId)
      const watched = this.#watched.get(state.jobId)
      if (watched === undefined) continue
      watched.missing = 0
      if (watched.size === undefined) {
        if (!TERMINAL.has(state.status)) continue
        this.#watched.delete(state.jobId)
        watched.handler.finished(undefined, state)
        this.#delivered++
        changed = true
        continue
      }
      const result = await this.#followArray(state, watched)
      calls += result.calls
      changed ||= result.changed
    }
    for (const jobId of ids) if (!seen.has(jobId)) changed = this.#missing(jobId) || changed
    return { calls, changed }
  }

  /** Lists an array's newly finished children when its summary says there are some. */
  async #followArray(parent: BatchJobState, watched: Watched): Promise<{ calls: number; changed: boolean }> {
    const summary = parent.statusSummary ?? {}
    const succeeded = summary.SUCCEEDED ?? 0
    const failed = summary.FAILED ?? 0
    const terminal = TERMINAL.has(parent.status)
    const news = succeeded > watched.seen.succeeded || failed > watched.seen.failed
    if (!(terminal || (news && Date.now() >= watched.nextListAt))) return { calls: 0, changed: false }
    let calls = 0
    let changed = false
    // After the parent ended, list again whatever the previous listings missed (ListJobs may lag).
    const relist = terminal && watched.reported.size < (watched.size ?? 0)
    const statuses = [
      ...(succeeded > watched.seen.succeeded || (relist && succeeded > 0) ? (["SUCCEEDED"] as const) : []),
      ...(failed > watched.seen.failed || (relist && failed > 0) ? (["FAILED"] as const) : []),
    ]
    for (const status of statuses) {
      const children = await this.api.listChildren(parent.jobId, status)
      calls += Math.max(1, Math.ceil(children.length / 1000))
      for (const child of children) {
        const index = child.arrayIndex ?? Number(child.jobId.slice(child.jobId.lastIndexOf(":") + 1))
        if (watched.reported.has(index)) continue
        watched.reported.add(index)
        watched.handler.finished(index, child)
        this.#delivered++
        changed = true
      }
    }
    watched.seen = { succeeded, failed }
    // Listing costs calls: space the next listing of this array by what this one cost.
    watched.nextListAt = Date.now() + (calls * 1000) / this.#budget
    if (terminal && watched.reported.size >= (watched.size ?? 0)) this.#watched.delete(parent.jobId)
    return { calls, changed }
  }

  /** A followed job Batch does not know: after a few polls, its calls fail. */
  #missing(jobId: string): boolean {
    const watched = this.#watched.get(jobId)
    if (watched === undefined || ++watched.missing < this.#missingPolls) return false
    this.#fail(jobId, watched, "AWS Batch does not know this job (DescribeJobs left it out)")
    return true
  }

  /** Monitoring keeps failing: every followed call fails rather than wait forever. */
  #giveUp(reason: string): void {
    for (const [jobId, watched] of [...this.#watched]) this.#fail(jobId, watched, reason)
    this.#failedPolls = 0
  }

  #fail(jobId: string, watched: Watched, reason: string): void {
    this.#watched.delete(jobId)
    const state: BatchJobState = { jobId, status: "FAILED", statusReason: reason }
    if (watched.size === undefined) watched.handler.finished(undefined, state)
    for (let index = 0; index < (watched.size ?? 0); index++) {
      if (!watched.reported.has(index)) watched.handler.finished(index, { ...state, jobId: `${jobId}:${index}` })
    }
  }
}
