/**
 * @module process-executor
 * Runs calls in local agent subprocesses against a local scratch directory: the AWS Batch protocol
 * with no cloud, for isolation and for tests. `start` bundles the workflow into
 * `<scratch>/code/<sha256>.tar.gz`; calls submitted together (until the scheduler reports `idle`,
 * or a short delay passes) share one array input, `<scratch>/arrays/<id>/input`, and each runs as
 * `node agent.js --code … --input … --scratch … --index i`, exactly as the agent image would run
 * it: a clean environment (no NODE_OPTIONS, no tsx), no node_modules needed. With a `launcher`
 * (container-launcher.ts), each agent runs in a local container instead of a subprocess.
 *
 * Without a launcher, the agents are reusable workers by default (`node agent.js --serve`, at
 * most `concurrency` of them, each running one job at a time and loading the bundle once): the
 * same inputs, the same output, error and log files, the same outcomes, without a process start
 * per call. A call whose task sets `freshProcess: true`, or every call when `reuse: false`, gets a
 * fresh agent process.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises"
import { availableParallelism } from "node:os"
import { dirname, join, resolve } from "node:path"
import { AgentWorker } from "./agent-worker.js"
import { decode } from "../codec.js"
import { type ErrorRecord, ReductioError, toErrorRecord } from "../errors.js"
import { packageFile } from "../package-root.js"
import { sha256 } from "../hashing.js"
import { AGENT_EXIT, type JobEntry, encodeEntries, scratch } from "../protocol.js"
import { Semaphore } from "../scheduler/semaphore.js"
import type { AgentLauncher, LaunchCommand } from "./container-launcher.js"
import { cancelledOutcome, entryOf, type Executor, type ExecutorContext, type JobOutcome, type JobRequest } from "./executor.js"

/** Options of a {@link ProcessExecutor}. */
export interface ProcessExecutorOptions {
  /** Agent processes at once; default: the number of cores. */
  readonly concurrency?: number
  /** Local scratch directory; default `.reductio/scratch` under the workflow's project. */
  readonly scratch?: string
  /** The built agent; default agent/dist/agent.js of this package (`npm run build` makes it). */
  readonly agentPath?: string
  /** Where agents extract code bundles (a directory private to the user); default the agent's (`<tmpdir>/reductio-<uid>/code`). */
  readonly workdir?: string
  /** Variables added to the agents' (otherwise inherited, cleaned) environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Longest wait for `idle()` before submitted calls start anyway, in ms; default 25. */
  readonly maxDelayMs?: number
  /** How each agent starts; default a `node agent.js` subprocess. */
  readonly launcher?: AgentLauncher
  /**
   * Reuse agent processes (workers that run one job after another); default true. false: a fresh
   * agent process for every call, as a task with `freshProcess: true` always gets. Agents started
   * by a `launcher` (containers) are never reused.
   */
  readonly reuse?: boolean
}

interface Pending {
  readonly job: JobRequest
  readonly settle: (outcome: JobOutcome) => void
}

/** Bytes of a child's output kept for an infrastructure failure's message. */
const TAIL_BYTES = 8 * 1024
/** After SIGTERM, how long an agent gets before SIGKILL. */
const KILL_GRACE_MS = 3_000
/** Variables that would make the agent run differently than in its image. */
const UNSAFE_ENV = /^(NODE_OPTIONS|NODE_PATH|NODE_V8_COVERAGE|NODE_TEST_CONTEXT|TSX_.*|REDUCTIO_(CODE|INPUT|SCRATCH|INDEX))$/

/**
 * @example
 * const scheduler = new Scheduler({ workflowPath, executors: { process: new ProcessExecutor({ concurrency: 4 }) } })
 * const heavy = task("heavy", crunch, { executor: "process" })
 */
export class ProcessExecutor implements Executor {
  readonly kind: string
  readonly #options: ProcessExecutorOptions
  readonly #slots: Semaphore
  /** Running agents, each with what stops it. */
  readonly #children = new Map<ChildProcess, () => Promise<void>>()
  /** Reusable workers waiting for a job (each was started under a slot, so at most `concurrency`). */
  #idle: AgentWorker[] = []
  #pending: Pending[] = []
  #timer: NodeJS.Timeout | undefined
  #code: Promise<{ root: string; uri: string }> | undefined
  #stopped = false

