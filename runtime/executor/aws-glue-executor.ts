/**
 * @module aws-glue-executor
 * Runs calls as AWS Glue job runs. `start` bundles the workflow and uploads, once and by content,
 * the Python shim (the Glue job script), the agent, the partition mapper and a Node runtime under
 * scratch, then makes sure the Glue job `reductio-<hash16>` exists (one per content hash of its
 * definition; reused through GetJob, never churned). Each call writes its entry to
 * `<scratch>/jobs/<eval>/input` and starts a run of that job with the entry's location as
 * arguments; the shim fetches Node, the agent and the bundle and runs the agent. The executor polls
 * GetJobRun (adaptive interval), then reads the output or error the agent left in scratch.
 *
 * A `partitionTask` call runs on Spark instead: the shim maps the task's Node function over the
 * dataset's shards, one Node process per partition (see docker/glue/README.md).
 *
 * Glue allows MaxConcurrentRuns runs of a job at once: the executor keeps to it, and when Glue still
 * answers ConcurrentRunsExceededException (another host runs the same job) it queues the call and
 * retries with backoff.
 */
import { sha256 } from "../hashing.js"
import { ReductioError, toErrorRecord } from "../errors.js"
import { ShardedDataset, partitionMapperOf, removeStaleParts } from "../dataset.js"
import { Semaphore } from "../scheduler/semaphore.js"
import { useS3RegionIfUnset } from "../storage/storage-registry.js"
import { cancelledOutcome, type Executor, type ExecutorContext, type JobOutcome, type JobRequest } from "./executor.js"
import { type GlueAssets, uploadAssets } from "./glue/assets.js"
import { GLUE_ERRORS, type GlueApi, type GlueJobDefinition, type GlueRunStatus, createGlueApi, glueCodeOf } from "./glue/glue-client.js"
import { checkRemoteArguments, outcomeOf, stageJob, stagePlan } from "./glue/job-files.js"

/** Options of an {@link AwsGlueExecutor}. */
export interface AwsGlueExecutorOptions {
  /** `s3://bucket/prefix` for code, inputs, outputs and logs. */
  readonly scratch: string
  /** The IAM role Glue runs the job as (name or ARN). */
  readonly role: string
  /** The Node linux-x64 tarball (`node-v20.x-linux-x64.tar.xz` from nodejs.org), uploaded once. */
  readonly nodeRuntime: string
  /** Default `G.1X`. */
  readonly workerType?: string
  /** Default 2 (the minimum for glueetl). */
  readonly workers?: number
  /** Default `5.0` (Amazon Linux 2023: official Node builds run on it). */
  readonly glueVersion?: string
  /** Minutes a run may take; default 60. A task's `timeout` (seconds) overrides it per run. */
  readonly timeout?: number
  /** Runs of the job at once (Glue's MaxConcurrentRuns); default 10. */
  readonly maxConcurrentRuns?: number
  readonly region?: string
  /** A custom Glue endpoint (an emulator). */
  readonly endpoint?: string
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
  /** A Glue API to use instead of the SDK's (tests). */
  readonly glue?: GlueApi
  readonly agentPath?: string
  readonly mapperPath?: string
  readonly shimPath?: string
  /** GetJobRun interval: starts at `minMs` (default 5 s), grows to `maxMs` (default 30 s). */
  readonly poll?: { readonly minMs?: number; readonly maxMs?: number }
  /** Backoff after ConcurrentRunsExceededException: from `baseMs` (default 5 s) to `maxMs` (default 60 s). */
  readonly retry?: { readonly baseMs?: number; readonly maxMs?: number }
  /**
   * Test hook: called after each StartJobRun with the run's full arguments (the job's defaults and
   * the run's), before polling. An emulator that runs nothing uses it to run the shim as Glue would.
   */
  readonly runner?: (run: GlueRunStarted) => Promise<void>
}

/** A run as Glue started it. */
export interface GlueRunStarted {
  readonly jobName: string
  readonly runId: string
  /** The job script (the shim). */
  readonly script: string
  /** `--name value` arguments as the script receives them (defaults merged with the run's). */
  readonly arguments: Readonly<Record<string, string>>
}

