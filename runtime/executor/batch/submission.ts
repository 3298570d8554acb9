/**
 * @module submission
 * Sends one group of calls to AWS Batch: one array job with one indexed S3 input for a group of at least
 * `arrayMinSize` calls, single jobs below it. Arguments never go in the command (SubmitJob's 30 KiB
 * limit): the input is an S3 object and the job gets its URI as a `Ref::input` parameter.
 *
 * Re-attach: each submission leaves a small manifest in scratch (`arrays/<id>/manifest` for an
 * array, whose id is the hash of its input, or `jobs/<eval>/batch-job` for a single job) naming the
 * Batch job. Before submitting, the manifest is read: when it names a job that is still alive (or
 * that succeeded), that job is followed instead of submitting again, so a rerun after a host crash
 * picks up the jobs the crashed run left running.
 */
import { sha256 } from "../../hashing.js"
import { encodeArrayInput, encodeEntries, scratch } from "../../protocol.js"
import type { Storage } from "../../storage/storage.js"
import { type JobRequest, entryOf } from "../executor.js"
import type { BatchApi, BatchStatus, SubmitJobRequest } from "./batch-client.js"
import { readIfExists } from "./outcome.js"

/** Everything a submission needs. */
export interface SubmitContext {
  readonly api: BatchApi
  readonly storage: Storage
  /** The scratch root, `s3://bucket/prefix`. */
  readonly root: string
  /** The code bundle's URI. */
  readonly codeUri: string
  readonly queue: string
  readonly definitionArn: string
  readonly resources: Resources
  readonly tags?: Readonly<Record<string, string>> | undefined
  /** SubmitJob fields of the group's Batch options (priority, share, tag propagation). */
  readonly submitFields?: Pick<SubmitJobRequest, "schedulingPriorityOverride" | "shareIdentifier" | "propagateTags"> | undefined
  readonly log: (message: string) => void
}

/** What one call asks of its container. */
export interface Resources {
  readonly vcpus: number
  /** MiB. */
  readonly memory: number
  readonly gpus: number
  /** Seconds per attempt; AWS's minimum is 60. */
  readonly timeout?: number | undefined
}

/** A Batch job that carries calls: `calls[i]` is array index i (a single job has one call). */
export interface Submitted {
  readonly jobId: string
  /** The array size, undefined for a single job. */
  readonly size: number | undefined
  /** True when an existing job was found and followed instead. */
  readonly reattached: boolean
}

const LIVE: readonly BatchStatus[] = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]

/** Submits (or re-attaches to) one array job running `jobs`, index by index. */
export async function submitArray(context: SubmitContext, jobs: readonly JobRequest[]): Promise<Submitted> {
  // Indexed: each child reads its slot and its entry by Range, not the whole input.
  const bytes = encodeArrayInput(jobs.map(entryOf))
  const arrayId = sha256(bytes).slice(0, 32)
  const manifest = scratch.arrayFile(context.root, arrayId, "manifest")
  const followed = await reattach(context, manifest, jobs)
  if (followed !== undefined) return { jobId: followed, size: jobs.length, reattached: true }
  const input = scratch.arrayInput(context.root, arrayId)
  await context.storage.writeBytes(input, bytes)
  const jobId = await context.api.submitJob({
    ...requestOf(context, jobs[0] as JobRequest, `array-${arrayId.slice(0, 12)}`, input),
    arrayProperties: { size: jobs.length },
  })
  await context.storage.writeBytes(manifest, manifestOf(jobId, jobs.length))
  return { jobId, size: jobs.length, reattached: false }
}

/** Submits (or re-attaches to) a single job for one call. */
export async function submitSingle(context: SubmitContext, job: JobRequest): Promise<Submitted> {
  const manifest = scratch.jobFile(context.root, job.evalHash, "batch-job")
  const followed = await reattach(context, manifest, [job])
  if (followed !== undefined) return { jobId: followed, size: undefined, reattached: true }
  const input = scratch.jobInput(context.root, job.evalHash)
  await context.storage.writeBytes(input, encodeEntries(entryOf(job)))
  const jobId = await context.api.submitJob(requestOf(context, job, job.evalHash.slice(0, 12), input))
  await context.storage.writeBytes(manifest, manifestOf(jobId, undefined))
  return { jobId, size: undefined, reattached: false }
}

/** The Batch job a manifest names, when it is alive or succeeded (and the calls may use its outputs). */
async function reattach(context: SubmitContext, manifestUri: string, jobs: readonly JobRequest[]): Promise<string | undefined> {
  const bytes = await readIfExists(context.storage, manifestUri)
  if (bytes === undefined) return undefined
  let jobId: string
  try {
    jobId = (JSON.parse(new TextDecoder().decode(bytes)) as { jobId: string }).jobId
  } catch {
    return undefined
  }
  if (typeof jobId !== "string") return undefined
  const [state] = await context.api.describeJobs([jobId])
  if (state === undefined) return undefined
  // A live array with a failed child is not followed: that child's call would fail again unseen.
  const healthy = (state.statusSummary?.FAILED ?? 0) === 0
  const reusable =
    (LIVE.includes(state.status) && healthy) || (state.status === "SUCCEEDED" && jobs.every((job) => job.options.cache !== false))
  if (!reusable) return undefined
  context.log(`following AWS Batch job ${jobId} (${state.status}) submitted by an earlier run`)
  return jobId
}

function requestOf(context: SubmitContext, job: JobRequest, suffix: string, input: string): SubmitJobRequest {
  const { vcpus, memory, gpus, timeout } = context.resources
  return {
    jobName: jobNameOf(job.task.name, suffix),
    jobQueue: context.queue,
    jobDefinition: context.definitionArn,
    parameters: { code: context.codeUri, input, scratch: context.root },
    containerOverrides: {
      resourceRequirements: [
        { type: "VCPU", value: String(vcpus) },
        { type: "MEMORY", value: String(memory) },
        ...(gpus > 0 ? [{ type: "GPU" as const, value: String(gpus) }] : []),
      ],
    },
    ...(timeout === undefined ? {} : { timeout: { attemptDurationSeconds: Math.max(60, Math.ceil(timeout)) } }),
    tags: { "reductio:execution": job.executionId, "reductio:task": job.task.name.slice(0, 256), ...context.tags },
    propagateTags: true,
    ...context.submitFields,
  }
}

/** `reductio-<task>-<suffix>`, in Batch's alphabet (letters, digits, `-`, `_`), at most 128 characters. */
export function jobNameOf(taskName: string, suffix: string): string {
  const task = taskName.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 128 - 10 - suffix.length)
  return `reductio-${task}-${suffix}`
}

function manifestOf(jobId: string, size: number | undefined): string {
  return JSON.stringify({ jobId, ...(size === undefined ? {} : { size }), submittedAt: new Date().toISOString() })
}