  constructor(options: ProcessExecutorOptions = {}) {
    this.#options = options
    this.kind = options.launcher?.kind ?? "process"
    this.#slots = new Semaphore(Math.max(1, options.concurrency ?? availableParallelism()))
  }

  /** Bundles the workflow into the scratch directory (uploaded only when its hash is new). */
  async start(context: ExecutorContext): Promise<void> {
    const workflowPath = context.workflowPath
    if (workflowPath === undefined) return
    this.#code = (async () => {
      const { bundle } = await import("../../bundler/bundle.js")
      const { projectRootOf } = await import("../../bundler/esbuild-code.js")
      const root = resolve(this.#options.scratch ?? join(projectRootOf(workflowPath), ".reductio", "scratch"))
      const built = await bundle(workflowPath, { scratch: root })
      return { root, uri: built.uri as string }
    })()
    this.#code.catch(() => undefined)
    await this.#code
  }

  submit(job: JobRequest): Promise<JobOutcome> {
    return new Promise((settle) => {
      this.#pending.push({ job, settle })
      this.#timer ??= setTimeout(() => this.#flush(), this.#options.maxDelayMs ?? 25)
    })
  }

  /** Starts what was submitted: one array input for several calls, a job input for one. */
  idle(): void {
    this.#flush()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const { settle } of this.#pending.splice(0)) settle(cancelledOutcome("the process executor stopped"))
    for (const worker of this.#idle.splice(0)) worker.close()
    await Promise.all([...this.#children.values()].map((stop) => stop()))
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const group = this.#pending.splice(0)
    if (group.length > 0) void this.#runGroup(group)
  }

  async #runGroup(group: readonly Pending[]): Promise<void> {
    try {
      if (this.#code === undefined) {
        throw new ReductioError("INVALID_ARGUMENT", "the process executor was not started with a workflow path, so it has no code to ship")
      }
      const code = await this.#code
      const agentPath = this.#options.launcher !== undefined ? "" : (this.#options.agentPath ?? defaultAgentPath())
      const entries = group.map(({ job }) => entryOf(job))
      for (const { job } of group) await clearJob(code.root, job.evalHash)
      const input = await writeInput(code.root, entries)
      await Promise.all(
        group.map((pending, index) =>
          this.#runOne(pending, {
            agentPath,
            args: ["--code", code.uri, "--input", input, "--scratch", code.root, ...(group.length > 1 ? ["--index", String(index)] : [])],
            root: code.root,
          }).then(pending.settle, (error: unknown) => pending.settle(infrastructure(toErrorRecord(error)))),
        ),
      )
    } catch (error) {
      for (const { settle } of group) settle(infrastructure(toErrorRecord(error)))
    }
  }

  async #runOne(pending: Pending, run: { agentPath: string; args: string[]; root: string }): Promise<JobOutcome> {
    const { job } = pending
    await this.#slots.acquire()
    try {
      if (job.signal.aborted || this.#stopped) return cancelledOutcome("cancelled before it started")
      const args =
        this.#options.workdir === undefined || this.#options.launcher !== undefined
          ? run.args
          : [...run.args, "--workdir", this.#options.workdir]
      const reuse = this.#options.launcher === undefined && this.#options.reuse !== false && job.options.freshProcess !== true
      const exit = reuse ? await this.#runOnWorker(run.agentPath, args, job) : await this.#spawnAgent(run.agentPath, args, job)
      // Ctrl-C on a terminal interrupts the agents too (they share its process group).
      if (exit.cancelled || exit.signal === "SIGINT") return cancelledOutcome("cancelled while running")
      const launchFailure = this.#options.launcher?.launchFailure?.(exit)
      if (launchFailure !== undefined) return infrastructure(launchFailure, exit.tail)
      const outcome = await outcomeOf(run.root, job, exit)
      // The body's time is the agent process's: from its spawn to its exit.
      return exit.spawnError === undefined ? { ...outcome, startedAt: exit.startedAt, endedAt: exit.endedAt } : outcome
    } finally {
      this.#slots.release()
    }
  }

  /** Runs the job on an idle worker (or a new one); a worker that ended or broke is not kept. */
  async #runOnWorker(agentPath: string, args: readonly string[], job: JobRequest): Promise<AgentExit> {
    const worker = this.#idle.pop() ?? this.#newWorker(agentPath)
    let tail = ""
    worker.onOutput = (chunk) => {
      tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES)
    }
    const watch = watchForStop(job, () => terminate(worker.child))
    const startedAt = Date.now()
    const exit = await worker.run(args)
    const endedAt = Date.now()
    watch.dispose()
    worker.onOutput = () => undefined
    if (!exit.ended && worker.alive && !this.#stopped) this.#idle.push(worker)
    else void terminate(worker.child)
    return { ...exit, tail, cancelled: watch.cancelled, timedOut: watch.timedOut, timeoutSeconds: watch.timeoutSeconds, startedAt, endedAt }
  }

  #newWorker(agentPath: string): AgentWorker {
    const worker = new AgentWorker(agentPath, agentEnv(this.#options.env))
    this.#children.set(worker.child, () => terminate(worker.child))
    worker.child.once("close", () => {
      this.#children.delete(worker.child)
      this.#idle = this.#idle.filter((idle) => idle !== worker)
    })
    return worker
  }

  #spawnAgent(agentPath: string, args: readonly string[], job: JobRequest): Promise<AgentExit> {
    return new Promise((resolveExit) => {
      const startedAt = Date.now()
      const launcher = this.#options.launcher
      const launched: LaunchCommand = launcher?.command(args, job, agentEnv(this.#options.env)) ?? {
        file: process.execPath,
        args: [agentPath, ...args],
        env: agentEnv(this.#options.env),
      }
      const child = spawn(launched.file, launched.args, { env: launched.env, stdio: ["ignore", "pipe", "pipe"] })
      const stop = () => (launcher?.stop === undefined ? terminate(child) : launcher.stop(launched).then(() => terminate(child)))
      this.#children.set(child, stop)
      let tail = ""
      const keep = (chunk: Buffer) => {
        tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES)
      }
      child.stdout?.on("data", keep)
      child.stderr?.on("data", keep)
      const watch = watchForStop(job, stop)
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        watch.dispose()
        this.#children.delete(child)
        const { cancelled, timedOut, timeoutSeconds } = watch
        resolveExit({ code, signal, tail, cancelled, timedOut, timeoutSeconds, spawnError, startedAt, endedAt: Date.now() })
      }
      child.once("error", (error) => finish(null, null, error))
      child.once("close", (code, signal) => finish(code, signal))
    })
  }
}

