/**
 * @module recorder
 * Buffers provenance rows and writes them to the backend in batches, one transaction each: at
 * most every `interval` ms while rows are waiting, at once when many are, and on `flush()`.
 * Values and tasks already written in this execution are not sent twice.
 *
 * Large, infrequent batches are cheaper than small ones: content rows are keyed by random hashes,
 * so every commit rewrites pages all over the tables. 200 ms bounds what a crash can lose.
 */
import type { TaskDefinition } from "../task.js"
import type {
  Backend,
  CallRecord,
  EvaluationRecord,
  ExecutionRecord,
  FileUseRecord,
  JobRecord,
  TagRecord,
  TaskRecord,
  ValueRecord,
} from "../backend/backend.js"

/** A job whose row is built when it is written. */
export interface JobSource {
  readonly seq: number
  toRecord(): JobRecord
}

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
  #writing: Promise<void> = Promise.resolve()
  #failure: unknown

  constructor(
    private readonly backend: Pick<Backend, "write">,
    private readonly interval = 200,
    private readonly maxRows = 100_000,
  ) {}

  execution(record: ExecutionRecord): void {
    this.#executions.set(record.id, record)
    this.#touch()
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
    this.#writeBuffered()
    await this.#writing
    if (this.#failure !== undefined) throw this.#failure
  }

  #touch(): void {
    this.#size++
    if (this.#size >= this.maxRows) {
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#timer = undefined
      this.#writeBuffered()
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#writeBuffered()
      }, this.interval)
    }
  }

  #writeBuffered(): void {
    if (this.#size === 0) return
    const batch = {
      executions: [...this.#executions.values()],
      tasks: this.#tasks,
      values: this.#values,
      evaluations: [...this.#evaluations.values()],
      calls: this.#calls,
      jobs: [...this.#jobs.values()].map((job) => ("toRecord" in job ? job.toRecord() : job)),
      files: this.#files,
      tags: this.#tags,
    }
    this.#executions = new Map()
    this.#tasks = []
    this.#values = []
    this.#evaluations = new Map()
    this.#calls = []
    this.#jobs = new Map()
    this.#files = []
    this.#tags = []
    this.#size = 0
    // Writes are chained so batches land in order (a job's final state after its first).
    this.#writing = this.#writing
      .then(() => this.backend.write(batch))
      .catch((error: unknown) => {
        this.#failure ??= error
      })
  }
}
