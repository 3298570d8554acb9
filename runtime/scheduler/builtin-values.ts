/**
 * @module builtin-values
 * What the scheduler computes itself, on reduced values, for the built-in expressions that are
 * not task calls: lazy method calls (`apply`), `zip`, and the error a `catchError` handler gets.
 */
import { type ErrorRecord, errorClassChain, fromErrorRecord, ReductioError, TaskError, toErrorRecord } from "../errors.js"
import { forEachRegistered, TAGS } from "../codec.js"
import { type CatchExpression, expressionOf } from "../expression.js"
import { isTask, registeredTasks } from "../task.js"

/** Method names never called on a value: they reach the object model, not the data. */
const REFUSED_METHODS = new Set([
  "constructor",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
])

/**
 * Calls `target[method](...args)` (or `target(...args)` for a task value, `method` null) and
 * resolves to what it returns; a task's call is a Lazy the scheduler reduces next.
 */
export async function applyTo(target: unknown, method: string | number | null, args: readonly unknown[]): Promise<unknown> {
  if (method === null) {
    if (!isTask(target))
      throw new ReductioError("INVALID_ARGUMENT", `force(…) or a call of a lazy value needs a task, got ${describe(target)}`)
    return (target as (...a: unknown[]) => unknown)(...args)
  }
  if (target === null || target === undefined) {
    throw new ReductioError("INVALID_ARGUMENT", `cannot call ${String(method)}() on ${String(target)}`)
  }
  const fn = typeof method === "string" && REFUSED_METHODS.has(method) ? undefined : (target as Record<string | number, unknown>)[method]
  if (typeof fn !== "function") {
    throw new ReductioError("INVALID_ARGUMENT", `${describe(target)} has no method ${JSON.stringify(method)}`, { details: { method } })
  }
  return await (fn as (...a: unknown[]) => unknown).apply(target, [...args])
}

/** The items of `lists` paired by position, as long as the shortest. */
export function zipLists(lists: unknown): unknown[][] {
  if (!Array.isArray(lists) || !lists.every(Array.isArray)) {
    throw new ReductioError("INVALID_ARGUMENT", "zip(...lists): every argument must reduce to an array")
  }
  const arrays = lists as unknown[][]
  const length = arrays.length === 0 ? 0 : Math.min(...arrays.map((list) => list.length))
  return Array.from({ length }, (_, i) => arrays.map((list) => list[i]))
}

/**
 * The error a `catchError` handler is called with: the original error behind a failed call, with
 * its name, message, code, details, cause and class chain but no stack (nor log tail), so the
 * handler's cache key does not change with where the run was started or with line numbers. The
 * stack stays in the failed job's record.
 */
export function handlerErrorOf(error: unknown): Error {
  const original = error instanceof TaskError && error.cause instanceof Error ? error.cause : error
  return fromErrorRecord(withoutStacks(toErrorRecord(original)))
}

function withoutStacks(record: ErrorRecord): ErrorRecord {
  const { stack: _stack, cause, details, ...rest } = record
  // The log tail of a failed job (details.logTail) is as much about where it ran as a stack.
  const { logTail: _logTail, ...kept } = details ?? {}
  return {
    ...rest,
    stack: `${record.name}: ${record.message}`,
    ...(details === undefined ? {} : { details: kept }),
    ...(cause === undefined ? {} : { cause: withoutStacks(cause) }),
  }
}

/** True when `catchError`'s filter (codes, names, classes) takes the error; an empty filter takes all. */
export function matchesFilter(error: unknown, expression: CatchExpression): boolean {
  const classes = expression.classes ?? []
  if (expression.codes.length === 0 && expression.names.length === 0 && classes.length === 0) return true
  const candidates = [error, error instanceof Error ? error.cause : undefined].filter(
    (e): e is object => typeof e === "object" && e !== null,
  )
  return candidates.some((candidate) => {
    const { code, name } = candidate as { code?: unknown; name?: unknown }
    if (typeof code === "string" && expression.codes.includes(code)) return true
    if (typeof name === "string" && expression.names.includes(name)) return true
    return classes.length > 0 && errorClassChain(candidate).some((className) => classes.includes(className))
  })
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (typeof value === "object") return Array.isArray(value) ? "an array" : `a ${(value as object).constructor?.name ?? "value"}`
  return `a ${typeof value}`
}

/**
 * True when a (cached) result names a task not registered in this process: one declared inside
 * the body of the task that returned it, which only running that body again registers.
 */
export function namesUnregisteredTask(value: unknown): boolean {
  const registered = registeredTasks()
  let missing = false
  forEachRegistered(value, (item, codec) => {
    if (missing || codec.tag !== TAGS.expression) return
    const expression = expressionOf(item)
    const name =
      expression?.kind === "call" || expression?.kind === "map" ? expression.task : expression?.kind === "catch" ? expression.handler : null
    if (typeof name === "string" && !registered.has(name)) missing = true
  })
  return missing
}