/** Why a running agent was stopped, if it was: its call's abort or its task's timeout. */
interface StopWatch {
  readonly cancelled: boolean
  readonly timedOut: boolean
  readonly timeoutSeconds: number | undefined
  /** Stops watching (the agent ended). */
  dispose(): void
}

/** Calls `stop` when the job's signal aborts or its `timeout` (seconds) passes, and remembers which. */
function watchForStop(job: JobRequest, stop: () => Promise<unknown>): StopWatch {
  const timeoutSeconds = typeof job.options.timeout === "number" ? job.options.timeout : undefined
  const watch = { cancelled: false, timedOut: false, timeoutSeconds, dispose }
  const onAbort = () => {
    watch.cancelled = true
    void stop()
  }
  job.signal.addEventListener("abort", onAbort, { once: true })
  const timer =
    timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          watch.timedOut = true
          void stop()
        }, timeoutSeconds * 1000)
  function dispose() {
    job.signal.removeEventListener("abort", onAbort)
    if (timer !== undefined) clearTimeout(timer)
  }
  return watch
}

interface AgentExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The end of what the agent printed. */
  readonly tail: string
  readonly cancelled: boolean
  readonly timedOut: boolean
  readonly timeoutSeconds: number | undefined
  readonly spawnError?: Error | undefined
  /** A reusable worker answered out of protocol. */
  readonly protocolError?: string | undefined
  /** When the agent process was spawned and when it exited. */
  readonly startedAt: number
  readonly endedAt: number
}

