/**
 * @module batch-endpoint
 * A test AWS Batch endpoint: an HTTP server on 127.0.0.1 speaking Batch's restJson1 protocol to the
 * real SDK client, which runs each job (and each array child) as a local subprocess. moto cannot
 * run containers here (see AWS-EMULATION.md), so this is how the real agent runs end to end.
 *
 * What it models, as AWS does: job definitions with revisions (RegisterJobDefinition always adds
 * one), `Ref::name` parameters substituted in the command, container overrides (command,
 * environment, resources), `AWS_BATCH_JOB_ID` / `AWS_BATCH_JOB_ARRAY_INDEX` / `AWS_BATCH_JOB_ATTEMPT`
 * in the environment, exit codes to SUCCEEDED / FAILED with `statusReason` and `container.exitCode`,
 * array parents (PENDING while children run, FAILED when any child failed, a status summary),
 * child ids `<parent>:<index>`, ListJobs defaulting to RUNNING, DescribeJobs' 100-id limit, the
 * 24 KiB definition and 30 KiB submit limits, attempt timeouts, retry strategies, TerminateJob and
 * CancelJob, (when given the queues that exist) SubmitJob's refusal of an unknown queue, and a
 * definition's `secrets` resolved into the container's environment as it starts
 * (through `resolveSecret`, against moto's Secrets Manager and SSM). The image is ignored: its entrypoint is `node <agentPath>` (as docker/ builds it), so
 * a definition's command holds the agent's flags only.
 *
 * Fault knobs: the next n calls throttled (429 TooManyRequestsException) or failing (500), a timed
 * brown-out (429 or 503 until a time, for some actions or all), children
 * killed on start (a reason and exit code of your choice), slow starts, answers held back after
 * the call took effect. Counters per action.
 *
 * @example
 * const batch = await startBatchEndpoint({ agentPath, env: moto.env })
 * const client = new BatchClient({ endpoint: batch.endpoint, region: "us-east-1", credentials })
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { BatchApiError, BatchState, type JobRecord } from "./batch-state.js"

/** What a child run needs: its full argv (entrypoint first) and environment. */
export interface ChildSpec {
  readonly jobId: string
  /** The array index of a child, undefined for a single job. */
  readonly index: number | undefined
  readonly attempt: number
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

/** A running child, as the endpoint controls it. */
export interface RunningChild {
  /** Resolves with the exit code (null when killed by a signal) and the output's tail. */
  readonly exit: Promise<{ code: number | null; output: string }>
  /** Kills it at once (a lost host, an out-of-memory kill, a timeout). */
  kill(): void
  /** What TerminateJob does (ECS's stop): SIGTERM, then SIGKILL after a grace period; `kill` when absent. */
  stop?(): void
}

/** Starts children: a subprocess by default; a bench may run something cheaper. */
export type ChildRunner = (spec: ChildSpec) => RunningChild

/** Why and how a fault kills a child (a spot reclaim has no exit code; an OOM kill exits 137). */
export interface KillFault {
  readonly reason: string
  readonly exitCode?: number
}

/** Fault injection, mutable while the endpoint runs. */
export interface BatchFaults {
  /** The next n calls (of `throttleActions`, or any) answer 429 TooManyRequestsException. */
  throttle: number
  throttleActions?: readonly string[] | undefined
  /** The next n calls answer 500 ServerException. */
  serverErrors: number
  /**
   * A brown-out: for `ms` milliseconds from the first call of `actions` (or any) it meets, every
   * such call answers 429 (`throttle`) or 503 (`unavailable`); counted in `refused`.
   */
  outage?: Outage | undefined
  /** Called when a child starts; a KillFault kills it at once. */
  kill?: ((spec: ChildSpec) => KillFault | undefined) | undefined
  /** Milliseconds a child spends in STARTING before its process starts. */
  startDelayMs: number
  /** Milliseconds an action's answer is held back after the call took effect (a slow network). */
  responseDelayMs: Partial<Record<string, number>>
}

/** A timed brown-out (see {@link BatchFaults.outage}); `startedAt` is set by the first call it refuses. */
export interface Outage {
  readonly ms: number
  readonly kind: "throttle" | "unavailable"
  readonly actions?: readonly string[] | undefined
  startedAt?: number | undefined
}

/** Options of {@link startBatchEndpoint}. */
export interface BatchEndpointOptions {
  /** The agent the image's entrypoint runs (`node <agentPath> …`). */
  readonly agentPath: string
  /** Added to the children's environment (e.g. moto's AWS_ENDPOINT_URL). */
  readonly env?: Readonly<Record<string, string>>
  /** Children running at once, like a compute environment's capacity; default 4. */
  readonly concurrency?: number
  /** Replaces the subprocess runner. */
  readonly runner?: ChildRunner
  readonly region?: string
  readonly accountId?: string
  /** The job queues SubmitJob accepts (names and ARNs, e.g. what `reductio aws setup` printed); default any. */
  readonly jobQueues?: readonly string[]
  /** Reads a job definition secret's value (`valueFrom`) as a container starts. */
  readonly resolveSecret?: (valueFrom: string) => Promise<string>
  /**
   * Shows jobs ended in batches, every this many ms (default 0: at once), as real Batch does: a
   * DescribeJobs round then sees many children end together.
   */
  readonly completionBatchMs?: number
}

/** A running test Batch endpoint. */
export interface BatchEndpoint {
  /** `http://127.0.0.1:<port>`: the client's `endpoint` or AWS_ENDPOINT_URL_BATCH. */
  readonly endpoint: string
  /** HTTP calls received, by action (`SubmitJob`, `DescribeJobs`, …), faults included. */
  readonly calls: Record<string, number>
  /** Every call's action and time (ms since the epoch), in order, and whether a fault refused it. */
  readonly callLog: { readonly action: string; readonly at: number; refused?: boolean }[]
  /** Calls refused by an injected fault (throttle, server error, outage), by action. */
  readonly refused: Record<string, number>
  readonly faults: BatchFaults
  /** The jobs, for assertions. */
  readonly state: BatchState
  /** Total calls so far. */
  totalCalls(): number
  /** Replaces how children run from now on (undefined: back to the subprocess runner). */
  useRunner(runner: ChildRunner | undefined): void
  /** Stops the server and kills running children. */
  stop(): Promise<void>
}

const ACTIONS: Record<string, string> = {
  "/v1/registerjobdefinition": "RegisterJobDefinition",
  "/v1/describejobdefinitions": "DescribeJobDefinitions",
  "/v1/submitjob": "SubmitJob",
  "/v1/describejobs": "DescribeJobs",
  "/v1/listjobs": "ListJobs",
  "/v1/terminatejob": "TerminateJob",
  "/v1/canceljob": "CancelJob",
}

/** Starts the endpoint on a free port. */
export async function startBatchEndpoint(options: BatchEndpointOptions): Promise<BatchEndpoint> {
  const faults: BatchFaults = { throttle: 0, serverErrors: 0, startDelayMs: 0, responseDelayMs: {} }
  let runner = options.runner ?? subprocessRunner
  const state = new BatchState({
    region: options.region ?? "us-east-1",
    accountId: options.accountId ?? "123456789012",
    concurrency: options.concurrency ?? 4,
    faults,
    launch: (_job, spec) => runner(spec),
    entrypoint: [process.execPath, options.agentPath],
    env: { ...inheritedEnv(), ...options.env },
    jobQueues: options.jobQueues,
    resolveSecret: options.resolveSecret,
    completionBatchMs: options.completionBatchMs,
  })
  const calls: Record<string, number> = {}
  const callLog: { action: string; at: number; refused?: boolean }[] = []
  const refused: Record<string, number> = {}
  const server = createServer((request, response) => {
    void handle(request, response)
  })
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const action = ACTIONS[(request.url ?? "").toLowerCase().split("?")[0] ?? ""] ?? "Unknown"
    calls[action] = (calls[action] ?? 0) + 1
    const logged: { action: string; at: number; refused?: boolean } = { action, at: Date.now() }
    callLog.push(logged)
    try {
      const body = await readJson(request)
      const fault = injectedFault(faults, action)
      if (fault !== undefined) {
        refused[action] = (refused[action] ?? 0) + 1
        logged.refused = true
        throw fault
      }
      const result = state.call(action, body)
      const delay = faults.responseDelayMs[action] ?? 0
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
      send(response, 200, result)
    } catch (error) {
      if (error instanceof BatchApiError) {
        response.setHeader("x-amzn-errortype", error.type)
        send(response, error.status, { message: error.message })
      } else {
        response.setHeader("x-amzn-errortype", "ServerException")
        send(response, 500, { message: error instanceof Error ? error.message : String(error) })
      }
    }
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    callLog,
    refused,
    faults,
    state,
    totalCalls: () => Object.values(calls).reduce((a, b) => a + b, 0),
    useRunner: (next) => {
      runner = next ?? options.runner ?? subprocessRunner
    },
    stop: () => stopServer(server, state),
  }
}

