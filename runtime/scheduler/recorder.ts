/**
 * @module recorder
 * Buffers provenance rows and writes them to the backend in batches, one transaction each: at
 * most every `interval` ms while rows are waiting, at once when many are, and on `flush()`.
 * Values and tasks already written in this execution are not sent twice.
 *
 * Large, infrequent batches are cheaper than small ones: content rows are keyed by random hashes,
 * so every commit rewrites pages all over the tables. 200 ms bounds what a crash can lose; once a
 * batch holds {@link BUSY_BATCH_ROWS} rows (a fan-out is under way) the next waits `busyInterval`
 * (1 s): a fan-out of 100,000 calls then writes about 40% fewer pages. Once the database
 * outgrows SQLite's page cache, each row costs more to commit (a fan-out of 1,000,000 calls: from
 * about 5 µs to over 20 µs): while a busy batch's cost per row is at least twice the cheapest seen,
 * batches grow twofold (fourfold from four times), in rows and in interval, so fewer commits
 * rewrite the same pages.
 *
 * While the execution runs, the recorder is also its heartbeat ({@link Recorder.keepAlive}): a
 * batch written when a beat is due carries the execution row with a fresh lease and renews the
 * execution's call leases; when no batch goes out for an interval, a timer writes one. Released
 * call leases travel in the batch that records the call's evaluation.
 *
 * A live job (pending, running or waiting) gets its row only once it has been alive for
 * {@link LIVE_ROW_DELAY_MS}: most calls of a fan-out finish sooner, and then cost one row write,
 * not two. Nothing is kept once written: the values seen are forgotten with each batch (a value
 * sent again is an insert that finds its row), so memory does not grow with the calls finished.
 */
import type { TaskDefinition } from "../task.js"
import type {
  Backend,
  JobStatus,
  CallRecord,
  EvaluationRecord,
  ExecutionRecord,
  FileUseRecord,
  JobRecord,
  LeaseUpdate,
  TagRecord,
  TaskRecord,
  ValueRecord,
} from "../backend/backend.js"

/** How a running execution keeps its row and its call leases alive (see docs/architecture.md). */
export interface Liveness {
  /** The execution, which is also the holder of its call leases. */
  readonly executionId: string
  /** A beat at least this often (ms). */
  readonly intervalMs: number
  /** How far ahead each beat extends the leases (ms). */
  readonly expiryMs: number
  /** Whether the execution holds call leases (renewed with each beat). */
  readonly callLeases: boolean
}

/** A job whose row is built when it is written. */
export interface JobSource {
  readonly seq: number
  readonly status: JobStatus
  /** When the job was created (ms since the epoch). */
  readonly createdAt: number
  toRecord(): JobRecord
}

/** How long a live job goes without a row (ms): one that finishes sooner is written once. */
export const LIVE_ROW_DELAY_MS = 1000

/** Rows in a batch that mark a busy execution, whose next batch waits the longer interval. */
export const BUSY_BATCH_ROWS = 2_000

/** How much larger (in rows and interval) busy batches may grow as their commits get costlier. */
const MAX_BATCH_SCALE = 4

const LIVE: ReadonlySet<JobStatus> = new Set(["PENDING", "RUNNING", "WAITING"])

export class Recorder {
  #executions = new Map<string, ExecutionRecord>()
  #tasks: TaskRecord[] = []
  #values: ValueRecord[] = []
  #evaluations = new Map<string, EvaluationRecord>()
  #calls: CallRecord[] = []
  #jobs = new Map<number, JobRecord | JobSource>()
  #files: FileUseRecord[] = []
  #tags: TagRecord[] = []
  #size = 0
  readonly #seenValues = new Set<string>()
  readonly #seenTasks = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  /** How long rows wait for the next batch: `interval`, or `busyInterval` after a large batch. */
  #delay: number
  /** Busy batches are this many times `maxRows` and `busyInterval` (see {@link MAX_BATCH_SCALE}). */
  #scale = 1
  /** The cheapest commit per row of a busy batch so far (ms). */
  #cheapestRowMs = Number.POSITIVE_INFINITY
  #writing: Promise<void> = Promise.resolve()
  #failure: unknown
  #liveness: Liveness | undefined
  #beatTimer: NodeJS.Timeout | undefined
  #lastBeat = 0
  /** The execution's row while it is RUNNING: each beat writes it again with a fresh lease. */
  #running: ExecutionRecord | undefined
  #released: string[] = []
  /** Keys handed to {@link Recorder.onWritten} once what is buffered now is written. */
  #afterWrite: string[] = []
  #acquired = new Set<string>()
  #releaseAll = false