/** Removes a previous run's output, error and log: the scheduler decided this call must run. */
async function clearJob(root: string, evalHash: string): Promise<void> {
  await Promise.all(
    [scratch.output(root, evalHash), scratch.error(root, evalHash), scratch.log(root, evalHash)].map((path) => rm(path, { force: true })),
  )
}

/** Writes the input file (content-addressed for arrays) and returns its path. */
async function writeInput(root: string, entries: readonly JobEntry[]): Promise<string> {
  const single = entries.length === 1 ? entries[0] : undefined
  const bytes = encodeEntries(single ?? entries)
  const path = single === undefined ? scratch.arrayInput(root, sha256(bytes).slice(0, 32)) : scratch.jobInput(root, single.evalHash)
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(temp, bytes)
  await rename(temp, path)
  return path
}

/** Reads what the agent left in scratch and turns its exit into an outcome. */
async function outcomeOf(root: string, job: JobRequest, exit: AgentExit): Promise<JobOutcome> {
  if (exit.code === AGENT_EXIT.done) {
    const bytes = await readFile(scratch.output(root, job.evalHash)).catch(() => undefined)
    if (bytes !== undefined) return { status: "done", value: decode(bytes) }
    return infrastructure(failure("the agent exited 0 without writing an output"), exit.tail)
  }
  const record = await readRecord(root, job.evalHash)
  const logTail = (await readLogTail(root, job.evalHash)) ?? exit.tail
  if (exit.code === AGENT_EXIT.taskFailed && record !== undefined)
    return { status: "failed", kind: record.code === "CANCELLED" ? "cancelled" : "task", error: record, logTail }
  if (record !== undefined && exit.code === AGENT_EXIT.infrastructure) return infrastructure(record, logTail)
  const why = exit.spawnError
    ? `cannot start the agent: ${exit.spawnError.message}`
    : exit.protocolError !== undefined
      ? exit.protocolError
      : exit.timedOut
        ? `timed out after ${exit.timeoutSeconds} s`
        : exit.signal !== null
          ? `the agent was killed by ${exit.signal}`
          : `the agent exited with code ${exit.code}`
  return infrastructure(failure(why), logTail)
}

async function readRecord(root: string, evalHash: string): Promise<ErrorRecord | undefined> {
  const bytes = await readFile(scratch.error(root, evalHash)).catch(() => undefined)
  if (bytes === undefined) return undefined
  try {
    return decode(bytes) as ErrorRecord
  } catch {
    return undefined
  }
}

async function readLogTail(root: string, evalHash: string): Promise<string | undefined> {
  const handle = await open(scratch.log(root, evalHash), "r").catch(() => undefined)
  if (handle === undefined) return undefined
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, TAIL_BYTES)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    return buffer.toString("utf8")
  } finally {
    await handle.close()
  }
}

function failure(message: string): ErrorRecord {
  return { name: "ReductioError", message, code: "INFRASTRUCTURE_FAILURE" }
}

function infrastructure(error: ErrorRecord, logTail?: string): JobOutcome {
  return logTail === undefined || logTail === ""
    ? { status: "failed", kind: "infrastructure", error }
    : { status: "failed", kind: "infrastructure", error, logTail }
}

/** The host's environment without what would change how node runs the agent. */
function agentEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!UNSAFE_ENV.test(key)) env[key] = value
  return { ...env, ...extra }
}

/** SIGTERM, then SIGKILL if the agent is still there after a grace period. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolveExit) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS)
    child.once("close", () => {
      clearTimeout(kill)
      resolveExit()
    })
    child.kill("SIGTERM")
  })
}

/** agent/dist/agent.js of this package. */
function defaultAgentPath(): string {
  return packageFile(["agent", "dist", "agent.js"], "run npm run build")
}
