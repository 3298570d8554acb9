/**
 * @module batch-client
 * The only file of reductio that touches `@aws-sdk/client-batch`: the few Batch actions the
 * executor needs, as plain data, behind one {@link TokenBucket} and one retry policy. Load it with a
 * dynamic import so local runs never evaluate the SDK.
 *
 * Retries: the SDK's own retries are off (`maxAttempts: 1`) so that every try takes a token from
 * the shared bucket. Throttling (429, `TooManyRequestsException`) and server errors (5xx, network
 * errors) are retried with exponential backoff and full jitter; a throttled answer also pauses the
 * bucket for everyone. Client errors (4xx) are not retried. Submission (DescribeJobDefinitions,
 * RegisterJobDefinition, SubmitJob) retries until a deadline (`submitDeadline`, default 10 minutes)
 * rather than a count of tries, so a fan-out rides out a brown-out of minutes; an outage that
 * outlasts it fails with SERVICE_ERROR naming the deadline. Monitoring calls keep a count of tries:
 * the monitor has its own tolerance of failed polls.
 */
import {
  BatchClient,
  type BatchClientConfig,
  DescribeComputeEnvironmentsCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  type JobDetail,
  type JobSummary,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  type RegisterJobDefinitionCommandInput,
  SubmitJobCommand,
  type SubmitJobCommandInput,
  TerminateJobCommand,
} from "@aws-sdk/client-batch"
import { ReductioError } from "../../errors.js"
import { TokenBucket } from "./token-bucket.js"

/** Batch job statuses, in lifecycle order. */
export const BATCH_STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"] as const
export type BatchStatus = (typeof BATCH_STATUSES)[number]

/** What the executor reads of a job (a single job, an array parent or an array child). */
export interface BatchJobState {
  readonly jobId: string
  readonly status: BatchStatus
  readonly statusReason?: string | undefined
  readonly exitCode?: number | undefined
  /** The container's reason (e.g. `OutOfMemoryError: Container killed due to memory usage`). */
  readonly containerReason?: string | undefined
  readonly logStreamName?: string | undefined
  /** Array parents: children by status. */
  readonly statusSummary?: Readonly<Record<string, number>> | undefined
  /** Array parents: the size; children: their index. */
  readonly arraySize?: number | undefined
  readonly arrayIndex?: number | undefined
  /** When the container started and stopped (ms since the epoch), once Batch knows. */
  readonly startedAt?: number | undefined
  readonly stoppedAt?: number | undefined
}

/** A job definition to register (the RegisterJobDefinition request, `container` type). */
export type JobDefinitionRequest = RegisterJobDefinitionCommandInput
/** A SubmitJob request. */
export type SubmitJobRequest = SubmitJobCommandInput

/** The Batch calls the executor makes. Every call takes a token and retries throttling. */
export interface BatchApi {
  /** The ARN of the latest ACTIVE revision of `name`, or undefined. */
  findJobDefinition(name: string): Promise<string | undefined>
  /** Registers a revision and returns its ARN. */
  registerJobDefinition(request: JobDefinitionRequest): Promise<string>
  /** Submits a job and returns its id. */
  submitJob(request: SubmitJobRequest): Promise<string>
  /** Describes jobs (ids of singles, parents or `<parent>:<index>`), 100 ids per call. Unknown ids are left out. */
  describeJobs(jobIds: readonly string[]): Promise<BatchJobState[]>
  /** Children of an array parent in one status, every page. */
  listChildren(arrayJobId: string, status: BatchStatus): Promise<BatchJobState[]>
  terminateJob(jobId: string, reason: string): Promise<void>
  /** Calls made (tries, retries included). */
  readonly calls: () => number
  destroy(): void
}

/** Options of {@link createBatchApi}. */
export interface BatchApiOptions {
  readonly region?: string | undefined
  /** A Batch-compatible endpoint (the test endpoint); else AWS_ENDPOINT_URL_BATCH or AWS. */
  readonly endpoint?: string | undefined
  readonly credentials?: BatchClientConfig["credentials"]
  /** Calls per second of the shared bucket (default 5) and its burst (default 10). */
  readonly callsPerSecond?: number | undefined
  readonly burst?: number | undefined
  /** Tries per monitoring call (default 8). */
  readonly maxAttempts?: number | undefined
  /**
   * Seconds a submission call (DescribeJobDefinitions, RegisterJobDefinition, SubmitJob) keeps
   * retrying throttling and server errors before it fails with SERVICE_ERROR (default 600).
   */
  readonly submitDeadline?: number | undefined
  /** First backoff, in ms (default 500); doubles per try up to `maxBackoffMs` (default 20 s). */
  readonly baseBackoffMs?: number | undefined
  readonly maxBackoffMs?: number | undefined
}