interface Ready {
  readonly jobName: string
  readonly codeUri: string
  readonly defaults: Readonly<Record<string, string>>
  readonly script: string
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED"])

/**
 * @example
 * const glue = new AwsGlueExecutor({ scratch: "s3://lab/reductio", role: "ReductioGlue",
 *   nodeRuntime: "vendor/node-v20.18.0-linux-x64.tar.xz" })
 * const scheduler = new Scheduler({ workflowPath, executors: { glue } })
 */
export class AwsGlueExecutor implements Executor {
  readonly kind = "aws_glue"
  readonly #options: AwsGlueExecutorOptions
  readonly #glue: GlueApi
  readonly #slots: Semaphore
  #ready: Promise<Ready> | undefined
  #log: (message: string) => void = () => undefined
  #stopped = false

  constructor(options: AwsGlueExecutorOptions) {
    if (!options.scratch.startsWith("s3://"))
      throw new ReductioError("CONFIG_INVALID", `the aws_glue executor's scratch must be an s3:// prefix (got ${options.scratch})`, {
        details: { key: "scratch" },
      })
    if (typeof options.role !== "string" || options.role === "")
      throw new ReductioError("CONFIG_INVALID", "the aws_glue executor needs role: the IAM role Glue runs jobs as", {
        details: { key: "role" },
      })
    this.#options = options
    // The scratch store's client takes the executor's region unless S3 has one of its own.
    useS3RegionIfUnset(options.region)
    this.#glue = options.glue ?? createGlueApi({ region: options.region, endpoint: options.endpoint, credentials: options.credentials })
    this.#slots = new Semaphore(this.#maxConcurrentRuns)
  }

  get #maxConcurrentRuns(): number {
    return this.#options.maxConcurrentRuns ?? 10
  }

