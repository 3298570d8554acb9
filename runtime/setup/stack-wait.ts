/**
 * @module stack-wait
 * Waits for a stack operation to settle while reporting its events as they arrive (oldest first),
 * and turns a failed operation into STACK_FAILED naming the first resource that failed and
 * CloudFormation's reason for it.
 */
import { ReductioError } from "../errors.js"
import type { CloudFormationApi, StackEvent, StackSummary } from "./cloudformation-client.js"

/** How to wait. */
export interface WaitOptions {
  /** Called once per new event, oldest first. */
  readonly onEvent: (event: StackEvent) => void
  /** The newest event before the operation started: earlier events are not reported. */
  readonly after?: string | undefined
  /** First and longest pause between polls, in ms (default 2 s growing to 10 s). */
  readonly pollMs?: number | undefined
  readonly maxPollMs?: number | undefined
  /** Longest wait, in ms (default 3 hours, CloudFormation's own limit for most operations). */
  readonly timeoutMs?: number | undefined
  /** Pauses between polls (tests pass a fake clock). */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined
}

/** The statuses a stack settles in, by what they mean for the operation that led there. */
const SETTLED = {
  CREATE_COMPLETE: "ok",
  UPDATE_COMPLETE: "ok",
  DELETE_COMPLETE: "ok",
  IMPORT_COMPLETE: "ok",
  CREATE_FAILED: "failed",
  ROLLBACK_COMPLETE: "failed",
  ROLLBACK_FAILED: "failed",
  DELETE_FAILED: "failed",
  UPDATE_FAILED: "failed",
  UPDATE_ROLLBACK_COMPLETE: "failed",
  UPDATE_ROLLBACK_FAILED: "failed",
  IMPORT_ROLLBACK_COMPLETE: "failed",
  IMPORT_ROLLBACK_FAILED: "failed",
} as const satisfies Record<string, "ok" | "failed">

/** True when no operation is running on a stack in `status`. */
export function isSettled(status: string): boolean {
  return status in SETTLED
}

/** True when a stack in `status` can be updated (its creation did not fail). */
export function isUpdatable(status: string): boolean {
  return ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"].includes(status)
}

/**
 * Polls the stack `stackId` until it settles; resolves with it (undefined once deleted) when it
 * settled in a `*_COMPLETE` status other than a rollback, else throws STACK_FAILED.
 *
 * @example
 * const stack = await waitForStack(api, stackId, { onEvent: (e) => console.error(e.status, e.logicalId) })
 */
export async function waitForStack(api: CloudFormationApi, stackId: string, options: WaitOptions): Promise<StackSummary | undefined> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const maxPoll = options.maxPollMs ?? 10_000
  let pause = options.pollMs ?? 2_000
  let waited = 0
  let after = options.after
  const seen: StackEvent[] = []
  for (;;) {
    // Status first, then events: a stack's events are written before its status changes, so the
    // events read after a settled status include every one that led there.
    const stack = await api.describeStack(stackId)
    const fresh = (await api.events(stackId, after).catch((error: unknown) => gone(error, []))).reverse()
    for (const event of fresh) {
      seen.push(event)
      options.onEvent(event)
    }
    after = fresh.at(-1)?.eventId ?? after
    if (stack === undefined) return undefined
    const outcome = SETTLED[stack.status as keyof typeof SETTLED]
    if (outcome === "ok") return stack
    if (outcome === "failed") throw stackFailed(stack, seen)
    if (waited >= (options.timeoutMs ?? 3 * 3600_000)) {
      throw new ReductioError("STACK_FAILED", `stack ${stack.name} is still ${stack.status} after ${Math.round(waited / 60_000)} minutes`, {
        details: { stack: stack.name, status: stack.status },
      })
    }
    await sleep(pause)
    waited += pause
    pause = Math.min(maxPoll, Math.round(pause * 1.5))
  }
}

/** The events of a deleted stack cannot be read by name: treat that as no new events. */
function gone<T>(error: unknown, fallback: T): T {
  if (/does not exist/i.test((error as Error).message ?? "")) return fallback
  throw error
}

/** STACK_FAILED for a stack that settled badly, naming the first resource that failed. */
export function stackFailed(stack: StackSummary, events: readonly StackEvent[]): ReductioError {
  const failure = events.find(
    (event) => event.status.endsWith("_FAILED") && event.logicalId !== stack.name && !isCancellation(event.reason),
  )
  const details = {
    stack: stack.name,
    status: stack.status,
    ...(failure === undefined ? {} : { resource: failure.logicalId, resourceType: failure.resourceType, reason: failure.reason ?? "" }),
  }
  const cause =
    failure === undefined
      ? (stack.statusReason ?? "no failing resource reported")
      : `${failure.logicalId} (${failure.resourceType}) ${failure.status}: ${failure.reason ?? "no reason given"}`
  const hint = stack.status.startsWith("UPDATE_ROLLBACK")
    ? "the stack was rolled back to its previous settings and still works"
    : stack.status === "DELETE_FAILED"
      ? `fix the cause and run reductio aws teardown --stack ${stack.name} again`
      : `nothing of it is usable: run reductio aws teardown --stack ${stack.name}, fix the cause, and set up again`
  return new ReductioError("STACK_FAILED", `stack ${stack.name} is ${stack.status}: ${cause}; ${hint}`, { details })
}

function isCancellation(reason: string | undefined): boolean {
  return reason !== undefined && /cancell?ed/i.test(reason)
}
