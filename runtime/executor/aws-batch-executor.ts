/**
 * @module aws-batch-executor
 * Runs calls on AWS Batch. `start` bundles the workflow and uploads it to `<scratch>/code/`; calls
 * that share a job definition and resources are grouped and sent as one array job when the
 * scheduler reports it has no more ready work (`idle`), after a short backstop delay, or at the
 * largest array size; each child picks its call from one S3 input by `AWS_BATCH_JOB_ARRAY_INDEX`.
 * Job definitions are named by their content and reused. Every Batch call goes through one token
 * bucket; a single monitor follows jobs (array parents by status summary). Task errors come back
 * with their remote stack, infrastructure failures with Batch's status reason and the log tail.
 * Ctrl-C terminates what this run submitted; a rerun after a host crash re-attaches (submission.ts).
 *
 * The pieces live in batch/: batch-client.ts (the SDK), token-bucket.ts, job-definition.ts,
 * array-grouping.ts, submission.ts, monitor.ts, outcome.ts.
 */
import { type ErrorRecord, ReductioError, toErrorRecord } from "../errors.js"
import type { EcrOptions } from "../image/ecr-registry.js"
import { Semaphore } from "../scheduler/semaphore.js"
import type { Storage } from "../storage/storage.js"
import { MAX_ARRAY_SIZE, Grouper } from "./batch/array-grouping.js"
import type { BatchApi, BatchApiOptions, BatchJobState } from "./batch/batch-client.js"
import {
  BATCH_OPTION_NAMES,
  type BatchJobOptions,
  batchOptionsFailure,
  checkBatchOptions,
  checkPlacement,
  mergeBatchOptions,
} from "./batch/batch-options.js"
import { type DefinitionSpec, JobDefinitions } from "./batch/job-definition.js"
import { Monitor, type MonitorOptions } from "./batch/monitor.js"
import { infrastructure, outcomeOf } from "./batch/outcome.js"
import { type Resources, type SubmitContext, type Submitted, submitArray, submitSingle } from "./batch/submission.js"
import { cancelledOutcome, type Executor, type ExecutorContext, type JobOutcome, type JobRequest } from "./executor.js"

/**
 * Options of an {@link AwsBatchExecutor} (the `aws_batch` entry of reductio.config.ts, plus
 * tuning). The {@link BatchJobOptions} here are every job's defaults; a task's or a call's `batch`
 * option refines them.
 */
export interface AwsBatchExecutorOptions
  extends Omit<BatchJobOptions, "queue" | "environment" | "secrets" | "tags" | "role" | "executionRole"> {
  /** The agent image (its entrypoint is `node agent.js`). */
  readonly image: string
  /** Job queue name or ARN. */
  readonly queue: string
  /** `s3://bucket/prefix` for code, inputs, outputs and logs. */
  readonly scratch: string
  /** Job role ARN: the containers' S3 access. */
  readonly role?: string | undefined
  /** Defaults of tasks that set none: vCPUs, memory (MiB), GPUs, timeout (s). */
  readonly vcpus?: number | undefined
  readonly memory?: number | undefined
  readonly gpus?: number | undefined
  readonly timeout?: number | undefined
  /** Batch-level retries of a lost host (spot reclaim); task retries follow each task's `retries`. */
  readonly retries?: number | undefined
  /** Smallest group sent as an array job (default 2, AWS's minimum). */
  readonly arrayMinSize?: number | undefined
  /** Largest array (default and AWS's maximum: 10,000). */
  readonly arrayMaxSize?: number | undefined
  readonly tags?: Readonly<Record<string, string>> | undefined
  readonly region?: string | undefined
  /** Variables every container gets (e.g. an S3 endpoint). In the job definition, in plaintext. */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /**
   * Secret variables every container gets, by name: the ARN of a Secrets Manager secret or an SSM
   * parameter (`{ API_TOKEN: "arn:aws:secretsmanager:…:secret:api-token" }`). Batch reads them as
   * the container starts; a `script({ secretEnv: ["API_TOKEN"] })` then finds the variable.
   */
  readonly secrets?: Readonly<Record<string, string>> | undefined
  /** The execution role Batch reads `secrets` with (secretsmanager:GetSecretValue, ssm:GetParameters). */
  readonly executionRole?: string | undefined
  /** A Batch-compatible endpoint (a test endpoint); default AWS_ENDPOINT_URL_BATCH or AWS. */
  readonly endpoint?: string | undefined
  readonly credentials?: BatchApiOptions["credentials"]
  /** Batch calls per second of the shared token bucket (default 5) and its burst (default 10). */
  readonly callsPerSecond?: number | undefined
  readonly burst?: number | undefined
  /** Backoff of throttled calls: first and longest wait, in ms (tests shorten them). */
  readonly baseBackoffMs?: number | undefined
  readonly maxBackoffMs?: number | undefined
  /**
   * Seconds registration and SubmitJob keep retrying throttling (429) and server errors (5xx)
   * before the calls fail with SERVICE_ERROR (default 600).
   */
  readonly submitDeadline?: number | undefined
  /** Polling: interval bounds and the monitor's share of the call budget. */
  readonly poll?: Omit<MonitorOptions, "log"> | undefined
  /** Longest a call waits for `idle()` before its group is sent anyway, in ms (default 2,000). */
  readonly maxDelayMs?: number | undefined
  /** Pin ECR image tags to their digests (default true); `ecrEndpoint` reaches an emulator. */
  readonly pinImages?: boolean | undefined
  readonly ecrEndpoint?: string | undefined
  /** A CloudWatch Logs endpoint (an emulator) for the log tail of containers that died early. */
  readonly logsEndpoint?: string | undefined
  /** A ready Batch API (tests); the client options above are then ignored. */
  readonly api?: BatchApi | undefined
}

