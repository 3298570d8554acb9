/**
 * @module local-executor
 * Runs task functions in-process, asynchronously, with a concurrency limit. The default executor.
 * A body reads the execution's abort signal with `currentSignal()`. Calls that start processes
 * (`script()`) or declare `vcpus` or `memory` hold those as weights of the machine, so 100
 * script calls on 2 cores run 2 at a time, not 100.
 */
import { availableParallelism, totalmem } from "node:os"
import { runWithContext } from "../context.js"
import { isReductioError, toErrorRecord } from "../errors.js"
import { Semaphore } from "../scheduler/semaphore.js"
import { callWithSignal } from "../task-context.js"
import { cancelledOutcome, type Executor, type JobOutcome, type JobRequest } from "./executor.js"

/** Options of a {@link LocalExecutor}. */
export interface LocalExecutorOptions {
  /**
   * How many task functions may be in flight at once, and how many vcpus the weighted calls
   * share; default: unlimited functions, and as many vcpus as the machine has cores.
   */
  readonly concurrency?: number
  /** MiB of memory the calls that declare `memory` share; default: the machine's. */
  readonly memory?: number
}

/** The task `script()` declares: each call runs a process. */
const SCRIPT_TASK = "reductio.script"
const MIB = 1024 * 1024

/**
 * @example
 * new Scheduler({ executors: { local: new LocalExecutor({ concurrency: 8 }) } })
 */
export class LocalExecutor implements Executor {
  readonly kind = "local"
  readonly #slots: Semaphore | undefined
  /** The machine's cores (or `concurrency`), held by weighted calls: one each, or their vcpus. */
  readonly #vcpus: Semaphore
  /** The machine's memory in MiB, held by calls that declare `memory`. */
  readonly #memory: Semaphore

  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY
    this.#slots = Number.isFinite(concurrency) ? new Semaphore(Math.max(1, concurrency)) : undefined
    this.#vcpus = new Semaphore(Math.max(1, Number.isFinite(concurrency) ? concurrency : availableParallelism()))
    this.#memory = new Semaphore(Math.max(1, Math.floor(options.memory ?? totalmem() / MIB)))
  }

  /** The vcpus and MiB a call holds while it runs (a request over the machine holds all of it). */
  #weights(job: JobRequest): { vcpus: number; memory: number } | undefined {
    const vcpus = job.options.vcpus ?? job.task.options.vcpus
    const memory = job.options.memory ?? job.task.options.memory
    if (vcpus === undefined && memory === undefined && job.task.name !== SCRIPT_TASK) return undefined
    return { vcpus: Math.max(1, Math.ceil(vcpus ?? 1)), memory: Math.max(0, Math.ceil(memory ?? 0)) }
  }

  submit(job: JobRequest): Promise<JobOutcome> {
    const weights = this.#weights(job)
    return weights === undefined ? this.#run(job) : this.#runWeighted(job, weights)
  }

  async #runWeighted(job: JobRequest, weights: { vcpus: number; memory: number }): Promise<JobOutcome> {
    await this.#vcpus.acquire(weights.vcpus)
    if (weights.memory > 0) await this.#memory.acquire(weights.memory)
    try {
      return await this.#run(job)
    } finally {
      this.#vcpus.release(weights.vcpus)
      if (weights.memory > 0) this.#memory.release(weights.memory)
    }
  }

  async #run(job: JobRequest): Promise<JobOutcome> {
    // Without a concurrency limit a call starts now, not a turn later.
    if (this.#slots !== undefined) await this.#slots.acquire()
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
