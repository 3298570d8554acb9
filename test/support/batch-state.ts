/**
 * @module batch-state
 * The job model behind the test Batch endpoint (batch-endpoint.ts): job definitions, jobs, array
 * children, their lifecycle, and the API actions over them. Statuses, reasons and limits follow
 * AWS Batch's documented behaviour.
 */
import { randomUUID } from "node:crypto"
import type { BatchFaults, ChildSpec, RunningChild } from "./batch-endpoint.js"

type Json = Record<string, unknown>

const STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"] as const
type Status = (typeof STATUSES)[number]
const TERMINAL: readonly Status[] = ["SUCCEEDED", "FAILED"]

/** One registered job definition revision. */
interface Definition {
  readonly name: string
  readonly revision: number
  readonly arn: string
  status: "ACTIVE" | "INACTIVE"
  readonly body: Json
}

/** One job: a single job, an array parent, or an array child. */
export interface JobRecord {
  readonly jobId: string
  readonly jobName: string
  readonly jobArn: string
  readonly jobQueue: string
  readonly definition: Definition
  readonly request: Json
  status: Status
  statusReason?: string | undefined
  readonly createdAt: number
  startedAt?: number | undefined
  stoppedAt?: number | undefined
  exitCode?: number | undefined
  containerReason?: string | undefined
  attempts: Json[]
  attempt: number
  readonly index?: number | undefined
  readonly parent?: JobRecord | undefined
  readonly children: JobRecord[]
  readonly size?: number | undefined
  running?: RunningChild | undefined
  /** Set by TerminateJob: the running child is being stopped for this reason. */
  terminating?: string | undefined
  /** Ended, but not shown ended until the next batch of completions. */
  ending?: boolean | undefined
  output: string
}

interface StateOptions {
  readonly region: string
  readonly accountId: string
  readonly concurrency: number
  readonly faults: BatchFaults
  readonly launch: (job: JobRecord, spec: ChildSpec) => RunningChild
  readonly entrypoint: readonly string[]
  readonly env: Readonly<Record<string, string>>
  /** The job queues that exist (names and ARNs); undefined accepts any queue. */
  readonly jobQueues?: readonly string[] | undefined
  /** Reads a job definition secret's value (`valueFrom`), as Batch does when a container starts. */
  readonly resolveSecret?: ((valueFrom: string) => Promise<string>) | undefined
  /** Jobs that end are shown ended in batches, every this many ms (0: at once). */
  readonly completionBatchMs?: number | undefined
}

/** An error answered as AWS does: an HTTP status, `x-amzn-errortype` and a JSON message. */
export class BatchApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message)
    this.name = "BatchApiError"
  }
}

const clientError = (message: string) => new BatchApiError(400, "ClientException", message)

/** The endpoint's jobs and definitions. */
export class BatchState {
  readonly definitions: Definition[] = []
  readonly jobs = new Map<string, JobRecord>()
  readonly #queue: JobRecord[] = []
  #running = 0
  #closed = false
  /** Endings held back until the next batch of completions. */
  #endings: (() => void)[] = []
  #endingTimer: NodeJS.Timeout | undefined

  constructor(readonly options: StateOptions) {}

  /** Top-level jobs (singles and array parents), in submission order. */
  topLevelJobs(): JobRecord[] {
    return [...this.jobs.values()].filter((job) => job.parent === undefined)
  }

  /** Answers one API action; throws an ApiError-like error for 4xx answers. */
  call(action: string, body: Json): Json {
    switch (action) {
      case "RegisterJobDefinition":
        return this.#register(body)
      case "DescribeJobDefinitions":
        return this.#describeDefinitions(body)
      case "SubmitJob":
        return this.#submit(body)
      case "DescribeJobs":
        return this.#describeJobs(body)
      case "ListJobs":
        return this.#listJobs(body)
      case "TerminateJob":
        return this.#stopJob(body, true)
      case "CancelJob":
        return this.#stopJob(body, false)
      default:
        throw new BatchApiError(404, "UnknownOperationException", `unknown operation ${action}`)
    }
  }

