/**
 * @module events
 * What a scheduler tells a host app (and the CLI's progress display) while it runs.
 */
import type { ExecutionStatus, JobStatus } from "../backend/backend.js"

/** A job changed status. */
export interface JobEvent {
  readonly type: "job"
  readonly executionId: string
  readonly seq: number
  readonly task: string
  readonly status: JobStatus
  /** The status before this change, or undefined for a new job. */
  readonly previous: JobStatus | undefined
  readonly evalHash: string
}

/**
 * A cached job reused a recorded call tree whole (call replay): the calls below it count as
 * cached, without a job of their own.
 */
export interface ReusedCallsEvent {
  readonly type: "reused-calls"
  readonly executionId: string
  /** The job that reused them. */
  readonly seq: number
  readonly task: string
  /** Reused calls per task name. */
  readonly calls: Readonly<Record<string, number>>
}

/** An execution started. */
export interface ExecutionStartedEvent {
  readonly type: "execution-started"
  readonly executionId: string
  readonly startedAt: number
}

/** An execution ended. */
export interface ExecutionFinishedEvent {
  readonly type: "execution-finished"
  readonly executionId: string
  readonly status: ExecutionStatus
  readonly endedAt: number
  readonly error?: unknown
}

/** A message from an executor (bundling, submitting an array job, ...). */
export interface LogEvent {
  readonly type: "log"
  readonly executionId: string
  readonly message: string
}

export type SchedulerEvent = JobEvent | ReusedCallsEvent | ExecutionStartedEvent | ExecutionFinishedEvent | LogEvent