/** Default of {@link BatchApiOptions.submitDeadline}, in seconds. */
export const DEFAULT_SUBMIT_DEADLINE = 600
/** The longest backoff of a submission try, in ms. */
const SUBMIT_BACKOFF_CAP_MS = 5_000
/** Actions that retry until the submission deadline instead of a count of tries. */
const SUBMISSION_ACTIONS = new Set(["DescribeJobDefinitions", "RegisterJobDefinition", "SubmitJob"])

/** DescribeJobs' documented maximum of ids per call. */
const DESCRIBE_MAX_IDS = 100
/** ListJobs' largest page. */
const LIST_PAGE = 1000

/**
 * @example
 * const api = createBatchApi({ region: "us-east-1" })
 * const [job] = await api.describeJobs([jobId])
 */
export function createBatchApi(options: BatchApiOptions = {}): BatchApi {
  // The SDK warns once per process about Node 20's support window; that is not the user's concern.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const client = new BatchClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: 1,
  })
  const bucket = new TokenBucket({ ratePerSecond: options.callsPerSecond ?? 5, burst: options.burst ?? 10 })
  const maxAttempts = options.maxAttempts ?? 8
  const base = options.baseBackoffMs ?? 500
  const cap = options.maxBackoffMs ?? 20_000
  const deadlineMs = (options.submitDeadline ?? DEFAULT_SUBMIT_DEADLINE) * 1000
  let calls = 0

  async function send<T>(action: string, call: () => Promise<T>): Promise<T> {
    const startedAt = Date.now()
    const untilDeadline = SUBMISSION_ACTIONS.has(action)
    for (let attempt = 1; ; attempt++) {
      await bucket.take()
      calls++
      try {
        return await call()
      } catch (error) {
        const kind = classify(error)
        const left = startedAt + deadlineMs - Date.now()
        if (kind === "fatal") {
          throw new ReductioError("SERVICE_ERROR", `AWS Batch ${action} failed: ${describe(error)}`, {
            cause: error,
            details: { action, attempts: attempt },
          })
        }
        if (untilDeadline ? left <= 0 : attempt >= maxAttempts) throw outlasted(action, error, attempt, untilDeadline, deadlineMs)
        // Exponential backoff with full jitter; the exponent is capped so 2 ** attempt stays finite.
        // Submission waits at most SUBMIT_BACKOFF_CAP_MS a try: a long outage is ridden out by the
        // deadline, and the first answer after it ends is not missed by tens of seconds.
        const longest = untilDeadline ? Math.min(cap, SUBMIT_BACKOFF_CAP_MS) : cap
        const backoff = Math.random() * Math.min(longest, base * 2 ** Math.min(attempt - 1, 30))
        const delay = untilDeadline ? Math.min(backoff, left) : backoff
        if (kind === "throttled") bucket.pause(delay)
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  return {
    async findJobDefinition(name) {
      const found = await send<{ jobDefinitions?: { jobDefinitionArn?: string; revision?: number }[] }>("DescribeJobDefinitions", () =>
        client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: "ACTIVE" })),
      )
      const latest = (found.jobDefinitions ?? []).sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0]
      return latest?.jobDefinitionArn
    },
    async registerJobDefinition(request) {
      const registered = await send<{ jobDefinitionArn?: string }>("RegisterJobDefinition", () =>
        client.send(new RegisterJobDefinitionCommand(request)),
      )
      return registered.jobDefinitionArn as string
    },
    async submitJob(request) {
      const submitted = await send<{ jobId?: string }>("SubmitJob", () => client.send(new SubmitJobCommand(request)))
      return submitted.jobId as string
    },
    async describeJobs(jobIds) {
      const states: BatchJobState[] = []
      for (let i = 0; i < jobIds.length; i += DESCRIBE_MAX_IDS) {
        const chunk = jobIds.slice(i, i + DESCRIBE_MAX_IDS)
        const described = await send<{ jobs?: JobDetail[] }>("DescribeJobs", () =>
          client.send(new DescribeJobsCommand({ jobs: [...chunk] })),
        )
        for (const job of described.jobs ?? []) states.push(stateOf(job))
      }
      return states
    },
    async listChildren(arrayJobId, status) {
      const states: BatchJobState[] = []
      let nextToken: string | undefined
      do {
        const page: { jobSummaryList?: JobSummary[]; nextToken?: string } = await send("ListJobs", () =>
          client.send(new ListJobsCommand({ arrayJobId, jobStatus: status, maxResults: LIST_PAGE, nextToken })),
        )
        for (const job of page.jobSummaryList ?? []) states.push(stateOf(job))
        nextToken = page.nextToken
      } while (nextToken !== undefined && nextToken !== "")
      return states
    },
    async terminateJob(jobId, reason) {
      await send("TerminateJob", () => client.send(new TerminateJobCommand({ jobId, reason })))
    },
    calls: () => calls,
    destroy: () => client.destroy(),
  }
}

