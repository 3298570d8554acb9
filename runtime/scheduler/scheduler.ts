/**
 * @module scheduler
 * The embedding API: `new Scheduler({ backend, executors }).run(expression)` reduces an
 * expression graph and resolves to its typed value. No server is needed.
 */
import type { TaskDefinition } from "../task.js"
import { MemoryBackend } from "../backend/memory-backend.js"
import type { Backend, ExecutionStatus } from "../backend/backend.js"
import { ReductioError, isReductioError } from "../errors.js"
import type { Executor } from "../executor/executor.js"
import { LocalExecutor } from "../executor/local-executor.js"
import type { CallOptions, Lazy } from "../expression.js"
import type { SchedulerEvent } from "./events.js"
import { DryRun, type DryRunPlan, isWouldRun } from "./dry-run.js"
import { Execution } from "./execution.js"
import { Limits } from "./semaphore.js"
import { withStatScope } from "../stat-scope.js"

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** Cache and provenance store; default: a new in-memory backend. The caller opens and closes it. */
  readonly backend?: Backend
  /** Executors by name; `local` (in-process) is always available unless replaced. */
  readonly executors?: Readonly<Record<string, Executor>>
  /** The executor of tasks that name none; default `local`. */
  readonly defaultExecutor?: string
  /** Named concurrency limits tasks may use (`limits: ["db"]`). */
  readonly limits?: Readonly<Record<string, number>>
  /** false: run every call even when cached (the results are still recorded). Default true. */
  readonly cache?: boolean
  /** The workflow's entry file, for executors that ship code elsewhere. */
  readonly workflowPath?: string
  /** Receives progress events. */
  readonly onEvent?: (event: SchedulerEvent) => void
  /**
   * Call leases (default true): while another execution runs on the same database, each call is
   * leased to the execution running it, so the other one waits for the result instead of running
   * the call too (an execution alone on the database writes no lease). `false` for a database one
   * run uses at a time (others then do not wait for this one); backends without leases never
   * have them; runs without the cache take none.
   *
   * @example
   * new Scheduler({ backend, callLeases: false, heartbeat: { intervalMs: 10_000, expiryMs: 60_000 } })
   */
  readonly callLeases?: boolean
  /** How often a running execution renews its row and its call leases, and when they expire. */
  readonly heartbeat?: HeartbeatOptions
  /** The context task bodies read with `getContext` (nested objects; keys are dotted paths). */
  readonly context?: Readonly<Record<string, unknown>>
  /** Option overrides per task name for every call of this scheduler's runs (`-o task=option=value`). */
  readonly taskOptions?: Readonly<Record<string, CallOptions>>
  /**
   * The options a routing rule gives a task (see config/routes.ts), laid over its declared ones
   * and under the call site's; called once per task and run.
   */
  readonly routing?: (task: TaskDefinition) => CallOptions | undefined
}

/** Timing of an execution's heartbeat (see docs/architecture.md). */
export interface HeartbeatOptions {
  /** A beat at least this often; default 5,000 ms. */
  readonly intervalMs?: number
  /** A lease not renewed for this long has expired (its host is taken for gone); default 30,000 ms. */
  readonly expiryMs?: number
}

/** Default heartbeat interval and lease expiry (ms). */
export const HEARTBEAT_DEFAULTS = { intervalMs: 5_000, expiryMs: 30_000 } as const

/** Options of one {@link Scheduler.run}. */
export interface RunOptions {
  /** Recorded as the execution's command (e.g. `run workflow.ts main --n 10`). */
  readonly command?: string
  /** Cancels the execution: running jobs are asked to stop, pending ones never start. */
  readonly signal?: AbortSignal
  /** Use this execution id instead of a new one. */
  readonly executionId?: string
  /** Tags recorded with the execution (`reductio run --tag k=v`, the automatic ones). */
  readonly tags?: Readonly<Record<string, string>>
}

/**
 * Reduces expression graphs, caching each call by its eval hash and recording provenance.
 *
 * @example
 * const scheduler = new Scheduler({ backend: new MemoryBackend() })
 * const total = await scheduler.run(main(100))   // typed: number
 */
export class Scheduler {
  readonly backend: Backend
  readonly executors: Readonly<Record<string, Executor>>
  readonly #options: SchedulerOptions
  readonly #listeners = new Set<(event: SchedulerEvent) => void>()
  /** The id of the latest execution started by {@link run}. */
  lastExecutionId: string | undefined

