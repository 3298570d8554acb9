/**
 * @module batch-command
 * `reductio batch ls [--execution REF]`, `reductio batch kill <execution>` and
 * `reductio batch logs <job or eval-hash prefix>`: the AWS Batch jobs of executions, from the job
 * rows that name their Batch job id (and image) plus DescribeJobs; TerminateJob; a job's log from
 * the agent's upload in scratch, else its CloudWatch log stream.
 */
import type { Backend, ExecutionView, JobView } from "../backend/backend.js"
import type { AwsBatchExecutorConfig } from "../config/config.js"
import type { LoadedConfig } from "../config/load-config.js"
import { ReductioError } from "../errors.js"
import type { BatchApi, BatchJobState } from "../executor/batch/batch-client.js"
import { scratch } from "../protocol.js"
import type { CliIo } from "./io.js"
import { latestExecution, resolveExecution, resolveRef } from "./log-resolve.js"
import type { CommandRegistration } from "./main.js"
import { withProjectBackend } from "./project-backend.js"

interface BatchFlags {
  json?: boolean
  db?: string
  config?: string
  executor?: string
  execution?: string
  lines?: string
}

const FINAL = new Set(["SUCCEEDED", "FAILED"])

export const registerBatchCommand: CommandRegistration = (program, io, done) => {
  const batch = program
    .command("batch")
    .summary("list, follow the logs of and terminate the AWS Batch jobs of executions")
    .description(
      "The AWS Batch jobs of executions, found through the job rows that name their Batch job ids.\n" +
        "The Batch client uses the aws_batch executor of the configuration (--executor NAME when there are several).",
    )
  const common = (command: ReturnType<typeof batch.command>) =>
    command
      .option("--json", "print JSON")
      .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
      .option("--config <path>", "configuration file")
      .option("--executor <name>", "the aws_batch executor whose region and scratch to use")
  common(batch.command("ls").summary("list an execution's Batch jobs with their Batch status"))
    .option("--execution <ref>", "execution id or prefix (default: the latest, -)")
    .action(async (flags: BatchFlags) => done(await lsCommand(io, flags)))
  common(batch.command("kill").summary("terminate an execution's Batch jobs that have not finished (TerminateJob)"))
    .argument("<execution>", "execution id or prefix, or - for the latest")
    .action(async (ref: string, flags: BatchFlags) => done(await killCommand(io, ref, flags)))
  common(batch.command("logs").summary("print a Batch job's log: the agent's upload, else its CloudWatch log stream"))
    .argument("<job>", "<execution>/<seq>, or an eval-hash prefix (the newest job of that call)")
    .option("--lines <n>", "CloudWatch lines to read (default 200)")
    .action(async (ref: string, flags: BatchFlags) => done(await logsCommand(io, ref, flags)))
}

/** The configuration's aws_batch executor: `--executor`, else the only one. */
export function batchExecutorConfig(loaded: LoadedConfig, name: string | undefined): AwsBatchExecutorConfig {
  const batches = Object.entries(loaded.config.executors ?? {}).filter(([, config]) => config.type === "aws_batch")
  const found = name === undefined ? (batches.length === 1 ? batches[0] : undefined) : batches.find(([executor]) => executor === name)
  if (found === undefined) {
    const names = batches.map(([executor]) => executor)
    throw new ReductioError(
      "INVALID_ARGUMENT",
      names.length === 0
        ? "the configuration defines no aws_batch executor"
        : name === undefined
          ? `several aws_batch executors are configured: choose one with --executor (${names.join(", ")})`
          : `no aws_batch executor named ${JSON.stringify(name)}; configured: ${names.join(", ")}`,
    )
  }
  return found[1] as AwsBatchExecutorConfig
}

async function batchApi(config: AwsBatchExecutorConfig): Promise<BatchApi> {
  const { createBatchApi } = await import("../executor/batch/batch-client.js")
  return createBatchApi({ region: config.region })
}

/** The jobs of an execution that ran on Batch. */
async function batchJobs(backend: Backend, execution: ExecutionView): Promise<JobView[]> {
  return (await backend.listJobs(execution.id)).filter((job) => typeof job.executorJobId === "string")
}

function lsCommand(io: CliIo, flags: BatchFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend, loaded) => {
    const execution = flags.execution === undefined ? await latestExecution(backend) : await resolveExecution(backend, flags.execution)
    const jobs = await batchJobs(backend, execution)
    const states = new Map<string, BatchJobState>()
    if (jobs.length > 0) {
      const api = await batchApi(batchExecutorConfig(loaded, flags.executor))
      try {
        for (const state of await api.describeJobs(jobs.map((job) => job.executorJobId as string))) states.set(state.jobId, state)
      } finally {
        api.destroy()
      }
    }
    const rows = jobs.map((job) => {
      const state = states.get(job.executorJobId as string)
      return {
        seq: job.seq,
        task: job.taskName,
        status: job.status,
        batchJobId: job.executorJobId as string,
        batchStatus: state?.status ?? "UNKNOWN",
        ...(state?.statusReason === undefined ? {} : { statusReason: state.statusReason }),
        ...(job.image == null ? {} : { image: job.image }),
      }
    })
    if (flags.json === true) {
      io.out(`${JSON.stringify({ executionId: execution.id, jobs: rows })}\n`)
      return
    }
    io.out(`execution ${execution.id}: ${rows.length} AWS Batch job${rows.length === 1 ? "" : "s"}\n`)
    for (const row of rows) {
      const reason = row.statusReason === undefined ? "" : `  ${row.statusReason.slice(0, 120)}`
      io.out(
        `  #${String(row.seq).padEnd(5)} ${row.task.padEnd(24)} ${row.status.padEnd(9)} ${row.batchJobId}  ${row.batchStatus}${reason}\n`,
      )
    }
  })
}