function stateOf(job: JobDetail | JobSummary): BatchJobState {
  const array = job.arrayProperties as { statusSummary?: Record<string, number>; size?: number; index?: number } | undefined
  const container = job.container as { exitCode?: number; reason?: string; logStreamName?: string } | undefined
  return {
    jobId: job.jobId as string,
    status: job.status as BatchStatus,
    statusReason: job.statusReason,
    exitCode: container?.exitCode,
    containerReason: container?.reason,
    logStreamName: container?.logStreamName,
    statusSummary: array?.statusSummary,
    arraySize: array?.size,
    arrayIndex: array?.index,
    startedAt: job.startedAt,
    stoppedAt: job.stoppedAt,
  }
}

function classify(error: unknown): "throttled" | "retryable" | "fatal" {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } }
  const status = $metadata?.httpStatusCode
  if (status === 429 || name === "TooManyRequestsException" || name === "ThrottlingException") return "throttled"
  if (status === undefined || status >= 500 || name === "ServerException") return "retryable"
  return "fatal"
}

/** The SERVICE_ERROR of a call whose throttling or server errors outlasted its retries. */
function outlasted(action: string, error: unknown, attempts: number, untilDeadline: boolean, deadlineMs: number): ReductioError {
  const seconds = Math.round(deadlineMs / 1000)
  const message = untilDeadline
    ? `AWS Batch ${action} kept failing for the whole submission deadline (${seconds} s, ${attempts} tries; last: ${describe(error)}): ` +
      "the outage outlasted it; raise the executor's submitDeadline or rerun once Batch answers (cached calls are not run again)"
    : `AWS Batch ${action} failed after ${attempts} tries: ${describe(error)}`
  return new ReductioError("SERVICE_ERROR", message, {
    cause: error,
    details: { action, attempts, ...(untilDeadline ? { submitDeadline: seconds } : {}) },
  })
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}

/** What `reductio aws check` reads of a job queue or compute environment. */
export interface BatchResourceState {
  readonly name: string
  readonly arn: string
  /** ENABLED or DISABLED. */
  readonly state: string
  /** VALID, INVALID, CREATING, UPDATING, DELETING, DELETED. */
  readonly status: string
  readonly statusReason?: string | undefined
  /** Compute environments: EC2, SPOT, FARGATE or FARGATE_SPOT. Queues: the ARNs of their compute environments. */
  readonly capacity: readonly string[]
}

/** Batch's job queues and compute environments, as `reductio aws check` verifies them. */
export interface BatchInventory {
  /** The queues among `queues` (names or ARNs) that exist. */
  jobQueues(queues: readonly string[]): Promise<BatchResourceState[]>
  /** The compute environments among `environments` (names or ARNs) that exist. */
  computeEnvironments(environments: readonly string[]): Promise<BatchResourceState[]>
  destroy(): void
}

/**
 * @example
 * const inventory = createBatchInventory({ region: "us-east-1" })
 * const [queue] = await inventory.jobQueues(["reductio-spot"])
 */
export function createBatchInventory(options: Pick<BatchApiOptions, "region" | "endpoint" | "credentials"> = {}): BatchInventory {
  const client = new BatchClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  })
  const failed = (action: string) => (error: unknown) => {
    throw new ReductioError("SERVICE_ERROR", `AWS Batch ${action} failed: ${describe(error)}`, { cause: error, details: { action } })
  }
  return {
    async jobQueues(queues) {
      if (queues.length === 0) return []
      const found = await client.send(new DescribeJobQueuesCommand({ jobQueues: [...queues] })).catch(failed("DescribeJobQueues"))
      return (found.jobQueues ?? []).map((queue) => ({
        name: queue.jobQueueName ?? "",
        arn: queue.jobQueueArn ?? "",
        state: queue.state ?? "",
        status: queue.status ?? "",
        statusReason: queue.statusReason,
        capacity: (queue.computeEnvironmentOrder ?? []).map((entry) => entry.computeEnvironment ?? ""),
      }))
    },
    async computeEnvironments(environments) {
      if (environments.length === 0) return []
      const found = await client
        .send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: [...environments] }))
        .catch(failed("DescribeComputeEnvironments"))
      return (found.computeEnvironments ?? []).map((environment) => ({
        name: environment.computeEnvironmentName ?? "",
        arn: environment.computeEnvironmentArn ?? "",
        state: environment.state ?? "",
        status: environment.status ?? "",
        statusReason: environment.statusReason,
        capacity: environment.computeResources?.type === undefined ? [] : [environment.computeResources.type],
      }))
    },
    destroy: () => client.destroy(),
  }
}
