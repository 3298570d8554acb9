/**
 * @module glue-client
 * The only file that touches `@aws-sdk/client-glue`: the few Glue calls the executor needs, behind
 * a small structural interface ({@link GlueApi}) with failures mapped to ReductioErrors whose
 * `details.glueCode` keeps Glue's error name (ConcurrentRunsExceededException, ...).
 */
import {
  BatchStopJobRunCommand,
  CreateJobCommand,
  GetJobCommand,
  GetJobRunCommand,
  GlueClient,
  type GlueClientConfig,
  type WorkerType,
  StartJobRunCommand,
} from "@aws-sdk/client-glue"
import { ReductioError } from "../../errors.js"

/** The Glue job the executor creates (one per content hash). */
export interface GlueJobDefinition {
  readonly name: string
  readonly role: string
  /** `s3://…/reductio_glue_shim.py`. */
  readonly scriptLocation: string
  readonly glueVersion: string
  readonly workerType: string
  readonly workers: number
  /** Minutes. */
  readonly timeout: number
  readonly maxConcurrentRuns: number
  readonly defaultArguments: Readonly<Record<string, string>>
  readonly description: string
}

/** Per-run settings. */
export interface GlueRunRequest {
  readonly jobName: string
  readonly arguments: Readonly<Record<string, string>>
  /** Minutes; the job's when undefined. */
  readonly timeout?: number | undefined
}

/** What GetJobRun says about a run. */
export interface GlueRunStatus {
  /** STARTING, RUNNING, SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR, ... */
  readonly state: string
  readonly errorMessage?: string | undefined
  /** Seconds the run executed. */
  readonly executionTime?: number | undefined
  /** When the run started and completed (ms since the epoch), once Glue knows. */
  readonly startedOn?: number | undefined
  readonly completedOn?: number | undefined
}

/** The Glue calls the executor makes. Every failure is a ReductioError (SERVICE_ERROR unless stated). */
export interface GlueApi {
  /** True when a job of that name exists. */
  jobExists(name: string): Promise<boolean>
  /** Creates the job; succeeds when a job of that name already exists (another host won the race). */
  createJob(definition: GlueJobDefinition): Promise<void>
  /** Starts a run; its id. ConcurrentRunsExceededException keeps its name in `details.glueCode`. */
  startJobRun(request: GlueRunRequest): Promise<string>
  getJobRun(jobName: string, runId: string): Promise<GlueRunStatus>
  stopJobRun(jobName: string, runId: string): Promise<void>
  destroy(): void
}

/** How to reach Glue. */
export interface GlueClientOptions {
  readonly region?: string | undefined
  /** A custom endpoint (an emulator). */
  readonly endpoint?: string | undefined
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string } | undefined
}

/** The Glue error names the executor reacts to. */
export const GLUE_ERRORS = {
  concurrentRuns: "ConcurrentRunsExceededException",
  notFound: "EntityNotFoundException",
  alreadyExists: "AlreadyExistsException",
  throttled: "ThrottlingException",
} as const

/**
 * A {@link GlueApi} over the SDK client.
 *
 * @example
 * const glue = createGlueApi({ region: "eu-west-1" })
 * const runId = await glue.startJobRun({ jobName: "reductio-0123456789abcdef", arguments: {} })
 */
export function createGlueApi(options: GlueClientOptions = {}): GlueApi {
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const config: GlueClientConfig = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: 6,
  }
  const client = new GlueClient(config)
  return {
    async jobExists(name) {
      try {
        await client.send(new GetJobCommand({ JobName: name }))
        return true
      } catch (error) {
        if (glueCodeOf(error) === GLUE_ERRORS.notFound) return false
        throw glueError(error, `GetJob ${name}`)
      }
    },
    async createJob(definition) {
      try {
        await client.send(
          new CreateJobCommand({
            Name: definition.name,
            Description: definition.description,
            Role: definition.role,
            Command: { Name: "glueetl", ScriptLocation: definition.scriptLocation, PythonVersion: "3" },
            DefaultArguments: { ...definition.defaultArguments },
            GlueVersion: definition.glueVersion,
            WorkerType: definition.workerType as WorkerType,
            NumberOfWorkers: definition.workers,
            Timeout: definition.timeout,
            ExecutionProperty: { MaxConcurrentRuns: definition.maxConcurrentRuns },
            Tags: { "reductio:managed": "true" },
          }),
        )
      } catch (error) {
        if (glueCodeOf(error) === GLUE_ERRORS.alreadyExists) return
        throw glueError(error, `CreateJob ${definition.name}`, definition.role)
      }
    },
    async startJobRun(request) {
      try {
        const response = await client.send(
          new StartJobRunCommand({
            JobName: request.jobName,
            Arguments: { ...request.arguments },
            ...(request.timeout === undefined ? {} : { Timeout: request.timeout }),
          }),
        )
        if (response.JobRunId === undefined) throw new Error("StartJobRun returned no JobRunId")
        return response.JobRunId
      } catch (error) {
        throw glueError(error, `StartJobRun ${request.jobName}`)
      }
    },
    async getJobRun(jobName, runId) {
      try {
        const response = await client.send(new GetJobRunCommand({ JobName: jobName, RunId: runId }))
        const run = response.JobRun
        return {
          state: run?.JobRunState ?? "UNKNOWN",
          errorMessage: run?.ErrorMessage,
          executionTime: run?.ExecutionTime,
          startedOn: run?.StartedOn?.getTime(),
          completedOn: run?.CompletedOn?.getTime(),
        }
      } catch (error) {
        throw glueError(error, `GetJobRun ${jobName} ${runId}`)
      }
    },
    async stopJobRun(jobName, runId) {
      try {
        await client.send(new BatchStopJobRunCommand({ JobName: jobName, JobRunIds: [runId] }))
      } catch (error) {
        throw glueError(error, `BatchStopJobRun ${jobName} ${runId}`)
      }
    },
    destroy: () => client.destroy(),
  }
}

/** Glue's error name of a failure (a ReductioError made here keeps it in details). */
export function glueCodeOf(error: unknown): string | undefined {
  const details = (error as { details?: { glueCode?: unknown } } | undefined)?.details
  if (typeof details?.glueCode === "string") return details.glueCode
  const name = (error as { name?: unknown } | undefined)?.name
  return typeof name === "string" ? name : undefined
}

const ROLE_PROBLEM = /role|AccessDenied|not authorized|assume/i

function glueError(error: unknown, call: string, role?: string): ReductioError {
  if (error instanceof ReductioError) return error
  const glueCode = (error as Error | undefined)?.name ?? "Error"
  const message = (error as Error | undefined)?.message ?? String(error)
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  const details = { glueCode, call, ...(status === undefined ? {} : { status }) }
  if (role !== undefined && (glueCode === "AccessDeniedException" || ROLE_PROBLEM.test(message))) {
    return new ReductioError(
      "CONFIG_INVALID",
      `Glue refused ${call} with role ${role}: ${glueCode}: ${message}. The aws_glue executor's role must exist, trust glue.amazonaws.com, and may read and write the scratch bucket (see docker/glue/README.md)`,
      { cause: error, details },
    )
  }
  return new ReductioError("SERVICE_ERROR", `Glue ${call} failed: ${glueCode}: ${message}`, { cause: error, details })
}
