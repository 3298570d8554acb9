/**
 * @module local-executor
 * Runs task functions in-process, asynchronously, with a concurrency limit. The default executor.
 * A body reads the execution's abort signal with `currentSignal()`.
 */
import { runWithContext } from "../context.js"
import { isReductioError, toErrorRecord } from "../errors.js"
import { Semaphore } from "../scheduler/semaphore.js"
import { callWithSignal } from "../task-context.js"
import { cancelledOutcome, type Executor, type JobOutcome, type JobRequest } from "./executor.js"

/** Options of a {@link LocalExecutor}. */
export interface LocalExecutorOptions {
  /** How many task functions may be in flight at once; default unlimited. */
  readonly concurrency?: number
}

/**
 * @example
 * new Scheduler({ executors: { local: new LocalExecutor({ concurrency: 8 }) } })
 */
export class LocalExecutor implements Executor {
  readonly kind = "local"
  readonly #slots: Semaphore | undefined

  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY
    this.#slots = Number.isFinite(concurrency) ? new Semaphore(Math.max(1, concurrency)) : undefined
  }

  async submit(job: JobRequest): Promise<JobOutcome> {
    await this.#slots?.acquire()
    let startedAt: number | undefined
    try {
      if (job.signal.aborted) return cancelledOutcome("cancelled before it started")
      const fn = job.task.fn as (...args: unknown[]) => unknown
      startedAt = Date.now()
      const result = runWithContext(job.context, () => callWithSignal(job.signal, () => fn(...job.args)))
      // A synchronous body ended now; awaiting it would count the scheduler's other work as its own.
      const value = isThenable(result) ? await result : result
      return { status: "done", value, startedAt, endedAt: Date.now() }
    } catch (error) {
      // A body that stops on the abort signal (or a script killed by Ctrl-C) was cancelled, not failed.
      const kind = job.signal.aborted || isReductioError(error, "CANCELLED") ? "cancelled" : "task"
      return { status: "failed", kind, error: toErrorRecord(error), startedAt, endedAt: Date.now() }
    } finally {
      this.#slots?.release()
    }
  }

  async stop(): Promise<void> {}
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
}