  /** Kills every running child and stops starting new ones. */
  async shutdown(): Promise<void> {
    this.#closed = true
    if (this.#endingTimer !== undefined) clearTimeout(this.#endingTimer)
    const exits: Promise<unknown>[] = []
    for (const job of this.jobs.values()) {
      if (job.running !== undefined) {
        job.terminating = "endpoint stopped"
        job.running.kill()
        exits.push(job.running.exit)
      }
    }
    await Promise.all(exits)
  }

  #register(body: Json): Json {
    const name = requireString(body, "jobDefinitionName")
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(name)) throw clientError(`invalid jobDefinitionName ${name}`)
    if (body.type !== "container") throw clientError("only type container is supported by this endpoint")
    if (Buffer.byteLength(JSON.stringify(body)) > 24 * 1024) throw clientError("job definition exceeds 24 KiB")
    checkLinuxParameters((body.containerProperties as Json | undefined)?.linuxParameters)
    const revision = this.definitions.filter((d) => d.name === name).length + 1
    const arn = `arn:aws:batch:${this.options.region}:${this.options.accountId}:job-definition/${name}:${revision}`
    this.definitions.push({ name, revision, arn, status: "ACTIVE", body })
    return { jobDefinitionName: name, jobDefinitionArn: arn, revision }
  }

  #describeDefinitions(body: Json): Json {
    let found = this.definitions
    const names = body.jobDefinitions as string[] | undefined
    if (names !== undefined && names.length > 0) found = found.filter((d) => names.some((n) => matchesDefinition(d, n)))
    if (typeof body.jobDefinitionName === "string") found = found.filter((d) => d.name === body.jobDefinitionName)
    if (typeof body.status === "string") found = found.filter((d) => d.status === body.status)
    const { page, nextToken } = paginate(found, body)
    return { jobDefinitions: page.map(describeDefinition), ...(nextToken === undefined ? {} : { nextToken }) }
  }

  #resolveDefinition(reference: string): Definition {
    const matches = this.definitions.filter((d) => matchesDefinition(d, reference) && d.status === "ACTIVE")
    const latest = matches.sort((a, b) => b.revision - a.revision)[0]
    if (latest === undefined) throw clientError(`Job definition ${reference} does not exist or is not ACTIVE`)
    return latest
  }

  #submit(body: Json): Json {
    if (Buffer.byteLength(JSON.stringify(body)) > 30 * 1024) throw clientError("SubmitJob request exceeds 30 KiB")
    const jobName = requireString(body, "jobName")
    const jobQueue = requireString(body, "jobQueue")
    const queues = this.options.jobQueues
    if (queues !== undefined && !queues.includes(jobQueue)) throw clientError(`Job Queue ${jobQueue} does not exist`)
    const definition = this.#resolveDefinition(requireString(body, "jobDefinition"))
    const size = (body.arrayProperties as Json | undefined)?.size as number | undefined
    if (size !== undefined && (!Number.isInteger(size) || size < 2 || size > 10_000)) {
      throw clientError(`array size must be between 2 and 10000 (got ${size})`)
    }
    const jobId = randomUUID()
    const job = this.#newJob({ jobId, jobName, jobQueue, definition, request: body, size })
    if (size === undefined) {
      this.#enqueue(job)
    } else {
      job.status = "PENDING"
      for (let index = 0; index < size; index++) {
        const child = this.#newJob({ jobId: `${jobId}:${index}`, jobName, jobQueue, definition, request: body, index, parent: job })
        job.children.push(child)
        this.#enqueue(child)
      }
    }
    return { jobArn: job.jobArn, jobName, jobId }
  }

  #newJob(fields: {
    jobId: string
    jobName: string
    jobQueue: string
    definition: Definition
    request: Json
    size?: number | undefined
    index?: number
    parent?: JobRecord
  }): JobRecord {
    const job: JobRecord = {
      ...fields,
      jobArn: `arn:aws:batch:${this.options.region}:${this.options.accountId}:job/${fields.jobId}`,
      status: "SUBMITTED",
      createdAt: Date.now(),
      attempts: [],
      attempt: 0,
      children: [],
      output: "",
    }
    this.jobs.set(job.jobId, job)
    return job
  }

  #enqueue(job: JobRecord): void {
    job.status = "RUNNABLE"
    this.#queue.push(job)
    setImmediate(() => this.#pump())
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.options.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift() as JobRecord
      if (job.status !== "RUNNABLE") continue
      this.#running++
      void this.#runAttempt(job).finally(() => {
        this.#running--
        this.#pump()
      })
    }
  }

  async #runAttempt(job: JobRecord): Promise<void> {
    job.attempt++
    job.status = "STARTING"
    if (this.options.faults.startDelayMs > 0) await sleep(this.options.faults.startDelayMs)
    if (job.status !== "STARTING") return // terminated or cancelled while starting
    let spec: ChildSpec
    try {
      spec = await this.#withSecrets(job, this.#specOf(job))
    } catch (error) {
      // As on AWS: the container never starts.
      const reason = `ResourceInitializationError: unable to pull secrets: ${error instanceof Error ? error.message : String(error)}`
      this.#finish(job, "FAILED", reason, undefined, reason)
      return
    }
    job.status = "RUNNING"
    job.startedAt = Date.now()
    const started = Date.now()
    job.running = this.options.launch(job, spec)
    const fault = this.options.faults.kill?.(spec)
    if (fault !== undefined) {
      job.terminating = fault.reason
      job.running.kill()
    }
    const timeoutSeconds = attemptTimeout(job)
    let timedOut = false
    const timer =
      timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            job.running?.kill()
          }, timeoutSeconds * 1000)
    const { code, output } = await job.running.exit
    if (timer !== undefined) clearTimeout(timer)
    job.running = undefined
    job.output = output
    const stoppedAt = Date.now()
    let reason: string
    let exitCode: number | undefined
    let containerReason: string | undefined
    if (fault !== undefined) {
      reason = fault.reason
      containerReason = fault.reason
      exitCode = fault.exitCode
    } else if (timedOut) {
      reason = "Job attempt duration exceeded timeout"
      exitCode = undefined
    } else if (job.terminating !== undefined) {
      reason = job.terminating
      exitCode = 143
    } else {
      reason = "Essential container in task exited"
      exitCode = code ?? 137
    }
    const succeeded = exitCode === 0 && fault === undefined && !timedOut && job.terminating === undefined
    job.attempts.push({
      container: { exitCode, reason: containerReason, logStreamName: logStreamOf(job) },
      startedAt: started,
      stoppedAt,
      statusReason: reason,
    })
    const userStopped = job.terminating !== undefined && fault === undefined
    job.terminating = undefined
    if (!succeeded && !userStopped && this.#shouldRetry(job, exitCode, reason, containerReason)) {
      this.#enqueue(job)
      return
    }
    this.#finish(job, succeeded ? "SUCCEEDED" : "FAILED", reason, exitCode, containerReason)
  }

  /**
   * Ends a job. Real Batch shows state changes in batches (a DescribeJobs round sees many children
   * end at once); with `completionBatchMs`, endings are held back and shown together.
   */
  #finish(job: JobRecord, status: Status, reason: string, exitCode?: number, containerReason?: string): void {
    const batchMs = this.options.completionBatchMs ?? 0
    if (batchMs <= 0) {
      this.#end(job, status, reason, exitCode, containerReason)
      return
    }
    if (job.ending === true) return
    job.ending = true
    const stoppedAt = Date.now()
    this.#endings.push(() => {
      job.ending = undefined
      this.#end(job, status, reason, exitCode, containerReason)
      job.stoppedAt = stoppedAt
    })
    this.#endingTimer ??= setTimeout(() => {
      this.#endingTimer = undefined
      const endings = this.#endings
      this.#endings = []
      for (const end of endings) end()
    }, batchMs)
  }

  #end(job: JobRecord, status: Status, reason: string, exitCode?: number, containerReason?: string): void {
    job.status = status
    job.statusReason = reason
    job.exitCode = exitCode
    job.containerReason = containerReason
    job.stoppedAt = Date.now()
    const parent = job.parent
    if (parent === undefined) return
    parent.startedAt ??= job.startedAt
    if (parent.children.every((child) => TERMINAL.includes(child.status))) {
      const failed = parent.children.some((child) => child.status === "FAILED")
      parent.status = failed ? "FAILED" : "SUCCEEDED"
      parent.statusReason = failed ? "Array Child Job failed" : "Array Job succeeded"
      parent.stoppedAt = Date.now()
    }
  }

  #shouldRetry(job: JobRecord, exitCode: number | undefined, reason: string, containerReason: string | undefined): boolean {
    const strategy = (job.request.retryStrategy ?? job.definition.body.retryStrategy) as Json | undefined
    const attempts = (strategy?.attempts as number | undefined) ?? 1
    if (job.attempt >= attempts) return false
    const rules = (strategy?.evaluateOnExit as Json[] | undefined) ?? []
    for (const rule of rules) {
      const checks: [unknown, string | undefined][] = [
        [rule.onExitCode, exitCode === undefined ? undefined : String(exitCode)],
        [rule.onStatusReason, reason],
        [rule.onReason, containerReason],
      ]
      if (checks.every(([pattern, value]) => pattern === undefined || (value !== undefined && glob(String(pattern), value)))) {
        return String(rule.action).toUpperCase() === "RETRY"
      }
    }
    return true
  }

  /** The spec with the definition's `secrets` resolved into its environment. */
  async #withSecrets(job: JobRecord, spec: ChildSpec): Promise<ChildSpec> {
    const properties = (job.definition.body.containerProperties ?? {}) as Json
    const secrets = (properties.secrets ?? []) as { name: string; valueFrom: string }[]
    if (secrets.length === 0) return spec
    const resolve = this.options.resolveSecret
    if (resolve === undefined) throw new Error("this endpoint was started without a secret store")
    const env = { ...spec.env }
    for (const { name, valueFrom } of secrets) env[name] = await resolve(valueFrom)
    return { ...spec, env }
  }

  #specOf(job: JobRecord): ChildSpec {
    const properties = (job.definition.body.containerProperties ?? {}) as Json
    const overrides = (job.request.containerOverrides ?? {}) as Json
    const parameters = { ...(job.definition.body.parameters as Json), ...(job.request.parameters as Json) } as Record<string, string>
    const command = ((overrides.command ?? properties.command ?? []) as string[]).map((part) =>
      part.replace(/Ref::([A-Za-z0-9_-]+)/g, (whole, name: string) => parameters[name] ?? whole),
    )
    const env: Record<string, string> = { ...this.options.env }
    for (const list of [properties.environment, overrides.environment] as ({ name: string; value: string }[] | undefined)[]) {
      for (const { name, value } of list ?? []) env[name] = value
    }
    env.AWS_BATCH_JOB_ID = job.jobId
    env.AWS_BATCH_JOB_ATTEMPT = String(job.attempt)
    env.AWS_BATCH_JQ_NAME = job.jobQueue
    env.AWS_BATCH_CE_NAME = "reductio-test-ce"
    if (job.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.index)
    else delete env.AWS_BATCH_JOB_ARRAY_INDEX
    return { jobId: job.jobId, index: job.index, attempt: job.attempt, argv: [...this.options.entrypoint, ...command], env }
  }

  #describeJobs(body: Json): Json {
    const ids = (body.jobs ?? []) as string[]
    if (ids.length > 100) throw clientError("DescribeJobs accepts at most 100 job ids")
    const jobs = ids.flatMap((id) => {
      const job = this.jobs.get(id.replace(/^arn:aws:batch:[^:]*:[^:]*:job\//, ""))
      return job === undefined ? [] : [this.#detail(job)]
    })
    return { jobs }
  }

  #listJobs(body: Json): Json {
    let jobs: JobRecord[]
    if (typeof body.arrayJobId === "string") {
      const parent = this.jobs.get(body.arrayJobId)
      if (parent === undefined || parent.size === undefined) throw clientError(`${body.arrayJobId} is not an array job`)
      jobs = parent.children
    } else if (typeof body.jobQueue === "string") {
      jobs = this.topLevelJobs().filter((job) => job.jobQueue === body.jobQueue)
    } else {
      throw clientError("ListJobs needs jobQueue, arrayJobId or multiNodeJobId")
    }
    const filters = (body.filters ?? []) as { name: string; values: string[] }[]
    if (filters.length > 0) {
      // With filters, AWS ignores jobStatus and returns every status.
      for (const filter of filters) {
        if (filter.name === "JOB_NAME") jobs = jobs.filter((job) => filter.values.some((value) => glob(value, job.jobName)))
        else if (filter.name === "JOB_DEFINITION")
          jobs = jobs.filter((job) => filter.values.some((value) => matchesDefinition(job.definition, value)))
      }
    } else {
      const status = (body.jobStatus as Status | undefined) ?? "RUNNING"
      jobs = jobs.filter((job) => job.status === status)
    }
    const { page, nextToken } = paginate(jobs, body)
    return { jobSummaryList: page.map((job) => this.#summary(job)), ...(nextToken === undefined ? {} : { nextToken }) }
  }

  #stopJob(body: Json, terminate: boolean): Json {
    const jobId = requireString(body, "jobId")
    const reason = requireString(body, "reason")
    const job = this.jobs.get(jobId)
    if (job === undefined) throw clientError(`Job ${jobId} does not exist`)
    const targets = job.size === undefined ? [job] : job.children
    for (const target of targets) {
      if (TERMINAL.includes(target.status) || target.ending === true) continue
      if (target.status === "RUNNING" || target.status === "STARTING") {
        if (!terminate) continue
        if (target.running !== undefined) {
          target.terminating = reason
          if (target.running.stop !== undefined) target.running.stop()
          else target.running.kill()
          continue
        }
      }
      this.#finish(target, "FAILED", reason)
    }
    return {}
  }

  #summary(job: JobRecord): Json {
    return compact({
      jobArn: job.jobArn,
      jobId: job.jobId,
      jobName: job.jobName,
      createdAt: job.createdAt,
      status: job.status,
      statusReason: job.statusReason,
      startedAt: job.startedAt,
      stoppedAt: job.stoppedAt,
      jobDefinition: job.definition.arn,
      container: compact({ exitCode: job.exitCode, reason: job.containerReason }),
      arrayProperties: job.size !== undefined ? { size: job.size } : job.index !== undefined ? { index: job.index } : undefined,
    })
  }

  #detail(job: JobRecord): Json {
    const spec = job.size === undefined ? this.#specOf(job) : undefined
    return compact({
      ...this.#summary(job),
      jobQueue: job.jobQueue,
      parameters: job.request.parameters,
      tags: job.request.tags,
      timeout: job.request.timeout,
      retryStrategy: job.request.retryStrategy ?? job.definition.body.retryStrategy,
      attempts: job.attempts,
      dependsOn: [],
      container:
        spec === undefined
          ? undefined
          : compact({
              image: (job.definition.body.containerProperties as Json | undefined)?.image,
              command: spec.argv.slice(this.options.entrypoint.length),
              exitCode: job.exitCode,
              reason: job.containerReason,
              logStreamName: job.attempt > 0 ? logStreamOf(job) : undefined,
            }),
      arrayProperties:
        job.size !== undefined
          ? { size: job.size, statusSummary: statusSummary(job.children) }
          : job.index !== undefined
            ? { index: job.index }
            : undefined,
    })
  }
}

