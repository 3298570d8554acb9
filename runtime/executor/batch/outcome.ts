/**
 * @module outcome
 * Turns a finished Batch job (or array child) into a {@link JobOutcome} by reading what the agent
 * left in scratch: the output, or the error record (a task error keeps its remote stack), and the
 * tail of the log. A job that ended without an error record (killed, out of memory, timed out,
 * host reclaimed) is an infrastructure failure carrying Batch's status reason.
 */
import { decode } from "../../codec.js"
import { type ErrorRecord, isReductioError } from "../../errors.js"
import { AGENT_EXIT, scratch } from "../../protocol.js"
import type { Storage } from "../../storage/storage.js"
import type { JobOutcome } from "../executor.js"
import type { BatchJobState } from "./batch-client.js"
import type { LogsOptions } from "./cloudwatch-logs.js"

/** Where a call's files are. */
export interface ScratchPlace {
  readonly storage: Storage
  readonly root: string
  readonly evalHash: string
  /** Where the job's CloudWatch log stream is read when the agent left no log (it died first). */
  readonly logs?: LogsOptions | undefined
}

/** Bytes of the log kept in a failure. */
const LOG_TAIL_BYTES = 8 * 1024

/**
 * The outcome of a call whose Batch job reached SUCCEEDED or FAILED, with the times its container
 * started and stopped as Batch reports them.
 */
export async function outcomeOf(place: ScratchPlace, state: BatchJobState): Promise<JobOutcome> {
  const outcome = await outcomeFromScratch(place, state)
  return state.startedAt === undefined ? outcome : { ...outcome, startedAt: state.startedAt, endedAt: state.stoppedAt }
}

async function outcomeFromScratch(place: ScratchPlace, state: BatchJobState): Promise<JobOutcome> {
  if (state.status === "SUCCEEDED") {
    const bytes = await readIfExists(place.storage, scratch.output(place.root, place.evalHash))
    if (bytes !== undefined) return { status: "done", value: decode(bytes) }
    return infrastructure(batchFailure(state, "the job succeeded but wrote no output"), await logTail(place))
  }
  const [record, tail] = await Promise.all([readRecord(place), logTail(place).then((tail) => tail ?? cloudWatchTail(place, state))])
  if (record !== undefined && state.exitCode === AGENT_EXIT.taskFailed)
    return withTail({ status: "failed", kind: record.code === "CANCELLED" ? "cancelled" : "task", error: record }, tail)
  if (record !== undefined && state.exitCode === AGENT_EXIT.infrastructure) {
    return infrastructure({ ...record, details: { ...record.details, ...batchDetails(state) } }, tail)
  }
  return infrastructure(batchFailure(state), tail)
}

/** An infrastructure failure record naming the Batch job and its reasons. */
export function batchFailure(state: BatchJobState, why?: string): ErrorRecord {
  const reasons = [state.statusReason, state.containerReason].filter(
    (reason, index, all): reason is string => reason !== undefined && reason !== "" && all.indexOf(reason) === index,
  )
  const exit = state.exitCode === undefined ? "" : `, exit code ${state.exitCode}`
  return {
    name: "ReductioError",
    message: `AWS Batch job ${state.jobId} ${why ?? "failed"}: ${reasons.join("; ") || "no reason given"}${exit}`,
    code: "INFRASTRUCTURE_FAILURE",
    details: batchDetails(state),
  }
}

function batchDetails(state: BatchJobState): Record<string, unknown> {
  const details: Record<string, unknown> = { batchJobId: state.jobId, batchStatus: state.status }
  if (state.statusReason !== undefined) details.statusReason = state.statusReason
  if (state.containerReason !== undefined) details.containerReason = state.containerReason
  if (state.exitCode !== undefined) details.exitCode = state.exitCode
  if (state.logStreamName !== undefined) details.logStreamName = state.logStreamName
  return details
}

/** An infrastructure failure, with the log tail when there is one. */
export function infrastructure(error: ErrorRecord, tail?: string): JobOutcome {
  return withTail({ status: "failed", kind: "infrastructure", error }, tail)
}

function withTail(outcome: Extract<JobOutcome, { status: "failed" }>, tail: string | undefined): JobOutcome {
  return tail === undefined || tail === "" ? outcome : { ...outcome, logTail: tail }
}

async function readRecord(place: ScratchPlace): Promise<ErrorRecord | undefined> {
  const bytes = await readIfExists(place.storage, scratch.error(place.root, place.evalHash))
  if (bytes === undefined) return undefined
  try {
    return decode(bytes) as ErrorRecord
  } catch {
    return undefined
  }
}

async function logTail(place: ScratchPlace): Promise<string | undefined> {
  const uri = scratch.log(place.root, place.evalHash)
  try {
    const stat = await place.storage.stat(uri)
    if (stat === undefined || stat.size === 0) return undefined
    const bytes = await place.storage.readBytes(uri, { start: Math.max(0, stat.size - LOG_TAIL_BYTES) })
    return new TextDecoder().decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * The tail of the container's CloudWatch log stream: what a container that died before its agent
 * uploaded a log (out of memory at start, an image that would not pull) printed. Best effort.
 */
async function cloudWatchTail(place: ScratchPlace, state: BatchJobState): Promise<string | undefined> {
  if (place.logs === undefined || state.logStreamName === undefined) return undefined
  try {
    const { logStreamTail } = await import("./cloudwatch-logs.js")
    const tail = await logStreamTail(state.logStreamName, place.logs, CLOUDWATCH_TAIL_LINES)
    return tail === undefined ? undefined : tail.slice(-LOG_TAIL_BYTES)
  } catch {
    return undefined
  }
}

/** Lines of a CloudWatch log stream kept in a failure. */
const CLOUDWATCH_TAIL_LINES = 50

/** An object's bytes, or undefined when it does not exist. */
export async function readIfExists(storage: Storage, uri: string): Promise<Uint8Array | undefined> {
  try {
    return await storage.readBytes(uri)
  } catch (error) {
    if (isReductioError(error, "FILE_NOT_FOUND")) return undefined
    throw error
  }
}
