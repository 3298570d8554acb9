/**
 * @module job-runner
 * Running one job's body on its executor: the executor started once per execution, the call's
 * named limits held, retries per its options, the body's times taken from the outcome; and a
 * failed outcome turned into the TaskError that names the call.
 */
import { type ErrorRecord, ReductioError, TaskError, toErrorRecord } from "../errors.js"
import { cancelledOutcome, type Executor, type JobOutcome, type JobPlacement, type JobRequest } from "../executor/executor.js"
import type { CallOptions } from "../expression.js"
import { callLabel, previewArgs } from "../preview.js"
import type { SchedulerEvent } from "./events.js"
import type { JobState } from "./job-state.js"
import type { Limits } from "./semaphore.js"

/** What a JobRunner needs from its execution. */
export interface RunnerSettings {
  readonly id: string
  readonly executors: Readonly<Record<string, Executor>>
  readonly defaultExecutor: string
  readonly limits: Limits
  readonly workflowPath: string | undefined
  readonly emit: (event: SchedulerEvent) => void
  readonly signal: AbortSignal
}

/** What the execution does when a job is handed to an executor. */
export interface RunnerHooks {
  /** The job is submitted (its status becomes RUNNING). */
  readonly running: (job: JobState) => void
  /** An executor that batches (has `idle()`) was given a call. */
  readonly submitted: () => void
  /** The executor named where the job runs (its id there, the image). */
  readonly placed?: (job: JobState, where: JobPlacement) => void
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export const CANCELLED_OUTCOME = cancelledOutcome("cancelled before it started")
/** Characters of a failed call's arguments its error message shows. */
const ARGS_PREVIEW_WIDTH = 120

export class JobRunner {
  readonly #started = new Map<string, Promise<void>>()
  /** Executors whose start has resolved: their calls go on without waiting a turn. */
  readonly #ready = new Set<string>()

  constructor(
    private readonly settings: RunnerSettings,
    private readonly hooks: RunnerHooks,
  ) {}

  /** Runs the job's body (with retries); the outcome of its last attempt. */
  async execute(job: JobState, args: unknown[], encodedArgs: Uint8Array, options: CallOptions): Promise<JobOutcome> {
    const executorName = options.executor ?? this.settings.defaultExecutor
    const executor = this.settings.executors[executorName]
    if (executor === undefined) {
      throw new ReductioError(
        "UNKNOWN_EXECUTOR",
        `task ${job.task.name} asks for executor "${executorName}", which is not configured; configured executors: ${Object.keys(this.settings.executors).join(", ")}`,
      )
    }
    const limits = this.settings.limits.resolve(options.limits, job.task.name)
    const retries = Math.max(0, Math.floor(options.retries ?? 0))
    if (!this.#ready.has(executorName)) {
      await this.#start(executorName, executor)
      this.#ready.add(executorName)
    }
    let outcome: JobOutcome = CANCELLED_OUTCOME
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      if (limits.length > 0) await this.settings.limits.acquire(limits)
      try {
        if (this.settings.signal.aborted) return outcome
        job.executor = executorName
        this.hooks.running(job)
        const submittedAt = Date.now()
        const request: Mutable<JobRequest> = {
          executionId: this.settings.id,
          jobId: `${this.settings.id}/${job.seq}`,
          evalHash: job.evalHash,
          argsHash: job.argsHash,
          task: job.task,
          args,
          encodedArgs,
          options,
          attempt,
          signal: this.settings.signal,
        }
        if (job.context !== undefined) request.context = job.context
        const placed = this.hooks.placed
        if (placed !== undefined) request.placed = (where: JobPlacement) => placed(job, where)
        const submitted = executor.submit(request)
        if (executor.idle !== undefined) this.hooks.submitted()
        try {
          outcome = await submitted
        } catch (error) {
          outcome = { status: "failed", kind: "infrastructure", error: toErrorRecord(error) }
        }
        recordBodyTimes(job, outcome, submittedAt)
      } finally {
        if (limits.length > 0) this.settings.limits.release(limits)
      }
      if (outcome.status === "done" || outcome.kind === "cancelled" || this.settings.signal.aborted) return outcome
    }
    return outcome
  }

  #start(name: string, executor: Executor): Promise<void> {
    let started = this.#started.get(name)
    if (started === undefined) {
      started =
        executor.start?.({
          executionId: this.settings.id,
          workflowPath: this.settings.workflowPath,
          log: (message) => this.settings.emit({ type: "log", executionId: this.settings.id, message }),
        }) ?? Promise.resolve()
      this.#started.set(name, started)
    }
    return started
  }
}

/**
 * The body's times from its executor, else from the scheduler's view: submitted, outcome arrived.
 * A call cancelled before it started has none.
 */
function recordBodyTimes(job: JobState, outcome: JobOutcome, submittedAt: number): void {
  if (outcome.startedAt === undefined && outcome.status === "failed" && outcome.kind === "cancelled") return
  job.startedAt = outcome.startedAt ?? submittedAt
  job.bodyEndedAt = outcome.endedAt ?? Date.now()
}

/**
 * What a job's failure raises: a failed outcome becomes a TaskError naming the call (its label,
 * a preview of its arguments, its job), anything else stays as it is.
 */
export function taskErrorOf(
  job: JobState,
  error: unknown,
  args: readonly unknown[],
  parentTaskName: string | undefined,
  executionId: string,
): Error {
  if (isFailedOutcome(error)) {
    const code = error.kind === "task" ? "TASK_FAILED" : error.kind === "cancelled" ? "CANCELLED" : "INFRASTRUCTURE_FAILURE"
    const record: ErrorRecord =
      error.logTail === undefined ? error.error : { ...error.error, details: { ...error.error.details, logTail: error.logTail } }
    return new TaskError(code, {
      task: job.task.name,
      argsHash: job.argsHash,
      evalHash: job.evalHash,
      record,
      label: callLabel(job.task.name, job.name, parentTaskName),
      argsPreview: previewArgs(job.task.name, args, ARGS_PREVIEW_WIDTH),
      jobId: `${executionId}/${job.seq}`,
    })
  }
  return error instanceof Error ? error : new Error(String(error))
}

function isFailedOutcome(value: unknown): value is Extract<JobOutcome, { status: "failed" }> {
  return typeof value === "object" && value !== null && (value as { status?: unknown }).status === "failed" && "kind" in value
}