  constructor(options: SchedulerOptions = {}) {
    this.#options = options
    this.backend = options.backend ?? new MemoryBackend()
    this.executors = { local: new LocalExecutor(), ...options.executors }
    if (options.onEvent !== undefined) this.#listeners.add(options.onEvent)
    const defaultExecutor = options.defaultExecutor ?? "local"
    heartbeatOf(options.heartbeat)
    if (this.executors[defaultExecutor] === undefined) {
      throw new ReductioError(
        "UNKNOWN_EXECUTOR",
        `default executor "${defaultExecutor}" is not configured; configured: ${Object.keys(this.executors).join(", ")}`,
      )
    }
  }

  /** Subscribes to progress events; returns the unsubscribe function. */
  on(listener: (event: SchedulerEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Reduces `expression` (a Lazy, or any value holding lazies) to its value in a new execution.
   * Rejects with the failing call's error (a TaskError naming the task and args hash).
   */
  run<T>(expression: Lazy<T>, options?: RunOptions): Promise<T>
  run<T>(expression: T, options?: RunOptions): Promise<unknown>
  async run(expression: unknown, options: RunOptions = {}): Promise<unknown> {
    const id = options.executionId ?? newExecutionId()
    this.lastExecutionId = id
    const controller = new AbortController()
    const onAbort = () => controller.abort(options.signal?.reason)
    options.signal?.addEventListener("abort", onAbort, { once: true })
    const emit = (event: SchedulerEvent) => {
      for (const listener of this.#listeners) listener(event)
    }
    const heartbeat = heartbeatOf(this.#options.heartbeat)
    const callLeases = this.#options.callLeases !== false && (this.#options.cache ?? true)
    // Executions whose host died are marked before this one starts (and can be seen as such).
    const abandoned = (await this.backend.abandonStaleExecutions?.(Date.now())) ?? []
    const execution = this.#execution(id, emit, controller.signal, { leases: callLeases ? heartbeat : undefined })
    const startedAt = Date.now()
    const command = options.command ?? "run"
    const record = (status: ExecutionStatus, endedAt: number | null, error: string | null, rootCallHash: string | null = null) =>
      execution.recorder.execution({ id, startedAt, endedAt, status, command, rootCallHash, error })
    execution.recorder.keepAlive({ executionId: id, ...heartbeat, callLeases: execution.leasing })
    // Alone (callLeases false) until start says otherwise; null: takes no call leases at all.
    execution.recorder.execution({
      id,
      startedAt,
      endedAt: null,
      status: "RUNNING",
      command,
      rootCallHash: null,
      error: null,
      ...(execution.leasing ? { callLeases: false } : {}),
    })
    for (const [key, value] of Object.entries(options.tags ?? {})) execution.recorder.tag({ executionId: id, key, value })
    emit({ type: "execution-started", executionId: id, startedAt })
    for (const dead of abandoned)
      emit({ type: "log", executionId: id, message: `execution ${dead} is ABANDONED: its host stopped renewing its lease` })
    try {
      // Recorded before any call runs (a host killed at once leaves its row), then other
      // executions decide whether this one runs alone.
      await execution.recorder.flush()
      await execution.startLeases()
      // One stat scope per execution: an S3 object's hash is asked for once (stat-scope.ts).
      const { value, callHash } = await withStatScope(() => execution.reduceRoot(expression))
      // Tasks that ran on after the abort and finished still leave a cancelled run.
      if (controller.signal.aborted) throw cancellation(controller.signal, undefined)
      execution.stopLeases()
      execution.recorder.stopKeepingAlive()
      record("DONE", Date.now(), null, callHash)
      await execution.recorder.flush()
      emit({ type: "execution-finished", executionId: id, status: "DONE", endedAt: Date.now() })
      return value
    } catch (thrown) {
      // Once cancelled, whatever a job then threw is part of the cancellation: status, exit code
      // (130) and summary agree.
      const error = controller.signal.aborted && !isReductioError(thrown, "CANCELLED") ? cancellation(controller.signal, thrown) : thrown
      const status = isReductioError(error, "CANCELLED") ? "CANCELLED" : "FAILED"
      execution.stopLeases()
      execution.recorder.stopKeepingAlive()
      record(status, Date.now(), error instanceof Error ? error.message : String(error))
      await execution.recorder.flush().catch(() => undefined)
      emit({ type: "execution-finished", executionId: id, status, endedAt: Date.now(), error })
      throw error
    } finally {
      options.signal?.removeEventListener("abort", onAbort)
    }
  }

  /**
   * A dry run: reduces `expression` as far as the cache allows without running any task body
   * and without writing anything, and returns the plan: the calls that would run, each with the
   * reason it missed the cache, and the calls waiting on them (their arguments are not known).
   *
   * @example
   * const plan = await scheduler.dryRun(main(100))
   * for (const call of plan.calls) console.log(call.status, call.label, call.reason ?? call.waitsOn)
   */
  async dryRun(expression: unknown, options: Pick<RunOptions, "signal"> = {}): Promise<DryRunPlan> {
    const plan = new DryRun(this.backend)
    const emit = (event: SchedulerEvent) => {
      for (const listener of this.#listeners) listener(event)
    }
    const signal = options.signal ?? new AbortController().signal
    const execution = this.#execution(newExecutionId(), emit, signal, { dryRun: plan })
    try {
      const { value } = await execution.reduceRoot(expression)
      return { calls: plan.calls, cached: plan.cached, complete: true, value }
    } catch (error) {
      if (!isWouldRun(error)) throw error
      return { calls: plan.calls, cached: plan.cached, complete: false }
    }
  }

  #execution(
    id: string,
    emit: (event: SchedulerEvent) => void,
    signal: AbortSignal,
    extra: { dryRun?: DryRun; leases?: { intervalMs: number; expiryMs: number } | undefined },
  ): Execution {
    return new Execution({
      id,
      backend: this.backend,
      executors: this.executors,
      defaultExecutor: this.#options.defaultExecutor ?? "local",
      limits: new Limits(this.#options.limits ?? {}),
      cache: this.#options.cache ?? true,
      workflowPath: this.#options.workflowPath,
      context: this.#options.context ?? {},
      taskOptions: this.#options.taskOptions ?? {},
      routing: this.#options.routing,
      emit,
      signal,
      dryRun: extra.dryRun,
      leases: extra.leases,
    })
  }

  /** Stops every executor (subprocesses, pollers). The backend stays open: its owner closes it. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.executors).map((executor) => executor.stop()))
  }
}

/** The heartbeat timing with defaults; INVALID_ARGUMENT unless 0 < interval and 2 × interval ≤ expiry. */
function heartbeatOf(options: HeartbeatOptions | undefined): { intervalMs: number; expiryMs: number } {
  const intervalMs = options?.intervalMs ?? HEARTBEAT_DEFAULTS.intervalMs
  const expiryMs = options?.expiryMs ?? Math.max(HEARTBEAT_DEFAULTS.expiryMs, 6 * intervalMs)
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs) || !(expiryMs >= 2 * intervalMs) || !Number.isFinite(expiryMs)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `heartbeat: intervalMs must be positive and expiryMs at least twice as long (got ${intervalMs} and ${expiryMs})`,
    )
  }
  return { intervalMs, expiryMs }
}

/** The error a cancelled run rejects with: the abort's reason when it is one, with what a job threw as its cause. */
function cancellation(signal: AbortSignal, thrown: unknown): ReductioError {
  const reason: unknown = signal.reason
  const message = isReductioError(reason, "CANCELLED") ? reason.message : "the execution was cancelled"
  return new ReductioError("CANCELLED", message, thrown === undefined ? {} : { cause: thrown })
}

let lastStamp = ""
let counter = 0

/**
 * A time-ordered, unique execution id: `yyyymmddThhmmss-` + milliseconds + a per-process counter
 * + random, e.g. `20261122T010203-4170a3f9a1c`. Ids sort by start time, also across processes
 * that start in the same second (`reductio log` lists the newest first by id).
 */
export function newExecutionId(now = new Date()): string {
  const iso = now.toISOString()
  const stamp = iso.replace(/[-:]/g, "").slice(0, 15)
  const millis = iso.slice(20, 23)
  const key = `${stamp}${millis}`
  counter = key === lastStamp ? counter + 1 : 0
  lastStamp = key
  const random = Math.floor(Math.random() * 0xffffff)
    .toString(16)
    .padStart(6, "0")
  return `${stamp}-${millis}${counter.toString(36)}${random}`
}
