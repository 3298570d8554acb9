/**
 * @module task
 * `task(name, fn, options?)` declares a task: calling it returns a typed Lazy call expression.
 * The registry lives on `globalThis` under `Symbol.for("reductio.registry")`, so a user bundle and
 * the host (or the agent) share it even when each loads its own copy of the kernel.
 */
import { batchOptionsFailure, checkBatchOptions } from "./executor/batch/batch-options.js"
import { encode, registerCodec, TAGS } from "./codec.js"
import { ReductioError } from "./errors.js"
import { type CallExpression, type CallOptions, type LazilyParams, type Lazy, makeExpression, type Resolved, toLazy } from "./expression.js"
import { taskHash } from "./hashing.js"
import { declaringModule, recordDeclaration } from "./task-declarations.js"
import { writtenSource } from "./task-source.js"

/** Options of a task, fixed where it is declared. Call sites may override the {@link CallOptions}. */
export interface TaskOptions extends Omit<CallOptions, "name"> {
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
  /**
   * The result is a list of this many items: the Lazy of a call can be destructured and iterated
   * (`const [train, test] = split(data)`), and its type is a tuple. Never part of the task hash.
   */
  readonly nout?: number
  /**
   * Context keys the task reads besides the literal `getContext("key")` calls in its own function
   * (keys read by helpers, or computed). Their values are part of each call's cache key.
   */
  readonly context?: readonly string[]
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
  /** The task hash (name + version or source as written + hashIncludes). */
  readonly hash: string
  /**
   * The function as written in its module (TypeScript, for provenance) where `task()` was called
   * as `task("name", fn)` there; else the function source as loaded (`fn.toString()`).
   */
  readonly source: string
}

/** The parameters of a task, each accepting a value, a Lazy, or lazies nested inside. */
export type LazilyArgs<A extends readonly unknown[]> = LazilyParams<A>

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
  /**
   * The same task with its first arguments bound: a task value of the remaining parameters.
   * Bound lazies are not reduced until the partial is called (they travel with the value).
   *
   * @example
   * const add = task("add", (a: number, b: number) => a + b)
   * const inc = add.partial(1)          // Task<[b: number], number>
   * map(inc, [1, 2, 3])                 // Lazy<number[]>: [2, 3, 4]
   */
  partial<B extends LeadingOf<A>>(...leading: LazilyArgs<B>): Task<AfterLeading<A, B>, R>
}

/**
 * The task declared from a function type: its parameters and result. (Inferred from the function
 * as written, so a parameter with a default keeps its type: `(n: number, label = "x")`.)
 */
export type TaskOf<F, N extends number = never> = F extends (...args: infer A) => infer R
  ? Task<A, [N] extends [never] ? R : WithLength<Awaited<R>, N>>
  : never

/** A list result of `N` items (the `nout` option) as a tuple, so its Lazy destructures. */
export type WithLength<R, N extends number> = R extends readonly (infer E)[] ? (number extends R["length"] ? TupleOf<E, N> : R) : R

type TupleOf<E, N extends number, Items extends E[] = []> = Items["length"] extends N
  ? Items
  : Items["length"] extends 64
    ? E[]
    : TupleOf<E, N, [...Items, E]>

/** Every leading part of a parameter list: `[]`, `[A0]`, `[A0, A1]`, ... */
export type LeadingOf<A extends readonly unknown[]> = A extends readonly []
  ? []
  : A extends readonly [infer H, ...infer T]
    ? [] | [H, ...LeadingOf<T>]
    : number extends A["length"]
      ? A[number][]
      : A extends readonly [(infer H)?, ...infer T]
        ? [] | [H, ...LeadingOf<T>]
        : []

/** The parameters left after binding `B` at the front of `A`. */
export type AfterLeading<A extends readonly unknown[], B extends readonly unknown[]> = A extends readonly [
  ...{ [I in keyof B]: unknown },
  ...infer Rest,
]
  ? Rest
  : Required<A> extends readonly [...{ [I in keyof B]: unknown }, ...infer Rest]
    ? Partial<Rest>
    : A

const REGISTRY_KEY = Symbol.for("reductio.registry")
const TASK = Symbol.for("reductio.task")
const BINDING = Symbol.for("reductio.taskBinding")
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
export function task<F extends (...args: never[]) => unknown, const N extends number>(
  name: string,
  fn: F,
  options: TaskOptions & { readonly nout: N },
): TaskOf<F, N>
export function task<F extends (...args: never[]) => unknown>(name: string, fn: F, options?: TaskOptions): TaskOf<F>
export function task<F extends (...args: never[]) => unknown>(name: string, fn: F, options: TaskOptions = {}): TaskOf<F> {
  return declareTask(name, fn, options)
}

