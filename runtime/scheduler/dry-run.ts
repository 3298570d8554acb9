/**
 * @module dry-run
 * A dry run reduces an expression as far as the cache allows and runs no task body: a call the
 * cache cannot answer is listed as one that would run, with the reason it missed, and a call whose
 * arguments need such a call's value is listed as waiting on it. Nothing is written.
 */
import type { Backend, TaskRecord } from "../backend/backend.js"
import type { TaskDefinition } from "../task.js"
import { invalidPaths } from "./cached-value.js"
import { FAN_OUT_WINDOW, mapWindowed } from "./values.js"

/**
 * Why a call would run: the cache is off for it (`--no-cache`, `cache: false`); a File in its
 * cached result changed; its task was edited (the name is recorded, but under other task hashes);
 * this task version never ran with these arguments; or nothing is recorded under the task's name.
 */
export type MissReason = "cache-off" | "invalid-file" | "edited-task" | "new-arguments" | "no-entry"

/** A call in a dry run's plan. */
export interface PlannedCall {
  /** 1-based, in the order the dry run met the calls. */
  readonly id: number
  /** `run`: its body would run. `waits`: its arguments need the value of calls that would run. */
  readonly status: "run" | "waits"
  readonly task: string
  /** How listings name the call (see callLabel). */
  readonly label: string
  /** The reduced arguments (`run` only: a waiting call's are not known). */
  readonly args?: readonly unknown[]
  readonly evalHash?: string
  readonly reason?: MissReason
  /** The reason in words: the changed files, the recorded task hashes. */
  readonly detail?: string
  /** The planned calls it waits on (`waits` only). */
  readonly waitsOn?: readonly number[]
}

/** What a dry run found. */
export interface DryRunPlan {
  readonly calls: readonly PlannedCall[]
  /** Calls the cache answers (cached jobs and the recorded calls reused below them). */
  readonly cached: number
  /** True when no call would run: `value` is the value a run would return. */
  readonly complete: boolean
  readonly value?: unknown
}

/** A value a dry run cannot know: it needs the planned calls `ids` to run. */
export class WouldRun extends Error {
  constructor(readonly ids: readonly number[]) {
    super(`needs calls that would run: ${ids.map((id) => `#${id}`).join(", ")}`)
    this.name = "WouldRun"
  }
}

/** The plan a dry run builds while the execution reduces. */
export class DryRun {
  readonly calls: PlannedCall[] = []
  cached = 0
  readonly #versions = new Map<string, Promise<TaskRecord[]>>()

  constructor(private readonly backend: Backend) {}

  /**
   * Lists a call whose body would run (the cache is off for it, its cached result held `invalid`,
   * or it has none), and returns the error its dependents reduce to.
   */
  async miss(
    call: { task: TaskDefinition; label: string; args: readonly unknown[]; evalHash: string },
    why: { cacheOff: string | undefined; invalid: Uint8Array | undefined },
  ): Promise<WouldRun> {
    const invalidFiles = why.invalid === undefined ? undefined : await invalidPaths(why.invalid)
    const { reason, detail } = await this.#reason(call.task, { cacheOff: why.cacheOff, invalidFiles })
    const id = this.calls.length + 1
    this.calls.push({
      id,
      status: "run",
      task: call.task.name,
      label: call.label,
      args: call.args,
      evalHash: call.evalHash,
      reason,
      detail,
    })
    return new WouldRun([id])
  }

  /** Lists a call that waits on planned calls, and returns the error its own dependents reduce to. */
  waits(task: TaskDefinition, label: string, cause: WouldRun): WouldRun {
    const id = this.calls.length + 1
    this.calls.push({ id, status: "waits", task: task.name, label, waitsOn: [...new Set(cause.ids)] })
    return new WouldRun([id])
  }

  async #reason(
    task: TaskDefinition,
    why: { cacheOff: string | undefined; invalidFiles: readonly string[] | undefined },
  ): Promise<{ reason: MissReason; detail: string }> {
    if (why.cacheOff !== undefined) return { reason: "cache-off", detail: why.cacheOff }
    if (why.invalidFiles !== undefined) {
      return { reason: "invalid-file", detail: `changed since it was recorded: ${why.invalidFiles.join(", ") || "a value in the result"}` }
    }
    let versions = this.#versions.get(task.name)
    if (versions === undefined) this.#versions.set(task.name, (versions = this.backend.tasksNamed?.(task.name) ?? Promise.resolve([])))
    const recorded = await versions
    if (recorded.length === 0) return { reason: "no-entry", detail: `nothing is recorded for task ${task.name}` }
    if (recorded.some((version) => version.hash === task.hash)) {
      return { reason: "new-arguments", detail: "this task version has no result for these arguments" }
    }
    const [first] = recorded
    const more = recorded.length > 1 ? ` (and ${recorded.length - 1} more)` : ""
    return {
      reason: "edited-task",
      detail: `task hash ${task.hash.slice(0, 12)} differs from ${first?.hash.slice(0, 12)}${more} recorded for ${task.name}`,
    }
  }
}

/** True for the error of a value a dry run cannot know. */
export function isWouldRun(error: unknown): error is WouldRun {
  return error instanceof WouldRun
}

/**
 * Like Promise.all, but waits for every promise (a dry run lists every call, not the first
 * blocked one): a real error wins; else calls that would run are merged into one WouldRun.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises)
  const ids: number[] = []
  const values: T[] = []
  for (const result of results) {
    if (result.status === "fulfilled") values.push(result.value)
    else if (isWouldRun(result.reason)) ids.push(...result.reason.ids)
    else throw result.reason
  }
  if (ids.length > 0) throw new WouldRun(ids)
  return values
}

/** Reduces every item (in windows, like a run); items that would run are merged into one WouldRun. */
export async function reduceEveryItem(items: readonly unknown[], reduce: (item: unknown) => Promise<unknown>): Promise<unknown[]> {
  const blocked: number[] = []
  const values = await mapWindowed(items, FAN_OUT_WINDOW, (item) =>
    reduce(item).catch((error: unknown) => {
      if (!isWouldRun(error)) throw error
      blocked.push(...error.ids)
      return undefined
    }),
  )
  if (blocked.length > 0) throw new WouldRun(blocked)
  return values
}