  constructor(
    private readonly backend: Pick<Backend, "write">,
    private readonly interval = 200,
    private readonly maxRows = 100_000,
    private readonly busyInterval = 1000,
  ) {
    this.#delay = interval
  }

  /** Called with the keys given to {@link Recorder.afterWrite} once their batch is written. */
  onWritten: ((keys: readonly string[]) => void) | undefined

  /** Hands `key` to {@link Recorder.onWritten} once every row buffered so far is in the backend. */
  afterWrite(key: string): void {
    this.#afterWrite.push(key)
  }

  execution(record: ExecutionRecord): void {
    this.#executions.set(record.id, record)
    if (record.id === this.#liveness?.executionId) this.#running = record.status === "RUNNING" ? record : undefined
    this.#touch()
  }

  /** Starts the heartbeat of a running execution; its timer never keeps the process alive. */
  keepAlive(liveness: Liveness): void {
    this.#liveness = liveness
    this.#beatTimer = setInterval(() => {
      if (this.#beatDue(Date.now())) this.#writeBuffered()
    }, liveness.intervalMs)
    this.#beatTimer.unref()
  }

  /** Stops the heartbeat: the next batch releases every call lease the execution still holds. */
  stopKeepingAlive(): void {
    if (this.#beatTimer !== undefined) clearInterval(this.#beatTimer)
    this.#beatTimer = undefined
    this.#running = undefined
    if (this.#liveness?.callLeases === true) {
      this.#releaseAll = true
      this.#touch()
    }
  }

  /** Gives up a call lease, in the batch that records what the call got (or the next one). */
  releaseLease(evalHash: string): void {
    // Taken and given up before a batch went out: neither needs writing.
    if (!this.#acquired.delete(evalHash)) this.#released.push(evalHash)
    this.#touch()
  }

  /**
   * Takes the leases of calls the execution is running alone (it no longer is), with the next
   * batch, which also records the execution as taking call leases from now on.
   */
  startLeasing(evalHashes: Iterable<string>): void {
    for (const evalHash of evalHashes) this.#acquired.add(evalHash)
    if (this.#running !== undefined) this.execution({ ...this.#running, callLeases: true })
    else this.#touch()
  }

  /** Records a task version once per execution. */
  task(task: TaskDefinition): void {
    if (this.#seenTasks.has(task.hash)) return
    this.#seenTasks.add(task.hash)
    this.#tasks.push({ hash: task.hash, name: task.name, source: task.source, version: task.options.version ?? null })
    this.#touch()
  }

  value(hash: string, bytes: Uint8Array): void {
    if (this.#seenValues.has(hash)) return
    this.#seenValues.add(hash)
    this.#values.push({ hash, bytes })
    this.#touch()
  }

  /** Marks a value as already stored (e.g. read from the cache), so it is not written again. */
  knownValue(hash: string): void {
    this.#seenValues.add(hash)
  }

  /** Records a cache entry; a later record of the same eval hash in this batch replaces it. */
  evaluation(record: EvaluationRecord): void {
    this.#evaluations.set(record.evalHash, record)
    this.#touch()
  }

  call(record: CallRecord): void {
    this.#calls.push(record)
    this.#touch()
  }

  /**
   * Marks a job as changed. A live job (a {@link JobSource}) is turned into its row only when the
   * batch is written, so a job that changes status several times between writes costs one row.
   */
  job(job: JobRecord | JobSource): void {
    if (this.#jobs.has(job.seq)) return
    this.#jobs.set(job.seq, job)
    this.#touch()
  }

  file(record: FileUseRecord): void {
    this.#files.push(record)
    this.#touch()
  }

  /** A tag on the execution, written with its row. */
  tag(record: TagRecord): void {
    this.#tags.push(record)
    this.#touch()
  }

  /** Writes everything buffered; resolves when the backend has it. Rejects if any write failed. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#writeBuffered(true)
    await this.#writing
    if (this.#failure !== undefined) throw this.#failure
  }

  #touch(): void {
    this.#size++
    if (this.#size >= this.maxRows * this.#scale) {
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#timer = undefined
      this.#writeBuffered()
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#writeBuffered()
      }, this.#delay)
    }
  }

  #beatDue(now: number): boolean {
    return this.#running !== undefined && this.#liveness !== undefined && now - this.#lastBeat >= this.#liveness.intervalMs / 2
  }

  /** The execution rows of a batch, the running one with a fresh lease when a beat is due. */
  #executionRows(now: number, beat: boolean): ExecutionRecord[] {
    const running = this.#running
    if (running !== undefined && this.#liveness !== undefined && (beat || this.#executions.has(running.id))) {
      this.#executions.set(running.id, { ...running, leaseExpiresAt: now + this.#liveness.expiryMs })
    }
    return [...this.#executions.values()]
  }

  #leaseUpdate(now: number, beat: boolean): LeaseUpdate | undefined {
    const liveness = this.#liveness
    if (liveness === undefined || !liveness.callLeases) return undefined
    if (this.#releaseAll) return { holder: liveness.executionId, release: "all" }
    if (!beat && this.#released.length === 0 && this.#acquired.size === 0) return undefined
    return {
      holder: liveness.executionId,
      ...(this.#acquired.size === 0 ? {} : { acquire: { evalHashes: [...this.#acquired], expiresAt: now + liveness.expiryMs } }),
      ...(this.#released.length === 0 ? {} : { release: this.#released }),
      ...(beat ? { renewUntil: now + liveness.expiryMs } : {}),
    }
  }

  /** The rows of the jobs due: every job not live, and live ones old enough (or all). The rest stay. */
  #jobRows(now: number, all: boolean): JobRecord[] {
    const rows: JobRecord[] = []
    const young = new Map<number, JobRecord | JobSource>()
    for (const job of this.#jobs.values()) {
      if (!("toRecord" in job)) rows.push(job)
      else if (!all && LIVE.has(job.status) && now - job.createdAt < LIVE_ROW_DELAY_MS) young.set(job.seq, job)
      else rows.push(job.toRecord())
    }
    this.#jobs = young
    return rows
  }

  /** Sizes the next busy batches by what a row of this one cost to commit. */
  #rescale(rowMs: number): void {
    this.#cheapestRowMs = Math.min(this.#cheapestRowMs, rowMs)
    const ratio = rowMs / this.#cheapestRowMs
    this.#scale = ratio >= 4 ? MAX_BATCH_SCALE : ratio >= 2 ? 2 : 1
  }

  /** Writes what is buffered; `all`: live jobs too, however young. */
  #writeBuffered(all = false): void {
    const now = Date.now()
    const beat = this.#beatDue(now)
    if (this.#size === 0 && !beat) return
    if (beat) this.#lastBeat = now
    const leases = this.#leaseUpdate(now, beat)
    const batch = {
      executions: this.#executionRows(now, beat),
      tasks: this.#tasks,
      values: this.#values,
      evaluations: [...this.#evaluations.values()],
      calls: this.#calls,
      jobs: this.#jobRows(now, all),
      files: this.#files,
      ...(leases === undefined ? {} : { leases }),
      tags: this.#tags,
    }
    // The rows this batch writes: young live jobs stay buffered, so a batch of them alone is not
    // busy (timed, it would seem to cost nothing a row and pin the batches at their largest).
    const rows =
      batch.executions.length +
      batch.tasks.length +
      batch.values.length +
      batch.evaluations.length +
      batch.calls.length +
      batch.jobs.length +
      batch.files.length +
      batch.tags.length
    const busy = rows >= BUSY_BATCH_ROWS
    this.#delay = busy ? Math.max(this.interval, this.busyInterval * this.#scale) : this.interval
    const written = this.#afterWrite
    this.#afterWrite = []
    this.#released = []
    this.#acquired = new Set()
    this.#releaseAll = false
    this.#executions = new Map()
    this.#tasks = []
    this.#values = []
    this.#evaluations = new Map()
    this.#calls = []
    this.#files = []
    this.#tags = []
    this.#seenValues.clear()
    // Young live jobs wait for a later batch, which a timer sends if nothing else does.
    this.#size = this.#jobs.size
    if (this.#size > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#writeBuffered()
      }, this.#delay)
    }
    // Writes are chained so batches land in order (a job's final state after its first).
    this.#writing = this.#writing
      .then(async () => {
        const started = performance.now()
        await this.backend.write(batch)
        if (busy) this.#rescale((performance.now() - started) / rows)
      })
      .then(() => {
        if (written.length > 0) this.onWritten?.(written)
      })
      .catch((error: unknown) => {
        this.#failure ??= error
      })
  }
}