function declareTask<F extends (...args: never[]) => unknown>(name: string, fn: F, options: TaskOptions): TaskOf<F> {
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
  if (options.nout !== undefined && (!Number.isInteger(options.nout) || options.nout < 0)) {
    throw new ReductioError("INVALID_ARGUMENT", `task ${name}: nout must be a whole number ≥ 0 (got ${JSON.stringify(options.nout)})`)
  }
  const fullName = options.namespace === undefined ? name : `${options.namespace}.${name}`
  const module = declaringModule()
  // The function as written hashes the same under every runtime and transpiler; fn.toString()
  // (the fallback) differs between them (tsx minifies, Bun inlines constants, Deno keeps comments).
  const written = writtenSource(name, options.namespace, module)
  const source = written?.text ?? fn.toString()
  const includes =
    options.hashIncludes === undefined ? undefined : encode(options.hashIncludes.map(includeForHash), `task ${fullName} hashIncludes`)
  const hash = taskHash(
    fullName,
    options.version === undefined ? { source: written?.canonical ?? source } : { version: options.version },
    includes,
  )
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
  recordDeclaration(fullName, module)
  return makeTask(refOf(definition), UNBOUND) as TaskOf<F>
}

/**
 * The call of a generic task, keeping the function's type parameters (see {@link genericTask}).
 * It is a Task at run time; its `options` and `partial` are reached through `isTask`.
 */
export type GenericTaskCall<A extends unknown[], R> = (...args: LazilyArgs<A>) => Lazy<Resolved<Awaited<R>>>

/**
 * Declares a task whose function is generic, keeping its type parameters at each call:
 * TypeScript cannot carry a function's type parameters through a value that also has methods, so
 * `task()` of `<T>(x: T) => T` gives `Lazy<unknown>` and `genericTask()` gives `Lazy<T>`.
 *
 * @example
 * const first = genericTask("first", <T>(items: T[]) => items[0] as T)
 * first([1, 2, 3])   // Lazy<number>
 */
export function genericTask<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: TaskOptions): GenericTaskCall<A, R> {
  return declareTask(name, fn, options ?? {}) as unknown as GenericTaskCall<A, R>
}

const RUN_OPTIONS = [
  "executor",
  "cache",
  "retries",
  "limits",
  "memory",
  "vcpus",
  "gpus",
  "timeout",
  "image",
  "batch",
  "freshProcess",
] as const
const CALL_OPTIONS_KNOWN = [...RUN_OPTIONS, "name"] as const
const TASK_OPTIONS = [...RUN_OPTIONS, "version", "namespace", "hashIncludes", "params", "nout", "context"] as const
const MAX_CALL_NAME = 200

/** Refuses option names reductio does not know (a typo would otherwise be silently ignored). */
function checkOptions(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ReductioError("INVALID_ARGUMENT", `${where}: unknown option "${key}"; known options: ${known.join(", ")}`)
    }
  }
  const { name, batch } = options as { name?: unknown; batch?: unknown }
  if (batch !== undefined) checkBatchOptions(batch, "batch", batchOptionsFailure(where))
  if (name !== undefined && (typeof name !== "string" || name === "" || name.length > MAX_CALL_NAME || [...name].some((c) => c < " "))) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `${where}: the option name must be a non-empty string of at most ${MAX_CALL_NAME} characters without control characters`,
    )
  }
}

function includeForHash(value: unknown): unknown {
  return typeof value === "function" ? `function:${value.toString()}` : value
}

/** What a Task value refers to: its name, and its definition once registered here. */
interface TaskRef {
  readonly name: string
  /** The registered definition; TASK_NOT_FOUND when the task is not registered in this process. */
  readonly definition: () => TaskDefinition
  /** The task hash: the registered task's, else the one recorded where the value was encoded. */
  readonly hash: () => string
}

function refOf(definition: TaskDefinition): TaskRef {
  return { name: definition.name, definition: () => definition, hash: () => definition.hash }
}

/** Call-site overrides and leading arguments bound by `options()` and `partial()`. */
interface Binding {
  readonly overrides: CallOptions | undefined
  readonly bound: readonly unknown[]
}

const UNBOUND: Binding = { overrides: undefined, bound: [] }

