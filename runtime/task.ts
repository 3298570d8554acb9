/**
 * @module task
 * `task(name, fn, options?)` declares a task: calling it returns a typed Lazy call expression.
 * The registry lives on `globalThis` under `Symbol.for("reductio.registry")`, so a user bundle and
 * the host (or the agent) share it even when each loads its own copy of the kernel.
 */
import { encode } from "./codec.js"
import { ReductioError } from "./errors.js"
import { type CallExpression, type CallOptions, type Lazily, type Lazy, makeExpression, type Resolved, toLazy } from "./expression.js"
import { taskHash } from "./hashing.js"

/** Options of a task, fixed where it is declared. Call sites may override the {@link CallOptions}. */
export interface TaskOptions extends CallOptions {
  /** Pins the task hash: edits to the body keep cached results until the version changes. */
  readonly version?: string
  /** Prefix of the task's full name (`namespace.name`). */
  readonly namespace?: string
  /** Extra values (or helper functions, by source) that are part of the task hash. */
  readonly hashIncludes?: readonly unknown[]
  /**
   * How `reductio run` parses each parameter, by name, where the TypeScript annotations do not
   * say (a JavaScript workflow) or say something else. Never part of the task hash.
   */
  readonly params?: Readonly<Record<string, ParamTypeName | ParamSchema>>
}

/** The types the command line parses a parameter as (see {@link TaskOptions.params}). */
export type ParamTypeName =
  | "string"
  | "number"
  | "boolean"
  | "bigint"
  | "json"
  | "object"
  | "File"
  | "Dir"
  | "Date"
  | "string[]"
  | "number[]"
  | "boolean[]"
  | "File[]"
  | "Dir[]"

/** One parameter's entry in {@link TaskOptions.params}. */
export interface ParamSchema {
  readonly type?: ParamTypeName
  /** The only values allowed (the type is then the type of the choices). */
  readonly choices?: readonly (string | number)[]
  /** Shown by `reductio run <workflow> <task> --help`. */
  readonly doc?: string
}

/** The host-side record of a registered task. */
export interface TaskDefinition {
  /** Full name: `namespace.name`, or `name`. The stable identity across runs and processes. */
  readonly name: string
  readonly fn: (...args: never[]) => unknown
  readonly options: TaskOptions
  /** The task hash (name + version or normalized source + hashIncludes). */
  readonly hash: string
  /** The function source as loaded (for provenance). */
  readonly source: string
}

/** The parameters of a task, each accepting a value, a Lazy, or lazies nested inside. */
export type LazilyArgs<A extends readonly unknown[]> = { [I in keyof A]: Lazily<A[I]> }

/**
 * A declared task. Calling it returns a `Lazy` of its (resolved) result; nothing runs until a
 * scheduler reduces the expression.
 */
export interface Task<A extends unknown[] = unknown[], R = unknown> {
  (...args: LazilyArgs<A>): Lazy<Resolved<Awaited<R>>>
  /** The full name. */
  readonly taskName: string
  /** The registered definition (function, options, hash). */
  readonly definition: TaskDefinition
  /** The same task with call-site option overrides (executor, resources, cache, retries, limits). */
  options(overrides: CallOptions): Task<A, R>
}

const REGISTRY_KEY = Symbol.for("reductio.registry")
const TASK = Symbol.for("reductio.task")
const CALL_OPTIONS = Symbol.for("reductio.callOptions")
const globals = globalThis as unknown as Record<symbol, Map<string, TaskDefinition> | undefined>
const registry: Map<string, TaskDefinition> = globals[REGISTRY_KEY] ?? new Map()
globals[REGISTRY_KEY] = registry

const NAME = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*$/

/**
 * Declares a task.
 *
 * @example
 * const inc = task("inc", (x: number) => x + 1)
 * const total = task("total", (xs: number[]) => xs.reduce((a, b) => a + b, 0))
 * const main = task("main", (n: number) => total(Array.from({ length: n }, (_, i) => inc(i))))
 */
