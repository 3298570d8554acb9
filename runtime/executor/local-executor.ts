/**
 * @module local-executor
 * Runs task functions in-process, asynchronously, with a concurrency limit. The default executor.
 */
import { runWithContext } from "../context.js"
import { toErrorRecord } from "../errors.js"
import { Semaphore } from "../scheduler/semaphore.js"
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
    try {
      if (job.signal.aborted) return cancelledOutcome("cancelled before it started")
      const value = await runWithContext(job.context, () => (job.task.fn as (...args: unknown[]) => unknown)(...job.args))
      return { status: "done", value }
    } catch (error) {
      return { status: "failed", kind: "task", error: toErrorRecord(error) }
    } finally {
      this.#slots?.release()
    }
  }

  async stop(): Promise<void> {}
}