/** One call between `submit` and its outcome. */
interface Pending {
  readonly job: JobRequest
  readonly placement: Placement
  readonly key: string
  readonly resolve: (outcome: JobOutcome) => void
  settled: boolean
  unit?: Unit | undefined
}

/** A Batch job (single or array) and the calls it carries, by index. */
interface Unit {
  jobId: string | undefined
  readonly pendings: readonly Pending[]
}

/** Scratch outputs read at once. */
const READ_CONCURRENCY = 32
/** After the last outcome of a round is read, how long an idle() that came meanwhile waits to be replayed, in ms. */
const IDLE_BACKSTOP_MS = 20

/**
 * @example
 * const batch = new AwsBatchExecutor({ image: "…/reductio-agent:1", queue: "spot", scratch: "s3://bucket/reductio" })
 * const scheduler = new Scheduler({ workflowPath, executors: { batch } })
 * const align = task("align", alignReads, { executor: "batch", vcpus: 4, memory: 8192 })
 */
export class AwsBatchExecutor implements Executor {
  readonly kind = "aws_batch"
  readonly #options: AwsBatchExecutorOptions
  readonly #grouper: Grouper<Pending>
  readonly #reads = new Semaphore(READ_CONCURRENCY)
  readonly #terminations = new Set<Promise<void>>()
  /** Groups between their flush and their Batch job named in a manifest (or their failure). */
  readonly #submissions = new Set<Promise<void>>()
  readonly #live = new Set<Pending>()
  /** Waiting calls by their abort signal: one listener per signal, not one per call (10,000 calls share one). */
  readonly #bySignal = new Map<AbortSignal, Set<Pending>>()
  #context: ExecutorContext | undefined
  #ready: Promise<{ api: BatchApi; storage: Storage; definitions: JobDefinitions; monitor: Monitor }> | undefined
  #code: Promise<string> | undefined
  readonly #images = new Map<string, Promise<string>>()
  #stopped = false
  /** Outcomes being read (a monitoring round's completions), and whether idle() came meanwhile. */
  #reading = 0
  #idleWanted = false