function killCommand(io: CliIo, ref: string, flags: BatchFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend, loaded) => {
    const execution = await resolveExecution(backend, ref)
    // TerminateJob on an array parent stops all its children: one call per Batch job, not per call.
    const topLevel = [...new Set((await batchJobs(backend, execution)).map((job) => (job.executorJobId as string).split(":")[0] as string))]
    const terminated: string[] = []
    const finished: string[] = []
    if (topLevel.length > 0) {
      const api = await batchApi(batchExecutorConfig(loaded, flags.executor))
      try {
        const states = new Map((await api.describeJobs(topLevel)).map((state) => [state.jobId, state]))
        for (const jobId of topLevel) {
          const state = states.get(jobId)
          if (state !== undefined && FINAL.has(state.status)) {
            finished.push(jobId)
            continue
          }
          await api.terminateJob(jobId, `terminated by reductio batch kill ${execution.id}`)
          terminated.push(jobId)
        }
      } finally {
        api.destroy()
      }
    }
    if (flags.json === true) io.out(`${JSON.stringify({ executionId: execution.id, terminated, finished })}\n`)
    else {
      io.out(`execution ${execution.id}: terminated ${terminated.length} AWS Batch job${terminated.length === 1 ? "" : "s"}`)
      io.out(`${finished.length === 0 ? "" : ` (${finished.length} had already finished)`}\n`)
      for (const jobId of terminated) io.out(`  ${jobId}\n`)
    }
  })
}

function logsCommand(io: CliIo, ref: string, flags: BatchFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend, loaded) => {
    const found = await resolveRef(backend, ref)
    if (found.kind !== "job") {
      throw new ReductioError("INVALID_ARGUMENT", `"${ref}" names an execution: give <execution>/<seq> or an eval-hash prefix of one job`)
    }
    const lines = lineCount(flags.lines)
    const { job } = found
    const config = batchExecutorConfig(loaded, flags.executor)
    const { source, text } = await jobLog(job, config, lines)
    if (flags.json === true)
      io.out(`${JSON.stringify({ executionId: job.executionId, seq: job.seq, batchJobId: job.executorJobId, source, log: text })}\n`)
    else io.out(text.endsWith("\n") || text === "" ? text : `${text}\n`)
  })
}

/** The agent's log in scratch, else the CloudWatch stream of the job's Batch job. */
async function jobLog(job: JobView, config: AwsBatchExecutorConfig, lines: number): Promise<{ source: string; text: string }> {
  const { storageFor } = await import("../storage/storage-registry.js")
  const { readIfExists } = await import("../executor/batch/outcome.js")
  const root = config.scratch.replace(/\/+$/, "")
  const uri = scratch.log(root, job.evalHash)
  const uploaded = await readIfExists(await storageFor(uri), uri)
  if (uploaded !== undefined) return { source: uri, text: new TextDecoder().decode(uploaded) }
  if (typeof job.executorJobId !== "string") {
    throw new ReductioError(
      "NOT_FOUND",
      `job ${job.executionId}/${job.seq} (${job.taskName}) left no log in ${root} and did not run on AWS Batch`,
    )
  }
  const api = await batchApi(config)
  let stream: string | undefined
  try {
    stream = (await api.describeJobs([job.executorJobId]))[0]?.logStreamName
  } finally {
    api.destroy()
  }
  const { logStreamTail, BATCH_LOG_GROUP } = await import("../executor/batch/cloudwatch-logs.js")
  const text = stream === undefined ? undefined : await logStreamTail(stream, { region: config.region }, lines)
  if (text === undefined) {
    throw new ReductioError(
      "NOT_FOUND",
      `no log for job ${job.executionId}/${job.seq} (AWS Batch job ${job.executorJobId}): none in ${root}, and ${stream === undefined ? "Batch names no log stream (the container never started, or the job is older than Batch keeps)" : `no CloudWatch stream ${BATCH_LOG_GROUP}/${stream}`}`,
    )
  }
  return { source: `cloudwatch:${BATCH_LOG_GROUP}/${stream}`, text }
}

function lineCount(text: string | undefined): number {
  if (text === undefined) return 200
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
    throw new ReductioError("INVALID_ARGUMENT", `--lines must be a whole number from 1 to 10000 (got ${JSON.stringify(text.slice(0, 40))})`)
  }
  return Number(text)
}
