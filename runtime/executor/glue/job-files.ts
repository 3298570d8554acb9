/**
 * @module job-files
 * The executor's side of a Glue job's scratch files: checks a call can run remotely (no local
 * files in its arguments), writes its entry (and a partition plan), and turns what the shim and
 * the agent left behind into an outcome.
 *
 * Besides the protocol's files, the shim writes `<scratch>/jobs/<eval>/glue-status.json`
 * (`{ "exitCode": n }`), so the host tells a task failure (1) from an infrastructure failure (2)
 * even when Glue reports both as FAILED; the executor writes `jobs/<eval>/partitions.json` for a
 * partition task.
 */
import { decode } from "../../codec.js"
import { type Shard, isShardedDataset } from "../../dataset.js"
import { type ErrorRecord, ReductioError } from "../../errors.js"
import { isDir, isFile, isStagingFile } from "../../file.js"
import { AGENT_EXIT, encodeEntries, PROTOCOL_VERSION, scratch } from "../../protocol.js"
import { isS3Uri, storageFor } from "../../storage/storage-registry.js"
import type { JobOutcome, JobRequest } from "../executor.js"
import type { GlueRunStatus } from "./glue-client.js"

/** Bytes of the job's log kept for a failure. */
const TAIL_BYTES = 8 * 1024

/** The shim's status file and the executor's partition plan, beside the protocol's files. */
export const glueFiles = {
  status: (root: string, evalHash: string) => scratch.jobFile(root, evalHash, "glue-status.json"),
  plan: (root: string, evalHash: string) => scratch.jobFile(root, evalHash, "partitions.json"),
} as const

/** What the shim needs to map a partition task over a dataset (JSON, read by Python). */
export interface PartitionPlan {
  readonly task: string
  readonly format: string
  readonly output: string
  readonly shards: readonly Shard[]
}

/**
 * Throws INVALID_ARGUMENT naming the first argument that lives on the host's disk (a local File,
 * Dir, StagingFile or dataset): a Glue worker cannot read it.
 */
export function checkRemoteArguments(args: readonly unknown[], taskName: string): void {
  const local = findLocal(args, "args")
  if (local === undefined) return
  throw new ReductioError(
    "INVALID_ARGUMENT",
    `task ${taskName} runs on AWS Glue but ${local.path} is the local path ${local.uri}, which a Glue worker cannot read: pass an s3:// File (upload it first, e.g. await new File("${local.uri}").copyTo("s3://bucket/…"))`,
    { details: { path: local.path, uri: local.uri } },
  )
}

function findLocal(value: unknown, path: string): { path: string; uri: string } | undefined {
  if (typeof value !== "object" || value === null) return undefined
  const uri = isFile(value)
    ? value.path
    : isDir(value)
      ? value.path
      : isStagingFile(value)
        ? value.remote.path
        : isShardedDataset(value)
          ? value.path
          : undefined
  if (uri !== undefined) return isS3Uri(uri) || uri === "-" ? undefined : { path, uri }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((item, i) => [`${path}[${i}]`, item])
    : value instanceof Map
      ? [...value].map(([key, item]) => [`${path}.get(${JSON.stringify(key)})`, item])
      : value instanceof Set
        ? [...value].map((item, i) => [`${path}.values[${i}]`, item])
        : Object.getPrototypeOf(value) === Object.prototype
          ? Object.entries(value).map(([key, item]) => [`${path}.${key}`, item])
          : []
  for (const [childPath, item] of entries) {
    const found = findLocal(item, childPath)
    if (found !== undefined) return found
  }
  return undefined
}

/** Removes what an earlier run of this call left and writes its entry; returns the input's URI. */
export async function stageJob(root: string, job: JobRequest): Promise<string> {
  const storage = await storageFor(root)
  const stale = [scratch.output, scratch.error, scratch.log, glueFiles.status, glueFiles.plan].map((path) => path(root, job.evalHash))
  await Promise.all(stale.map((uri) => storage.delete(uri)))
  const input = scratch.jobInput(root, job.evalHash)
  // hashIncludes only shapes the task hash on the host; it may hold functions, which cannot travel.
  const { hashIncludes: _hashOnly, ...options } = job.options as typeof job.options & { hashIncludes?: unknown }
  const entry = {
    protocol: PROTOCOL_VERSION,
    evalHash: job.evalHash,
    task: job.task.name,
    args: job.args,
    options,
    ...(job.context === undefined ? {} : { context: job.context }),
  }
  await storage.writeBytes(input, encodeEntries(entry))
  return input
}

