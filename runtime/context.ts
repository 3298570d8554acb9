/**
 * @module context
 * The run's context, as redun's: configuration values a task body reads with
 * `getContext("tool.param", fallback)`. Which keys a task reads is known before it runs: the literal
 * keys of the `getContext(...)` calls in its own source, plus its `context` option. Their values
 * are part of the call's eval hash, so a call reruns when a key it reads changes and no other call
 * does (a task that only passes values on reads nothing). The values travel with the job (the
 * job request, the job entry) and are installed around the body with AsyncLocalStorage.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { ReductioError } from "./errors.js"
import type { TaskDefinition } from "./task.js"

/** The context a task body may read: the keys it declares and the values present for them. */
export interface TaskContext {
  /** The task reading it, for messages. */
  readonly task: string
  /** Every key the task declares (a key may have no value: `getContext` gives its fallback). */
  readonly keys: readonly string[]
  /** The values of the declared keys that are set, by key. */
  readonly values: Readonly<Record<string, unknown>>
}

const STORE_KEY = Symbol.for("reductio.contextStore")
const globals = globalThis as unknown as Record<symbol, AsyncLocalStorage<TaskContext> | undefined>
// One store for every copy of the kernel in a process (the agent's and a bundle's).
const store: AsyncLocalStorage<TaskContext> = globals[STORE_KEY] ?? new AsyncLocalStorage<TaskContext>()
globals[STORE_KEY] = store

/**
 * Reads a context value inside a task body: `key` is a dotted path into the context
 * (`"bwa.threads"` is `context.bwa.threads`), `fallback` the value when it is not set. The key
 * must be one the task declares: a literal `getContext("...")` in the task's own function, or its
 * `context` option (for keys read by helpers or computed); anything else is INVALID_ARGUMENT.
 *
 * @example
 * const align = task("align", (reads: File) => {
 *   const threads = getContext("bwa.threads", 4)   // set by context in reductio.config.ts or --context bwa.threads=8
 *   return script(`bwa mem -t ${threads} ...`)
 * })
 */
export function getContext<T>(key: string, fallback: T): T
export function getContext<T = unknown>(key: string): T | undefined
export function getContext(key: string, fallback?: unknown): unknown {
  const current = store.getStore()
  if (current === undefined || !current.keys.includes(key)) {
    const where = current === undefined ? "outside a task that declares it" : `in task ${current.task}, which does not declare it`
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `getContext(${JSON.stringify(key)}) was read ${where}: call getContext with the key as a literal in the task's own function, or list the key in the task's context option (task(name, fn, { context: [${JSON.stringify(key)}] }))`,
      { details: { key, task: current?.task } },
    )
  }
  return Object.hasOwn(current.values, key) ? current.values[key] : fallback
}

/** Runs a task body with the context it may read (none: the body runs as it is). */
export function runWithContext<R>(context: TaskContext | undefined, body: () => R): R {
  return context === undefined ? body() : store.run(context, body)
}

const LITERAL_READ = /\bgetContext\s*\(\s*(?:"([^"\\]+)"|'([^'\\]+)'|`([^`\\$]+)`)/g
const keysByTask = new WeakMap<TaskDefinition, readonly string[]>()

/** The context keys a task declares: literal reads in its source, then its `context` option. */
export function contextKeysOf(task: TaskDefinition): readonly string[] {
  const known = keysByTask.get(task)
  if (known !== undefined) return known
  const keys = new Set<string>()
  // The function as it runs, not the source as written: a type argument (`getContext<T>(…)`)
  // is gone there, and a comment that names a key does not count.
  const code = task.fn.toString()
  if (code.includes("getContext")) {
    for (const match of code.matchAll(LITERAL_READ)) keys.add((match[1] ?? match[2] ?? match[3]) as string)
  }
  for (const key of task.options.context ?? []) keys.add(key)
  const sorted = Object.freeze([...keys].sort())
  keysByTask.set(task, sorted)
  return sorted
}

/**
 * The value at a dotted `key` of a context object; undefined when any step is missing.
 *
 * @example
 * contextValue({ bwa: { threads: 8 } }, "bwa.threads")   // 8
 */
export function contextValue(context: Readonly<Record<string, unknown>>, key: string): unknown {
  let at: unknown = context
  for (const step of key.split(".")) {
    if (typeof at !== "object" || at === null || Array.isArray(at) || !Object.hasOwn(at, step)) return undefined
    at = (at as Record<string, unknown>)[step]
  }
  return at
}

/**
 * Sets a dotted `key` in a (nested, plain) context object, creating the objects on the way.
 *
 * @example
 * setContextValue(context, "bwa.threads", 8)
 */
export function setContextValue(context: Record<string, unknown>, key: string, value: unknown): void {
  const steps = key.split(".")
  if (steps.some((step) => step === "" || step === "__proto__" || step === "constructor" || step === "prototype")) {
    throw new ReductioError("INVALID_ARGUMENT", `context key ${JSON.stringify(key)} is not a dotted path of names`, { details: { key } })
  }
  let at = context
  for (const step of steps.slice(0, -1)) {
    const next = at[step]
    if (typeof next !== "object" || next === null || Array.isArray(next)) at[step] = {}
    at = at[step] as Record<string, unknown>
  }
  at[steps[steps.length - 1] as string] = value
}

/** The context of one task in a run: its declared keys and their values; undefined when it declares none. */
export function taskContextFor(task: TaskDefinition, context: Readonly<Record<string, unknown>>): TaskContext | undefined {
  const keys = contextKeysOf(task)
  if (keys.length === 0) return undefined
  const values: Record<string, unknown> = {}
  for (const key of keys) {
    const value = contextValue(context, key)
    if (value !== undefined) values[key] = value
  }
  return Object.freeze({ task: task.name, keys, values: Object.freeze(values) })
}

/** Checks a context that arrived from elsewhere (a job entry): INVALID_ARGUMENT when it is malformed. */
export function checkedTaskContext(value: unknown): TaskContext | undefined {
  if (value === undefined) return undefined
  const context = value as Partial<TaskContext> | null
  const valid =
    typeof context === "object" &&
    context !== null &&
    typeof context.task === "string" &&
    Array.isArray(context.keys) &&
    context.keys.every((key) => typeof key === "string") &&
    typeof context.values === "object" &&
    context.values !== null &&
    !Array.isArray(context.values)
  if (!valid) throw new ReductioError("INVALID_ARGUMENT", "the job entry's context is not { task, keys, values }")
  return context as TaskContext
}