export function task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options: TaskOptions = {}): Task<A, R> {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `invalid task name ${JSON.stringify(name)}: use letters, digits, _ and -, with dots between namespace parts`,
    )
  }
  if (typeof fn !== "function") {
    throw new ReductioError("INVALID_ARGUMENT", `task ${name}: the second argument must be the task function`)
  }
  checkOptions(options, TASK_OPTIONS, `task ${name}`)
  const fullName = options.namespace === undefined ? name : `${options.namespace}.${name}`
  const source = fn.toString()
  const includes =
    options.hashIncludes === undefined ? undefined : encode(options.hashIncludes.map(includeForHash), `task ${fullName} hashIncludes`)
  const hash = taskHash(fullName, options.version === undefined ? { source } : { version: options.version }, includes)
  const definition: TaskDefinition = Object.freeze({
    name: fullName,
    fn: fn as (...args: never[]) => unknown,
    options: Object.freeze({ ...options }),
    hash,
    source,
  })
  const existing = registry.get(fullName)
  if (existing !== undefined && (existing.hash !== hash || existing.source !== source)) {
    throw new ReductioError(
      "DUPLICATE_TASK",
      `two different tasks are named ${fullName}; give one another name or a namespace (task(name, fn, { namespace }))`,
    )
  }
  registry.set(fullName, definition)
  recordDeclaration(fullName)
  return makeTask<A, R>(definition, undefined)
}

const MODE_KEY = Symbol.for("reductio.mode")
const DECLARATIONS_KEY = Symbol.for("reductio.declarations")
const declarations: Map<string, string> = ((globalThis as unknown as Record<symbol, Map<string, string> | undefined>)[DECLARATIONS_KEY] ??=
  new Map())

/**
 * Remembers the module that declared a task, only while the command line loads a workflow: it
 * reads the task's parameter types from that module's source for `--help` and flag parsing.
 */
function recordDeclaration(name: string): void {
  if ((globalThis as unknown as Record<symbol, unknown>)[MODE_KEY] !== "cli") return
  const holder: { stack?: unknown } = {}
  const { prepareStackTrace, stackTraceLimit } = Error
  let frames: unknown
  try {
    Error.stackTraceLimit = 1
    Error.prepareStackTrace = (_error, callSites) => callSites
    Error.captureStackTrace(holder, task)
    // The stack is formatted when first read: read it while the override is in place.
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = prepareStackTrace
    Error.stackTraceLimit = stackTraceLimit
  }
  const file = Array.isArray(frames) ? (frames[0] as NodeJS.CallSite | undefined)?.getFileName?.() : undefined
  if (typeof file === "string") declarations.set(name, file)
}

/** The module (file URL or path) each task was declared in, as recorded by the command line. */
export function taskDeclarations(): ReadonlyMap<string, string> {
  return declarations
}

const CALL_OPTIONS_KNOWN = ["executor", "cache", "retries", "limits", "memory", "vcpus", "gpus", "timeout", "image"] as const
const TASK_OPTIONS = [...CALL_OPTIONS_KNOWN, "version", "namespace", "hashIncludes", "params"] as const

/** Refuses option names reductio does not know (a typo would otherwise be silently ignored). */
function checkOptions(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ReductioError("INVALID_ARGUMENT", `${where}: unknown option "${key}"; known options: ${known.join(", ")}`)
    }
  }
}

function includeForHash(value: unknown): unknown {
  return typeof value === "function" ? `function:${value.toString()}` : value
}

