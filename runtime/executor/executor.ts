/**
 * @module executor
 * The seam between the scheduler and the places task code runs (in-process, local processes,
 * AWS Batch, AWS Glue). An executor receives one fully reduced call at a time and settles it.
 */
import type { ErrorRecord } from "../errors.js"
import { type JobEntry, PROTOCOL_VERSION } from "../protocol.js"
import type { CallOptions } from "../expression.js"
import type { TaskContext } from "../context.js"
import type { TaskDefinition } from "../task.js"

/** One call, arguments fully reduced, ready to run. */
export interface JobRequest {
  readonly executionId: string
  /** `<execution id>/<seq>`: unique within the execution. */
  readonly jobId: string
  readonly evalHash: string
  readonly argsHash: string
  readonly task: TaskDefinition
  /** The reduced arguments (no expressions inside). */
  readonly args: readonly unknown[]
  /** The canonical encoding of `args` (what remote executors ship). */
  readonly encodedArgs: Uint8Array
  /** Task options merged with the call site's overrides. */
  readonly options: CallOptions
  /** 1 for the first attempt; retries count up. */
  readonly attempt: number
  /** Aborted when the execution is cancelled (Ctrl-C): stop the work and settle as cancelled. */
  readonly signal: AbortSignal
  /**
   * The context values the task declares it reads (see context.ts), when it declares keys: run
   * the body with `runWithContext`, or ship it in the job entry.
   */
  readonly context?: TaskContext
  /**
   * Tells the scheduler where the call runs, once the executor knows (after SubmitJob): its own
   * id for the job and the image, pinned by digest. Recorded in the job row.
   */
  readonly placed?: ((where: JobPlacement) => void) | undefined
}

/** Where an executor placed a call (see {@link JobRequest.placed}). */
export interface JobPlacement {
  readonly executorJobId: string
  readonly image?: string | undefined
}

/**
 * When the task body ran, as the executor saw it (ms since the epoch): what a job's timeline
 * shows, apart from the time the call waited in the scheduler and in the executor's queue.
 * Absent: the scheduler uses the time it submitted the call and the time the outcome arrived.
 */
export interface BodyTimes {
  /** The body started: the function was called, the agent process spawned, the container started. */
  readonly startedAt?: number | undefined
  /** The body ended: the function settled, the process exited, the container stopped. */
  readonly endedAt?: number | undefined
}

/** How a job ended. A rejected `submit` promise counts as an infrastructure failure. */
export type JobOutcome =
  | (BodyTimes & {
      readonly status: "done"
      /** The task function's immediate result; it may hold expressions for the scheduler to reduce. */
      readonly value: unknown
    })
  | (BodyTimes & {
      readonly status: "failed"
      /** `task`: the task code threw. `infrastructure`: the job could not run to completion. */
      readonly kind: "task" | "infrastructure" | "cancelled"
      readonly error: ErrorRecord
      /** The tail of the job's log, when the executor has it. */
      readonly logTail?: string
    })

/** What an executor learns about the run when it starts. */
export interface ExecutorContext {
  readonly executionId: string
  /** Absolute path of the workflow entry file, when known (remote executors bundle it). */
  readonly workflowPath?: string | undefined
  /** Reports progress or warnings to the user. */
  readonly log: (message: string) => void
}

/**
 * Runs calls somewhere.
 *
 * Contract: `submit` settles exactly once per request and never throws synchronously; it may run
 * jobs concurrently. `idle()` tells a batching executor that the scheduler has no more ready work
 * to add right now (flush grouped submissions). `stop()` releases resources; after it, `submit`
 * is not called again.
 */
export interface Executor {
  /** The kind: `local`, `process`, `aws_batch`, `aws_glue`. */
  readonly kind: string
  /** Called once before the first submit of an execution. */
  start?(context: ExecutorContext): Promise<void>
  /** Runs one call. */
  submit(job: JobRequest): Promise<JobOutcome>
  /** The scheduler has no more ready work right now. */
  idle?(): void
  /** Releases resources (processes, pollers, clients). Idempotent. */
  stop(): Promise<void>
}

/**
 * The outcome of a job that was cancelled (Ctrl-C, or the execution aborted) before or while it
 * ran; `message` says when.
 */
export function cancelledOutcome(message: string): JobOutcome {
  return { status: "failed", kind: "cancelled", error: { name: "Cancelled", message, code: "CANCELLED" } }
}

/** The agent's entry for a call: what every executor that runs the agent writes as its input. */
export function entryOf(job: JobRequest): JobEntry {
  return {
    protocol: PROTOCOL_VERSION,
    evalHash: job.evalHash,
    task: job.task.name,
    args: job.args,
    options: job.options,
    ...(job.context === undefined ? {} : { context: job.context }),
  }
}