  /** Bundles the workflow, uploads the assets and makes sure the Glue job exists. */
  async start(context: ExecutorContext): Promise<void> {
    this.#log = context.log
    const workflowPath = context.workflowPath
    this.#ready = (async () => {
      if (workflowPath === undefined)
        throw new ReductioError("INVALID_ARGUMENT", "the aws_glue executor was not started with a workflow path, so it has no code to ship")
      const { bundle } = await import("../../bundler/bundle.js")
      const [code, assets] = await Promise.all([
        bundle(workflowPath, { scratch: this.#options.scratch }),
        uploadAssets(this.#options.scratch, this.#options),
      ])
      return this.#ensureJob(code.uri as string, assets)
    })()
    this.#ready.catch(() => undefined)
    await this.#ready
  }

  async submit(job: JobRequest): Promise<JobOutcome> {
    try {
      checkRemoteArguments(job.args, job.task.name)
    } catch (error) {
      return { status: "failed", kind: "task", error: toErrorRecord(error) }
    }
    try {
      if (this.#ready === undefined) throw new ReductioError("INVALID_ARGUMENT", "the aws_glue executor was not started")
      const ready = await this.#ready
      await this.#slots.acquire()
      try {
        if (job.signal.aborted || this.#stopped) return cancelledOutcome("cancelled before it started")
        return await this.#run(job, ready)
      } finally {
        this.#slots.release()
      }
    } catch (error) {
      return { status: "failed", kind: "infrastructure", error: toErrorRecord(error) }
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#glue.destroy()
  }

  async #ensureJob(codeUri: string, assets: GlueAssets): Promise<Ready> {
    const root = this.#options.scratch
    const defaults: Record<string, string> = {
      "--job-language": "python",
      "--reductio_scratch": root,
      "--reductio_agent": assets.agent.uri,
      "--reductio_agent_sha256": assets.agent.sha256,
      "--reductio_mapper": assets.mapper.uri,
      "--reductio_mapper_sha256": assets.mapper.sha256,
      "--reductio_runtime": assets.runtime.uri,
      "--reductio_runtime_sha256": assets.runtime.sha256,
    }
    const content = {
      role: this.#options.role,
      scriptLocation: assets.shim.uri,
      glueVersion: this.#options.glueVersion ?? "5.0",
      workerType: this.#options.workerType ?? "G.1X",
      workers: this.#options.workers ?? 2,
      timeout: this.#options.timeout ?? 60,
      maxConcurrentRuns: this.#maxConcurrentRuns,
      defaultArguments: defaults,
    }
    const name = `reductio-${sha256(JSON.stringify(content, Object.keys(content).sort())).slice(0, 16)}`
    const definition: GlueJobDefinition = { ...content, name, description: `reductio agent job (scratch ${root})` }
    if (await this.#glue.jobExists(name)) this.#log(`aws_glue: reusing Glue job ${name}`)
    else {
      await this.#glue.createJob(definition)
      this.#log(`aws_glue: created Glue job ${name}`)
    }
    return { jobName: name, codeUri, defaults, script: assets.shim.uri }
  }

  async #run(job: JobRequest, ready: Ready): Promise<JobOutcome> {
    const root = this.#options.scratch
    const input = await stageJob(root, job)
    const partition = partitionMapperOf(job.task.name) !== undefined
    const plan = partition ? await stagePlan(root, job) : undefined
    if (plan !== undefined) await removeStaleParts(plan.output, plan.shards.length)
    const runArguments = {
      "--reductio_code": ready.codeUri,
      "--reductio_input": input,
      "--reductio_eval": job.evalHash,
      "--reductio_mode": partition ? "partition" : "job",
    }
    const timeoutSeconds = typeof job.options.timeout === "number" ? job.options.timeout : undefined
    const runId = await this.#startRun(
      job,
      ready.jobName,
      runArguments,
      timeoutSeconds === undefined ? undefined : Math.ceil(timeoutSeconds / 60),
    )
    if (runId === undefined) return cancelledOutcome("cancelled while waiting for a Glue run slot")
    this.#log(`aws_glue: ${job.task.name} (${job.evalHash.slice(0, 12)}) is Glue run ${runId}`)
    if (this.#options.runner !== undefined) {
      await this.#options.runner({ jobName: ready.jobName, runId, script: ready.script, arguments: { ...ready.defaults, ...runArguments } })
    }
    const status = await this.#poll(job, ready.jobName, runId)
    if (status === undefined) return cancelledOutcome(`cancelled; stopped Glue run ${runId}`)
    const result = plan === undefined ? undefined : () => new ShardedDataset(plan.output, { format: "jsonl" })
    return outcomeOf(root, job, { jobName: ready.jobName, runId, status }, result)
  }

  /** StartJobRun, queued with backoff while Glue reports ConcurrentRunsExceeded. Undefined when cancelled. */
  async #startRun(
    job: JobRequest,
    jobName: string,
    args: Record<string, string>,
    timeout: number | undefined,
  ): Promise<string | undefined> {
    const base = this.#options.retry?.baseMs ?? 5_000
    const max = this.#options.retry?.maxMs ?? 60_000
    for (let attempt = 0; ; attempt++) {
      if (job.signal.aborted || this.#stopped) return undefined
      try {
        return await this.#glue.startJobRun({ jobName, arguments: args, timeout })
      } catch (error) {
        if (glueCodeOf(error) !== GLUE_ERRORS.concurrentRuns) throw error
        if (attempt === 0) this.#log(`aws_glue: ${jobName} is at its concurrent run limit; ${job.task.name} waits for a slot`)
        const delay = Math.min(max, base * 2 ** Math.min(attempt, 10))
        await sleep(delay / 2 + Math.random() * (delay / 2), job.signal)
      }
    }
  }

  /** Polls until the run ends; stops it and returns undefined when the job is cancelled. */
  async #poll(job: JobRequest, jobName: string, runId: string): Promise<GlueRunStatus | undefined> {
    const max = this.#options.poll?.maxMs ?? 30_000
    let interval = this.#options.poll?.minMs ?? 5_000
    for (;;) {
      if (job.signal.aborted || this.#stopped) {
        await this.#glue.stopJobRun(jobName, runId).catch((error: unknown) => this.#log(`aws_glue: cannot stop ${runId}: ${String(error)}`))
        return undefined
      }
      const status = await this.#glue.getJobRun(jobName, runId)
      if (TERMINAL.has(status.state)) return status
      await sleep(interval, job.signal)
      interval = Math.min(max, Math.ceil(interval * 1.5))
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener("abort", done, { once: true })
  })
}