function makeTask<A extends unknown[], R>(definition: TaskDefinition, overrides: CallOptions | undefined): Task<A, R> {
  const call = (...args: unknown[]) =>
    toLazy(
      makeExpression<CallExpression>(
        overrides === undefined
          ? { kind: "call", task: definition.name, args }
          : { kind: "call", task: definition.name, args, options: overrides },
      ),
    )
  Object.defineProperties(call, {
    taskName: { value: definition.name },
    definition: { value: definition },
    options: {
      value: (more: CallOptions) => {
        checkOptions(more, CALL_OPTIONS_KNOWN, `${definition.name}.options()`)
        return makeTask<A, R>(definition, Object.freeze({ ...overrides, ...more }))
      },
    },
    [TASK]: { value: true },
    [CALL_OPTIONS]: { value: overrides },
    name: { value: definition.name },
  })
  return call as unknown as Task<A, R>
}

/** True for a value made by {@link task} (from any copy of the kernel). */
export function isTask(value: unknown): value is Task {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[TASK] === true
}

/** The call-site overrides a Task carries (from `t.options({...})`), if any. */
export function callOverridesOf(value: Task): CallOptions | undefined {
  return (value as unknown as Record<symbol, CallOptions | undefined>)[CALL_OPTIONS]
}

/** Looks up a registered task by full name, or throws TASK_NOT_FOUND listing the known names. */
export function lookupTask(name: string): TaskDefinition {
  const definition = registry.get(name)
  if (definition === undefined) {
    const known = [...registry.keys()].filter((known) => !known.startsWith("reductio.")).sort()
    throw new ReductioError(
      "TASK_NOT_FOUND",
      `no task named ${JSON.stringify(name)}; known tasks: ${known.length === 0 ? "(none registered)" : known.join(", ")}`,
      { details: { task: name, known } },
    )
  }
  return definition
}

/** All registered tasks, by full name. */
export function registeredTasks(): ReadonlyMap<string, TaskDefinition> {
  return registry
}

/** A task function's parameter as read from its source. */
export interface TaskParameter {
  readonly name: string
  /** Has a default value, or is a rest parameter. */
  readonly optional: boolean
}

/**
 * The parameter names of a task function, read from its source (for the CLI's `--name value`
 * flags). Destructured parameters appear as `arg<i>`.
 */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  return taskParameters(fn).map((parameter) => parameter.name)
}

/** The parameters of a task function, read from its source. */
export function taskParameters(fn: (...args: never[]) => unknown): TaskParameter[] {
  const source = fn.toString()
  const arrow = /^(?:async\s*)?([A-Za-z_$][\w$]*)\s*=>/.exec(source)
  if (arrow?.[1] !== undefined) return [{ name: arrow[1], optional: false }]
  const open = source.indexOf("(")
  if (open < 0) return []
  let depth = 0
  let end = open
  for (let i = open; i < source.length; i++) {
    const ch = source[i]
    if (ch === "(" || ch === "[" || ch === "{") depth++
    else if (ch === ")" || ch === "]" || ch === "}") {
      depth--
      if (depth === 0) {
        end = i
        break
      }
    }
  }
  const list = source.slice(open + 1, end)
  const parts: string[] = []
  depth = 0
  let current = ""
  for (const ch of list) {
    if (ch === "(" || ch === "[" || ch === "{") depth++
    if (ch === ")" || ch === "]" || ch === "}") depth--
    if (ch === "," && depth === 0) {
      parts.push(current)
      current = ""
    } else current += ch
  }
  if (current.trim() !== "") parts.push(current)
  return parts.map((part, i) => {
    const match = /^\s*(\.\.\.)?([A-Za-z_$][\w$]*)/.exec(part)
    const rest = match?.[1] !== undefined
    return { name: match?.[2] ?? `arg${i}`, optional: rest || hasDefault(part) }
  })
}

/** True when a parameter's source has a top-level `=` (a default value). */
function hasDefault(part: string): boolean {
  let depth = 0
  for (let i = 0; i < part.length; i++) {
    const ch = part[i]
    if (ch === "(" || ch === "[" || ch === "{") depth++
    else if (ch === ")" || ch === "]" || ch === "}") depth--
    else if (ch === "=" && depth === 0 && part[i + 1] !== ">" && part[i + 1] !== "=") return true
  }
  return false
}