/** The error an injected fault answers this call with, consuming counted faults. */
function injectedFault(faults: BatchFaults, action: string): BatchApiError | undefined {
  if (faults.serverErrors > 0) {
    faults.serverErrors--
    return new BatchApiError(500, "ServerException", "Internal server error (injected)")
  }
  if (faults.throttle > 0 && (faults.throttleActions === undefined || faults.throttleActions.includes(action))) {
    faults.throttle--
    return new BatchApiError(429, "TooManyRequestsException", "Too Many Requests (injected)")
  }
  const outage = faults.outage
  if (outage !== undefined && (outage.actions === undefined || outage.actions.includes(action))) {
    outage.startedAt ??= Date.now()
    if (Date.now() >= outage.startedAt + outage.ms) return undefined
    return outage.kind === "throttle"
      ? new BatchApiError(429, "TooManyRequestsException", "Too Many Requests (injected brown-out)")
      : new BatchApiError(503, "ServerException", "Service unavailable (injected outage)")
  }
  return undefined
}

async function stopServer(server: Server, state: BatchState): Promise<void> {
  await state.shutdown()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  response.end(text)
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString("utf8")
  if (text === "") return {}
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new BatchApiError(400, "ClientException", "the request body is not JSON")
  }
}

/** The host's environment minus what would make node run the agent differently than in its image. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(NODE_OPTIONS|NODE_PATH|NODE_V8_COVERAGE|NODE_TEST_CONTEXT|TSX_.*)$/.test(key)) env[key] = value
  }
  return env
}

const TAIL_BYTES = 16 * 1024
/** SIGTERM to SIGKILL on TerminateJob: ECS waits 30 s by default; tests need less. */
const STOP_GRACE_MS = 2_000

/** Runs a child as a subprocess (the default runner). */
export const subprocessRunner: ChildRunner = (spec) => {
  const [command, ...args] = spec.argv
  let child: ChildProcess | undefined
  let output = ""
  const exit = new Promise<{ code: number | null; output: string }>((resolve) => {
    child = spawn(command as string, args, { env: { ...spec.env }, stdio: ["ignore", "pipe", "pipe"] })
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-TAIL_BYTES)
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    child.once("error", (error) => resolve({ code: 127, output: `${output}${error.message}` }))
    child.once("close", (code) => resolve({ code, output }))
  })
  return {
    exit,
    kill: () => {
      child?.kill("SIGKILL")
    },
    stop: () => {
      child?.kill("SIGTERM")
      setTimeout(() => child?.kill("SIGKILL"), STOP_GRACE_MS).unref()
    },
  }
}

/** A fresh job id (AWS uses UUIDs). */
export function newJobId(): string {
  return randomUUID()
}

export { BatchApiError, type JobRecord }