function statusSummary(children: readonly JobRecord[]): Record<string, number> {
  const summary: Record<string, number> = Object.fromEntries(STATUSES.map((status) => [status, 0]))
  for (const child of children) summary[child.status] = (summary[child.status] ?? 0) + 1
  return summary
}

function attemptTimeout(job: JobRecord): number | undefined {
  const timeout = (job.request.timeout ?? job.definition.body.timeout) as Json | undefined
  return timeout?.attemptDurationSeconds as number | undefined
}

function logStreamOf(job: JobRecord): string {
  return `${job.definition.name}/default/${job.jobId.replace(":", "-")}`
}

function describeDefinition(definition: Definition): Json {
  return {
    ...definition.body,
    jobDefinitionName: definition.name,
    jobDefinitionArn: definition.arn,
    revision: definition.revision,
    status: definition.status,
  }
}

function matchesDefinition(definition: Definition, reference: string): boolean {
  return reference === definition.arn || reference === definition.name || reference === `${definition.name}:${definition.revision}`
}

function paginate<T>(items: readonly T[], body: Json): { page: T[]; nextToken: string | undefined } {
  const start = typeof body.nextToken === "string" ? Number(body.nextToken) : 0
  const size = Math.min(Math.max(1, (body.maxResults as number | undefined) ?? 100), 1000)
  const page = items.slice(start, start + size)
  return { page, nextToken: start + size < items.length ? String(start + size) : undefined }
}

/** `containerProperties.linuxParameters`, typed as RegisterJobDefinition's LinuxParameters shape. */
function checkLinuxParameters(value: unknown): void {
  if (value === undefined) return
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw clientError("linuxParameters must be an object")
  const { initProcessEnabled, sharedMemorySize, maxSwap, swappiness } = value as Json
  if (initProcessEnabled !== undefined && typeof initProcessEnabled !== "boolean") {
    throw clientError("linuxParameters.initProcessEnabled must be a boolean")
  }
  for (const [key, number] of Object.entries({ sharedMemorySize, maxSwap, swappiness })) {
    if (number !== undefined && !Number.isInteger(number)) throw clientError(`linuxParameters.${key} must be an integer`)
  }
}

function requireString(body: Json, key: string): string {
  const value = body[key]
  if (typeof value !== "string" || value === "") throw clientError(`${key} is required`)
  return value
}

function glob(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "s")
  return regex.test(value)
}

function compact(record: Json): Json {
  const out: Json = {}
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue
    if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0) continue
    out[key] = value
  }
  return out
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