  constructor(options: AwsBatchExecutorOptions) {
    if (!options.scratch.startsWith("s3://")) {
      throw new ReductioError("CONFIG_INVALID", `aws_batch scratch must be an s3:// URI (got ${JSON.stringify(options.scratch)})`)
    }
    this.#options = options
    this.#grouper = new Grouper<Pending>({
      maxSize: Math.min(options.arrayMaxSize ?? MAX_ARRAY_SIZE, MAX_ARRAY_SIZE),
      maxDelayMs: options.maxDelayMs ?? 2_000,
      flush: (key, pendings) => {
        const submission = this.#submitGroup(key, pendings).finally(() => this.#submissions.delete(submission))
        this.#submissions.add(submission)
        return submission
      },
    })
  }

  /** Bundles the workflow and uploads it (only when its hash is new); prepares the Batch client. */
  async start(context: ExecutorContext): Promise<void> {
    this.#context = context
    this.#ready ??= this.#prepare()
    const workflowPath = context.workflowPath
    if (workflowPath !== undefined) {
      this.#code = (async () => {
        const { bundle } = await import("../../bundler/bundle.js")
        const built = await bundle(workflowPath, { scratch: this.#options.scratch })
        return built.uri as string
      })()
      this.#code.catch(() => undefined)
    }
    await Promise.all([this.#ready, this.#code])
  }

  submit(job: JobRequest): Promise<JobOutcome> {
    return new Promise((resolve) => {
      if (job.signal.aborted || this.#stopped) return resolve(cancelledOutcome("cancelled before it was submitted"))
      let placement: Placement
      try {
        placement = this.#placement(job)
      } catch (error) {
        return resolve({ status: "failed", kind: "task", error: toErrorRecord(error) })
      }
      const pending: Pending = { job, placement, key: groupKeyOf(placement), resolve, settled: false }
      this.#listen(pending)
      this.#live.add(pending)
      this.#grouper.add(pending.key, pending)
    })
  }

  /**
   * The scheduler has no more ready work: send every group now. While outcomes of a monitoring
   * round are still being read, their dependents are still to come: the groups wait for them (the
   * scheduler calls `idle()` again once it has submitted them), so one round of completions feeds
   * one array.
   */
  idle(): void {
    if (this.#reading > 0) {
      this.#idleWanted = true
      return
    }
    this.#idleWanted = false
    this.#grouper.flushAll()
  }

  /**
   * Stops following jobs. Calls still waiting settle as cancelled, but their Batch jobs keep running
   * (a rerun re-attaches to them); only an abort (Ctrl-C) terminates jobs. Resolves once every
   * SubmitJob already sent has its manifest written, so a run started after it finds those jobs.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const pending of this.#grouper.drain()) this.#settle(pending, cancelledOutcome("the AWS Batch executor stopped"))
    for (const pending of [...this.#live]) this.#settle(pending, cancelledOutcome("the AWS Batch executor stopped"))
    await Promise.all(this.#submissions)
    await Promise.all(this.#terminations)
    const ready = await this.#ready?.catch(() => undefined)
    ready?.monitor.stop()
    if (this.#options.api === undefined) ready?.api.destroy()
  }

  async #prepare() {
    const { storageFor, useS3RegionIfUnset } = await import("../storage/storage-registry.js")
    // The scratch store's client takes the executor's region unless S3 has one of its own.
    useS3RegionIfUnset(this.#options.region)
    const api =
      this.#options.api ??
      (await import("./batch/batch-client.js")).createBatchApi({
        region: this.#options.region,
        endpoint: this.#options.endpoint,
        credentials: this.#options.credentials,
        callsPerSecond: this.#options.callsPerSecond,
        burst: this.#options.burst,
        baseBackoffMs: this.#options.baseBackoffMs,
        maxBackoffMs: this.#options.maxBackoffMs,
        submitDeadline: this.#options.submitDeadline,
      })
    const monitor = new Monitor(api, { ...this.#options.poll, log: (message) => this.#context?.log(message) })
    return { api, storage: await storageFor(this.#options.scratch), definitions: new JobDefinitions(api), monitor }
  }

  /**
   * Where and how a call runs: the executor's Batch options under the call's `batch`, checked as
   * AWS would check them (BATCH_OPTIONS_INVALID naming the task and the key).
   */
  #placement(job: JobRequest): Placement {
    const fail = batchOptionsFailure(`task ${job.task.name}`)
    if (job.options.batch !== undefined) checkBatchOptions(job.options.batch, "batch", fail)
    const defaults: Record<string, unknown> = {}
    for (const name of BATCH_OPTION_NAMES) defaults[name] = (this.#options as unknown as Record<string, unknown>)[name]
    const options = mergeBatchOptions(defaults as BatchJobOptions, job.options.batch)
    const resources = this.#resources(job)
    checkPlacement(options, resources, fail)
    const { queue, schedulingPriority, shareIdentifier, propagateTags, ...definition } = options
    const image = typeof job.options.image === "string" ? job.options.image : this.#options.image
    return {
      spec: { ...definition, image, hostRetries: this.#options.retries },
      resources,
      queue: queue ?? this.#options.queue,
      tags: options.tags,
      submitFields: {
        ...(schedulingPriority === undefined ? {} : { schedulingPriorityOverride: schedulingPriority }),
        ...(shareIdentifier === undefined ? {} : { shareIdentifier }),
        ...(propagateTags === undefined ? {} : { propagateTags }),
      },
    }
  }

  /** The spec with its image pinned to a digest, resolved once per image. */
  async #pinned(spec: DefinitionSpec): Promise<DefinitionSpec> {
    if (this.#options.pinImages === false) return spec
    let image = this.#images.get(spec.image)
    if (image === undefined) {
      const { pinImage } = await import("./batch/image.js")
      // The ECR client takes the same credentials (static or a provider) as the Batch client.
      const ecr = { endpoint: this.#options.ecrEndpoint, credentials: this.#options.credentials as EcrOptions["credentials"] }
      image = pinImage(spec.image, ecr, (message) => this.#context?.log(message))
      this.#images.set(spec.image, image)
    }
    return { ...spec, image: await image }
  }

  #resources(job: JobRequest): Resources {
    const { options } = job
    return {
      vcpus: options.vcpus ?? this.#options.vcpus ?? 1,
      memory: options.memory ?? this.#options.memory ?? 2048,
      gpus: options.gpus ?? this.#options.gpus ?? 0,
      timeout: options.timeout ?? this.#options.timeout,
    }
  }

  async #submitGroup(key: string, group: readonly Pending[]): Promise<void> {
    try {
      const { api, storage, definitions, monitor } = await this.#prepared()
      if (this.#code === undefined) {
        throw new ReductioError("INVALID_ARGUMENT", "the aws_batch executor was started without a workflow path, so it has no code to ship")
      }
      const codeUri = await this.#code
      const live = group.filter((pending) => !pending.settled)
      const first = live[0]
      if (first === undefined) return
      const { placement } = first
      const pinned = await this.#pinned(placement.spec)
      const context: SubmitContext = {
        api,
        storage,
        root: this.#options.scratch.replace(/\/+$/, ""),
        codeUri,
        queue: placement.queue,
        definitionArn: await definitions.ensure(pinned),
        resources: placement.resources,
        tags: placement.tags,
        submitFields: placement.submitFields,
        log: (message) => this.#context?.log(message),
      }
      const asArray = live.length >= Math.max(2, this.#options.arrayMinSize ?? 2)
      const units = asArray ? [live] : live.map((pending) => [pending])
      await Promise.all(
        units.map(async (pendings) => {
          // Settled meanwhile (cancelled, or the executor stopped): nothing waits on a new job.
          if (pendings.every((pending) => pending.settled)) return
          const unit: Unit = { jobId: undefined, pendings }
          for (const pending of pendings) pending.unit = unit
          const jobs = pendings.map((pending) => pending.job)
          const submitted = asArray ? await submitArray(context, jobs) : await submitSingle(context, jobs[0] as JobRequest)
          this.#follow(unit, submitted, context, monitor)
          for (const [index, pending] of pendings.entries()) {
            const executorJobId = submitted.size === undefined ? submitted.jobId : `${submitted.jobId}:${index}`
            if (!pending.settled) pending.job.placed?.({ executorJobId, image: pinned.image })
          }
        }),
      )
    } catch (error) {
      const record = toErrorRecord(error)
      for (const pending of group) if (pending.unit?.jobId === undefined) this.#settle(pending, infrastructure(submitFailure(key, record)))
    }
  }

  #follow(unit: Unit, submitted: Submitted, context: SubmitContext, monitor: Monitor): void {
    unit.jobId = submitted.jobId
    if (unit.pendings.every((pending) => pending.settled)) {
      // Its calls were cancelled while SubmitJob was in flight: the job goes too. Calls settled by
      // stop() alone leave it running for a rerun to re-attach to, as stop() promises.
      if (unit.pendings.some((pending) => pending.job.signal.aborted)) this.#terminate(unit)
      return
    }
    monitor.watch(submitted.jobId, submitted.size, {
      wanted: () => !this.#stopped && unit.pendings.some((pending) => !pending.settled),
      finished: (index, state) => {
        const pending = unit.pendings[index ?? 0]
        if (pending !== undefined && !pending.settled) void this.#finish(pending, context, state)
      },
    })
  }

  async #finish(pending: Pending, context: SubmitContext, state: BatchJobState): Promise<void> {
    this.#reading++
    try {
      await this.#read(pending, context, state)
    } finally {
      // The scheduler's own idle() normally follows the dependents it submits; this is the backstop
      // for a last completion that made nothing ready.
      if (--this.#reading === 0 && this.#idleWanted) setTimeout(() => this.#reading === 0 && this.idle(), IDLE_BACKSTOP_MS)
    }
  }

  async #read(pending: Pending, context: SubmitContext, state: BatchJobState): Promise<void> {
    await this.#reads.acquire()
    try {
      if (pending.settled) return
      // Against another Batch endpoint (an emulator), Logs is read only where logsEndpoint says.
      const { endpoint, logsEndpoint, region, credentials } = this.#options
      const logs = endpoint !== undefined && logsEndpoint === undefined ? undefined : { region, endpoint: logsEndpoint, credentials }
      const place = { storage: context.storage, root: context.root, evalHash: pending.job.evalHash, logs }
      this.#settle(pending, await outcomeOf(place, state))
    } catch (error) {
      this.#settle(pending, infrastructure(toErrorRecord(error)))
    } finally {
      this.#reads.release()
    }
  }

  /** Ctrl-C: the call settles as cancelled; its Batch job is terminated once no call waits on it. */
  #abort(pending: Pending): void {
    if (pending.settled) return
    this.#grouper.remove(pending.key, pending)
    this.#settle(pending, cancelledOutcome("cancelled by the user"))
    const unit = pending.unit
    if (unit?.jobId !== undefined && unit.pendings.every((other) => other.settled)) this.#terminate(unit)
  }

  #terminate(unit: Unit): void {
    const jobId = unit.jobId
    if (jobId === undefined || this.#ready === undefined) return
    const termination = this.#ready
      .then(({ api }) => api.terminateJob(jobId, "cancelled by reductio"))
      .catch((error: unknown) => this.#context?.log(`cannot terminate AWS Batch job ${jobId}: ${toErrorRecord(error).message}`))
      .finally(() => this.#terminations.delete(termination))
    this.#terminations.add(termination)
  }

  #listen(pending: Pending): void {
    const signal = pending.job.signal
    let pendings = this.#bySignal.get(signal)
    if (pendings === undefined) {
      const group = new Set<Pending>()
      pendings = group
      this.#bySignal.set(signal, group)
      signal.addEventListener("abort", () => {
        this.#bySignal.delete(signal)
        for (const waiting of [...group]) this.#abort(waiting)
      })
    }
    pendings.add(pending)
  }

  #settle(pending: Pending, outcome: JobOutcome): void {
    if (pending.settled) return
    pending.settled = true
    this.#live.delete(pending)
    const pendings = this.#bySignal.get(pending.job.signal)
    pendings?.delete(pending)
    // The signal's listener stays (with an empty group): a later call on it registers anew.
    if (pendings?.size === 0) this.#bySignal.delete(pending.job.signal)
    pending.resolve(outcome)
  }

  #prepared() {
    if (this.#ready === undefined) throw new ReductioError("INVALID_ARGUMENT", "the aws_batch executor was not started")
    return this.#ready
  }
}

/** A call's job definition, resources, queue and SubmitJob settings. */
interface Placement {
  readonly spec: DefinitionSpec
  readonly resources: Resources
  readonly queue: string
  readonly tags: Readonly<Record<string, string>> | undefined
  readonly submitFields: NonNullable<SubmitContext["submitFields"]>
}

/** Calls group together when they share a job definition, resources, queue and SubmitJob settings. */
function groupKeyOf(placement: Placement): string {
  const { spec, resources, queue, tags, submitFields } = placement
  return JSON.stringify([
    spec,
    resources.vcpus,
    resources.memory,
    resources.gpus,
    resources.timeout ?? null,
    queue,
    tags ?? null,
    submitFields,
  ])
}

function submitFailure(key: string, cause: ErrorRecord): ErrorRecord {
  return {
    name: "ReductioError",
    message: `cannot submit to AWS Batch: ${cause.message}`,
    // An outage that outlasted the submission deadline keeps its code: the service, not the call, failed.
    code: cause.code === "SERVICE_ERROR" ? "SERVICE_ERROR" : "INFRASTRUCTURE_FAILURE",
    details: { group: key },
    cause,
  }
}