function makeTask<A extends unknown[], R>(ref: TaskRef, binding: Binding): Task<A, R> {
  const { overrides, bound } = binding
  const call = (...args: unknown[]) => {
    const all = bound.length === 0 ? args : [...bound, ...args]
    return toLazy(
      makeExpression<CallExpression>(
        overrides === undefined
          ? { kind: "call", task: ref.name, args: all }
          : { kind: "call", task: ref.name, args: all, options: overrides },
      ),
    )
  }
  Object.defineProperties(call, {
    taskName: { value: ref.name },
    definition: { get: ref.definition },
    options: {
      value: (more: CallOptions) => {
        checkOptions(more, CALL_OPTIONS_KNOWN, `${ref.name}.options()`)
        return makeTask<A, R>(ref, { overrides: Object.freeze({ ...overrides, ...more }), bound })
      },
    },
    partial: { value: (...leading: unknown[]) => makeTask(ref, { overrides, bound: Object.freeze([...bound, ...leading]) }) },
    [TASK]: { value: ref },
    [BINDING]: { value: binding },
    name: { value: ref.name },
  })
  return call as unknown as Task<A, R>
}

/**
 * True for a task, as declared or as a value (bound with `partial()`, read back from the cache or
 * from another process), from any copy of the kernel.
 *
 * @example
 * const apply = task("apply", (f: Task<[number], number>, x: number) => (isTask(f) ? f(x) : x))
 */
export function isTask(value: unknown): value is Task {
  return typeof value === "function" && typeof (value as unknown as Record<symbol, unknown>)[TASK] === "object"
}

/** The call-site overrides a Task carries (from `t.options({...})`), if any. */
export function callOverridesOf(value: Task): CallOptions | undefined {
  return bindingOf(value).overrides
}

/** The leading arguments a Task carries (from `t.partial(...)`), possibly none. */
export function boundArgsOf(value: Task): readonly unknown[] {
  return bindingOf(value).bound
}

function bindingOf(value: Task): Binding {
  return (value as unknown as Record<symbol, Binding | undefined>)[BINDING] ?? UNBOUND
}

/** A task value as data: what the codec writes (name and task hash identify the code). */
interface TaskValueData {
  readonly task: string
  readonly hash: string
  readonly args?: readonly unknown[]
  readonly options?: CallOptions
}

/**
 * A task read back as a value. It calls the task registered under its name (the current code, as
 * an expression read from the cache does); until one is registered, it keeps the hash recorded.
 */
function taskFromData(data: unknown): Task {
  const { task: name, hash, args, options } = (data ?? {}) as Partial<TaskValueData>
  if (typeof name !== "string" || typeof hash !== "string" || (args !== undefined && !Array.isArray(args))) {
    throw new ReductioError("UNDECODABLE_VALUE", "a stored task value lacks its task name or hash")
  }
  const ref: TaskRef = { name, definition: () => lookupTask(name), hash: () => registry.get(name)?.hash ?? hash }
  return makeTask(ref, {
    overrides: options === undefined ? undefined : Object.freeze({ ...options }),
    // The decoder's own array, not a copy: lazies inside it are placed once the expression table
    // they refer to is built (expression-table.ts fills them in where they sit).
    bound: args ?? [],
  })
}

registerCodec<Task>({
  tag: TAGS.task,
  name: "Task",
  is: (value): value is Task => isTask(value),
  encode: (value) => {
    const ref = (value as unknown as Record<symbol, TaskRef>)[TASK] as TaskRef
    const { overrides, bound } = bindingOf(value)
    const data: TaskValueData = {
      task: ref.name,
      hash: ref.hash(),
      ...(bound.length === 0 ? {} : { args: bound }),
      ...(overrides === undefined ? {} : { options: overrides }),
    }
    return data
  },
  decode: taskFromData,
})

/** Looks up a registered task by full name, or throws TASK_NOT_FOUND listing the known names. */
export function lookupTask(name: string, hint = ""): TaskDefinition {
  const definition = registry.get(name)
  if (definition === undefined) {
    const known = [...registry.keys()].filter((known) => !known.startsWith("reductio.")).sort()
    throw new ReductioError(
      "TASK_NOT_FOUND",
      `no task named ${JSON.stringify(name)}; known tasks: ${known.length === 0 ? "(none registered)" : known.join(", ")}${hint}`,
      { details: { task: name, known } },
    )
  }
  return definition
}

/** All registered tasks, by full name. */
export function registeredTasks(): ReadonlyMap<string, TaskDefinition> {
  return registry
}

export { parameterNames, type TaskParameter, taskParameters } from "./task-parameters.js"
export { taskDeclarations } from "./task-declarations.js"
