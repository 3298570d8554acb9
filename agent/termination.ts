/**
 * @module termination
 * SIGTERM (what TerminateJob, `docker stop` and `podman stop` send) and SIGINT end the job: the
 * agent aborts the task's signal, stops waiting for the task, writes a CANCELLED error record and
 * exits 143. A second signal
 * while that record is written exits at once. A task that blocks the event loop (a synchronous busy
 * loop) cannot be interrupted this way; the container runtime's SIGKILL ends it after its grace
 * period.
 */
import { AGENT_EXIT } from "../runtime/protocol.js"

const SIGNALS = ["SIGTERM", "SIGINT"] as const

/** A watch for termination signals. */
export interface Termination {
  /** Resolves with the first signal's name. */
  readonly signaled: Promise<NodeJS.Signals>
  /** Removes the handlers. */
  dispose(): void
}

/**
 * Starts watching for SIGTERM and SIGINT.
 *
 * @example
 * const termination = watchTermination()
 * const first = await Promise.race([work, termination.signaled])
 */
export function watchTermination(): Termination {
  let received: NodeJS.Signals | undefined
  let notify: (signal: NodeJS.Signals) => void = () => undefined
  const signaled = new Promise<NodeJS.Signals>((resolve) => {
    notify = resolve
  })
  const handler = (signal: NodeJS.Signals) => {
    if (received !== undefined) process.exit(AGENT_EXIT.cancelled)
    received = signal
    notify(signal)
  }
  for (const signal of SIGNALS) process.on(signal, handler)
  return {
    signaled,
    dispose() {
      for (const signal of SIGNALS) process.off(signal, handler)
    },
  }
}

/** Waits for `work`, at most `ms` milliseconds (a record written on the way out must not hold the exit up). */
export async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
    timer.unref()
  })
  try {
    await Promise.race([work.then(() => undefined), timeout])
  } finally {
    clearTimeout(timer)
  }
}
