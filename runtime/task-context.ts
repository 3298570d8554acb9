/**
 * @module task-context
 * What a running task body can ask about its call: the abort signal of its execution, which fires
 * on Ctrl-C (or when an embedding app aborts `Scheduler.run`).
 *
 * The signal is handed over while the executor calls the task function, synchronously: a body
 * reads it before its first `await` and keeps it. (Node 20's AsyncLocalStorage would carry it
 * across awaits too, but it makes every promise in the process about twice as slow.) The slot
 * lives on `globalThis`, so a user bundle and the host (or the agent) share it with one kernel each.
 */
import { ReductioError } from "./errors.js"
import { MODE_KEY } from "./run.js"

const CONTEXT_KEY = Symbol.for("reductio.taskContext")

interface ContextSlot {
  /** The signal of the task function being called right now, synchronously. */
  signal: AbortSignal | undefined
}

const globals = globalThis as unknown as Record<symbol, unknown>
const slot = (globals[CONTEXT_KEY] ??= { signal: undefined }) as ContextSlot
/** What a body gets where the process itself is the unit of cancellation (the agent). */
const NEVER = new AbortController().signal

/**
 * The abort signal of the task call whose body is running: it aborts when the execution is
 * cancelled (Ctrl-C, or the embedding app's `signal`). Call it at the start of the body, before
 * the first `await`, and keep the result; the run ends CANCELLED whether or not the body stops.
 * Called anywhere else on the host it throws INVALID_ARGUMENT. Inside the agent (AWS Batch, the
 * process executor) it aborts when the agent receives SIGTERM or SIGINT, with a CANCELLED error as
 * its reason; called outside a body's start there, it returns a signal that never aborts.
 *
 * @example
 * const download = task("download", async (url: string) => {
 *   const signal = currentSignal()              // before any await
 *   const response = await fetch(url, { signal })
 *   return response.text()
 * })
 */
export function currentSignal(): AbortSignal {
  const signal = slot.signal
  if (signal !== undefined) return signal
  if (globals[MODE_KEY] === "agent") return NEVER
  throw new ReductioError(
    "INVALID_ARGUMENT",
    "currentSignal() was called outside a task body's start: call it before the first await in the task function and keep the signal",
  )
}

/**
 * Calls `fn` with `signal` as the {@link currentSignal} of the task body it runs (for executors
 * that call task functions in-process). The slot is set only while `fn` runs synchronously.
 *
 * @example
 * const value = await callWithSignal(job.signal, () => job.task.fn(...job.args))
 */
export function callWithSignal<R>(signal: AbortSignal, fn: () => R): R {
  const previous = slot.signal
  slot.signal = signal
  try {
    return fn()
  } finally {
    slot.signal = previous
  }
}
