/**
 * @module job-state
 * One job's mutable state while it is alive, and the options it runs with.
 */
import { type BatchJobOptions, mergeBatchOptions } from "../executor/batch/batch-options.js"
import type { JobRecord, JobStatus } from "../backend/backend.js"
import { TaskError, toErrorRecord, type ErrorRecord } from "../errors.js"
import type { CallOptions } from "../expression.js"
import type { TaskContext } from "../context.js"
import type { TaskDefinition } from "../task.js"
import type { JobSource } from "./recorder.js"

/** Mutable state of one job while it is alive; its row is built when the recorder writes it. */
export class JobState implements JobSource {
  status: JobStatus = "PENDING"
  cached = false
  callHash: string | null = null
  endedAt: number | null = null
  error: string | null = null
  /** False once anything below makes the call tree unfit to reuse whole (see EvaluationRecord). */
  replayable = true
  /** True once its result or a child's may hold something checked before reuse (a File). */
  checked = false
  /** True when this job and those below it reduce call by call (a replay above failed). */
  noReplay = false
  /** True while this execution holds the call's lease (claimed before it ran; released after). */
  leased = false
  /** How many recorded calls this job reused whole, when it replayed a call tree. */
  reusedCalls: number | null = null
  /** The context the task body may read (see context.ts), when it declares keys. */
  context: TaskContext | undefined = undefined
  readonly createdAt = Date.now()
  /** When its body started and ended on its executor (see JobRecord). */
  startedAt: number | null = null
  bodyEndedAt: number | null = null
  /** The configured executor it was submitted to, and where its body ran, when the executor says (see JobRecord). */
  executor: string | null = null
  executorJobId: string | null = null
  image: string | null = null
  readonly children: string[] = []
  /**
   * Its encoded arguments when small (at most CALL_VALUE_BYTES), until it has a call hash: written
   * under the args hash with each row that names them (JobRecord.argsBytes).
   */
  encodedArgs: Uint8Array | undefined = undefined

  constructor(
    readonly executionId: string,
    readonly seq: number,
    readonly parentSeq: number | null,
    readonly task: TaskDefinition,
    readonly evalHash: string,
    readonly argsHash: string,
    /** The call site's name for the call (CallOptions.name). */
    readonly name: string | null = null,
  ) {}

  toRecord(): JobRecord {
    return {
      executionId: this.executionId,
      seq: this.seq,
      parentSeq: this.parentSeq,
      taskHash: this.task.hash,
      evalHash: this.evalHash,
      callHash: this.callHash,
      status: this.status,
      cached: this.cached,
      createdAt: this.createdAt,
      startedAt: this.startedAt,
      bodyEndedAt: this.bodyEndedAt,
      endedAt: this.endedAt,
      error: this.error,
      reusedCalls: this.reusedCalls,
      argsHash: this.argsHash,
      name: this.name,
      executor: this.executor,
      ...(this.executorJobId === null ? {} : { executorJobId: this.executorJobId }),
      ...(this.image === null ? {} : { image: this.image }),
      ...(this.callHash === null && this.encodedArgs !== undefined ? { argsBytes: this.encodedArgs } : {}),
    }
  }
}

/** Options only the task's identity (or the command line) uses; executors never see them. */
const IDENTITY_OPTIONS = new Set(["version", "namespace", "hashIncludes", "params", "nout", "context"])

/**
 * The options a job runs with: the task's, then its routing rule's, then the call site's, then the
 * run's overrides for the task (`-o task=option=value`), without identity-only ones.
 */
export function jobOptions(
  task: TaskDefinition,
  overrides: CallOptions | undefined,
  forRun?: CallOptions,
  routed?: CallOptions,
): CallOptions {
  if (forRun === undefined && overrides === undefined && routed === undefined) {
    let options = taskOnlyOptions.get(task)
    if (options === undefined) taskOnlyOptions.set(task, (options = mergeOptions([task.options])))
    return options
  }
  return mergeOptions([task.options, routed, overrides, forRun])
}

/** The options of calls without call-site overrides, once per task. */
const taskOnlyOptions = new WeakMap<TaskDefinition, CallOptions>()

function mergeOptions(layers: readonly (CallOptions | undefined)[]): CallOptions {
  const merged: Record<string, unknown> = {}
  for (const source of layers) {
    if (source === undefined) continue
    for (const [key, value] of Object.entries(source)) {
      if (IDENTITY_OPTIONS.has(key) || value === undefined) continue
      // A call's Batch settings refine its task's (a call adding one variable keeps the others).
      merged[key] = key === "batch" ? mergeBatchOptions(merged.batch as BatchJobOptions | undefined, value as BatchJobOptions) : value
    }
  }
  return Object.freeze(merged) as CallOptions
}

/** What a job row keeps of its error: the full record for the job that failed, a pointer above it. */
export function briefError(error: unknown, job: JobState): ErrorRecord {
  if (error instanceof TaskError && error.evalHash !== job.evalHash) {
    return { name: error.name, message: error.message, code: error.code }
  }
  if (error instanceof TaskError) return error.record
  return toErrorRecord(error)
}
