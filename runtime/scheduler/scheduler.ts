/**
 * @module scheduler
 * The embedding API: `new Scheduler({ backend, executors }).run(expression)` reduces an
 * expression graph and resolves to its typed value. No server is needed.
 */
import { MemoryBackend } from "../backend/memory-backend.js"
import type { Backend, ExecutionStatus } from "../backend/backend.js"
import { ReductioError, isReductioError } from "../errors.js"
import type { Executor } from "../executor/executor.js"
import { LocalExecutor } from "../executor/local-executor.js"
import type { CallOptions, Lazy } from "../expression.js"
import type { SchedulerEvent } from "./events.js"
import { Execution } from "./execution.js"
import { Limits } from "./semaphore.js"

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
  /** The context task bodies read with `getContext` (nested objects; keys are dotted paths). */
  readonly context?: Readonly<Record<string, unknown>>
  /** Option overrides per task name for every call of this scheduler's runs (`-o task=option=value`). */
  readonly taskOptions?: Readonly<Record<string, CallOptions>>
}

/** Options of one {@link Scheduler.run}. */
export interface RunOptions {
  /** Recorded as the execution's command (e.g. `run workflow.ts main --n 10`). */
  readonly command?: string
  /** Cancels the execution: running jobs are asked to stop, pending ones never start. */
  readonly signal?: AbortSignal
  /** Use this execution id instead of a new one. */
  readonly executionId?: string
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
    const execution = new Execution({
      id,
      backend: this.backend,
      executors: this.executors,
      defaultExecutor: this.#options.defaultExecutor ?? "local",
      limits: new Limits(this.#options.limits ?? {}),
      cache: this.#options.cache ?? true,
      workflowPath: this.#options.workflowPath,
      context: this.#options.context ?? {},
      taskOptions: this.#options.taskOptions ?? {},
      emit,
      signal: controller.signal,
    })
    const startedAt = Date.now()
    const command = options.command ?? "run"
    const record = (status: ExecutionStatus, endedAt: number | null, error: string | null) =>
      execution.recorder.execution({ id, startedAt, endedAt, status, command, rootCallHash: null, error })
    record("RUNNING", null, null)
    emit({ type: "execution-started", executionId: id, startedAt })
    try {
      const value = await execution.reduce(expression, null)
      record("DONE", Date.now(), null)
      await execution.recorder.flush()
      emit({ type: "execution-finished", executionId: id, status: "DONE", endedAt: Date.now() })
      return value
    } catch (error) {
      const status = controller.signal.aborted || isReductioError(error, "CANCELLED") ? "CANCELLED" : "FAILED"
      record(status, Date.now(), error instanceof Error ? error.message : String(error))
      await execution.recorder.flush().catch(() => undefined)
      emit({ type: "execution-finished", executionId: id, status, endedAt: Date.now(), error })
      throw error
    } finally {
      options.signal?.removeEventListener("abort", onAbort)
    }
  }

  /** Stops every executor (subprocesses, pollers). The backend stays open: its owner closes it. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.executors).map((executor) => executor.stop()))
  }
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