/** Writes the partition plan of a partition task call (`args` = [dataset, output prefix]). */
export async function stagePlan(root: string, job: JobRequest): Promise<PartitionPlan> {
  const [dataset, output] = job.args
  if (!isShardedDataset(dataset) || typeof output !== "string" || !isS3Uri(output)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `partition task ${job.task.name} takes (ShardedDataset, "s3://…output prefix") on AWS Glue; got (${describe(dataset)}, ${describe(output)})`,
    )
  }
  const plan: PartitionPlan = {
    task: job.task.name,
    format: dataset.format ?? "jsonl",
    output: output.replace(/\/+$/, ""),
    shards: await dataset.shards(),
  }
  const uri = glueFiles.plan(root, job.evalHash)
  await (await storageFor(uri)).writeBytes(uri, JSON.stringify(plan))
  return plan
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : value === null ? "null" : typeof value
}

/** Where a run ended, as the executor saw it. */
export interface RunEnd {
  readonly jobName: string
  readonly runId: string
  readonly status: GlueRunStatus
}

/**
 * The outcome of a finished run, from scratch first (what the agent wrote is the truth), then from
 * Glue's state. Nothing counts as done unless the run SUCCEEDED and its result is readable.
 */
export async function outcomeOf(root: string, job: JobRequest, end: RunEnd, partitionResult?: () => unknown): Promise<JobOutcome> {
  const outcome = await outcomeFromScratch(root, job, end, partitionResult)
  const { startedOn, completedOn } = end.status
  return startedOn === undefined ? outcome : { ...outcome, startedAt: startedOn, endedAt: completedOn }
}

async function outcomeFromScratch(root: string, job: JobRequest, end: RunEnd, partitionResult?: () => unknown): Promise<JobOutcome> {
  const storage = await storageFor(root)
  const exitCode = await readExitCode(root, job.evalHash)
  const succeeded = end.status.state === "SUCCEEDED"
  if (succeeded && (exitCode === undefined || exitCode === AGENT_EXIT.done)) {
    if (partitionResult !== undefined && exitCode === AGENT_EXIT.done) return { status: "done", value: partitionResult() }
    const bytes =
      partitionResult === undefined ? await storage.readBytes(scratch.output(root, job.evalHash)).catch(() => undefined) : undefined
    if (bytes !== undefined) return { status: "done", value: decode(bytes) }
  }
  const record = await readRecord(root, job.evalHash)
  const logTail = await readLogTail(root, job.evalHash)
  if (record !== undefined && exitCode === AGENT_EXIT.taskFailed) return failed("task", record, logTail)
  if (record !== undefined) return failed("infrastructure", record, logTail)
  const glue = `Glue run ${end.runId} of job ${end.jobName} ended ${end.status.state}`
  const why = succeeded
    ? `${glue} but left no ${partitionResult === undefined ? "output" : "status"} in ${scratch.output(root, job.evalHash).replace(/\/output$/, "")}`
    : `${glue}${end.status.errorMessage === undefined ? "" : `: ${end.status.errorMessage}`}`
  const details = { glueState: end.status.state, runId: end.runId, jobName: end.jobName, errorMessage: end.status.errorMessage }
  return failed("infrastructure", { name: "ReductioError", message: why, code: "INFRASTRUCTURE_FAILURE", details }, logTail)
}

async function readExitCode(root: string, evalHash: string): Promise<number | undefined> {
  const uri = glueFiles.status(root, evalHash)
  const bytes = await (await storageFor(uri)).readBytes(uri).catch(() => undefined)
  if (bytes === undefined) return undefined
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as { exitCode?: unknown }
    return typeof parsed.exitCode === "number" ? parsed.exitCode : undefined
  } catch {
    return undefined
  }
}

async function readRecord(root: string, evalHash: string): Promise<ErrorRecord | undefined> {
  const uri = scratch.error(root, evalHash)
  const bytes = await (await storageFor(uri)).readBytes(uri).catch(() => undefined)
  if (bytes === undefined) return undefined
  try {
    return decode(bytes) as ErrorRecord
  } catch {
    return undefined
  }
}

/** The last bytes of `<scratch>/jobs/<eval>/log`, when there is one. */
export async function readLogTail(root: string, evalHash: string): Promise<string | undefined> {
  const uri = scratch.log(root, evalHash)
  const storage = await storageFor(uri)
  const info = await storage.stat(uri).catch(() => undefined)
  if (info === undefined || info.size === 0) return undefined
  const bytes = await storage.readBytes(uri, { start: Math.max(0, info.size - TAIL_BYTES) }).catch(() => undefined)
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8")
}

function failed(kind: "task" | "infrastructure", error: ErrorRecord, logTail: string | undefined): JobOutcome {
  return logTail === undefined ? { status: "failed", kind, error } : { status: "failed", kind, error, logTail }
}
