/**
 * @module expression
 * Expressions are frozen plain data with a `kind`; a `Lazy<T>` is a typed proxy over one. Property
 * and index access on a lazy value stay lazy (`aligned.bam` is `Lazy<File>`). A Lazy is never
 * thenable: an async task body returns lazies, it does not await them.
 */
import type { BatchJobOptions } from "./executor/batch/batch-options.js"
import { registerCodec, setExpressionIdentity, TAGS } from "./codec.js"
import { ReductioError } from "./errors.js"
import type { Lazy } from "./lazy-types.js"

export { type Lazily, type LazilyParams, type Lazy, opaque, type Resolved } from "./lazy-types.js"

/**
 * Options a call site may override with `task.options({...})`; they never change a cache key.
 * Resources apply to the executors that place work (process, AWS Batch, AWS Glue).
 */
export interface CallOptions {
  /** The configured executor to run on (default: the configuration's default, `local`). */
  readonly executor?: string
  /** false: always run, never replay from the cache (the result is still recorded). */
  readonly cache?: boolean
  /** Attempts after the first when the call fails. */
  readonly retries?: number
  /** Named concurrency limits the call holds while it runs: `["db"]` or `{ db: 2 }`. */
  readonly limits?: Readonly<Record<string, number>> | readonly string[]
  /** Memory in MiB. */
  readonly memory?: number
  readonly vcpus?: number
  readonly gpus?: number
  /** Seconds before the call is stopped. */
  readonly timeout?: number
  /**
   * true: the process executor runs the call in a fresh agent process, not in a reusable worker
   * (for a body that leaves global state, handles or native memory behind). Never part of a hash.
   */
  readonly freshProcess?: boolean
  /** The container image (AWS Batch), instead of the executor's. */
  readonly image?: string
  /**
   * AWS Batch settings (queue, Fargate, roles, environment, secrets, volumes, priority, ...), over
   * the executor's; environment, secrets, tags and linuxParameters merge by name.
   */
  readonly batch?: BatchJobOptions
  /**
   * What listings and errors call this call besides its task's name (`script(cmd, { name })`):
   * at most 200 characters, never part of a hash.
   */
  readonly name?: string
}

/** A call of a registered task. Arguments may hold values, lazies and expressions at any depth. */
export interface CallExpression {
  readonly kind: "call"
  readonly task: string
  readonly args: readonly unknown[]
  readonly options?: CallOptions | undefined
}
/** Property or index access on the value of another expression. */
export interface GetExpression {
  readonly kind: "get"
  readonly target: unknown
  readonly key: string | number
}
/** `cond(test, then, else)`: reduces only the branch the test picks. */
export interface CondExpression {
  readonly kind: "cond"
  readonly test: unknown
  readonly then: unknown
  readonly else: unknown
}
/** `seq([a, b, c])`: reduces items one after another; the value is the list of their values. */
export interface SeqExpression {
  readonly kind: "seq"
  readonly items: readonly unknown[]
}
/** `map(task, list)`: one call of the task per item of a (possibly lazy) list. */
export interface MapExpression {
  readonly kind: "map"
  readonly task: string
  readonly items: unknown
  readonly extraArgs: readonly unknown[]
  readonly options?: CallOptions | undefined
  /** Arguments before each item (a partial task's bound arguments). */
  readonly leading?: readonly unknown[] | undefined
  /** Each item is the argument list (`starmap`), not the first argument. */
  readonly spread?: true | undefined
}
/** `flatten(listOfLists)`: one level of nesting removed. */
export interface FlattenExpression {
  readonly kind: "flatten"
  readonly items: unknown
}
/** `catchError(body, handler, filter)`: the handler's value replaces a matching error. */
export interface CatchExpression {
  readonly kind: "catch"
  readonly body: unknown
  /** A task name (called with the error) or null when `fallback` is the recovery value. */
  readonly handler: string | null
  readonly fallback: unknown
  readonly codes: readonly string[]
  readonly names: readonly string[]
  /** Class names: an error whose class is one of them or a subclass (by the recorded name chain). */
  readonly classes?: readonly string[] | undefined
  /** Arguments before the error (a partial handler's bound arguments). */
  readonly handlerArgs?: readonly unknown[] | undefined
  /** The handler's call-site options. */
  readonly handlerOptions?: CallOptions | undefined
}
/**
 * A method call on the value of another expression (`lazyText.toUpperCase()`), or, with `method`
 * null, a call of a task value (`force(delayed)`). Reduced on the host, like `get`: the call is
 * not cached, what it returns is reduced further.
 */
export interface ApplyExpression {
  readonly kind: "apply"
  readonly target: unknown
  readonly method: string | number | null
  readonly args: readonly unknown[]
}
/** `zip(a, b, ...)`: the lists' items paired by position, as long as the shortest list. */
export interface ZipExpression {
  readonly kind: "zip"
  readonly lists: readonly unknown[]
}
/** `throwError(message, code)`: raises an error when reduced. */
export interface ThrowExpression {
  readonly kind: "throw"
  readonly message: string
  readonly code: string
  readonly name: string
}

/** Every expression kind. */
export type Expression =
  | CallExpression
  | GetExpression
  | CondExpression
  | SeqExpression
  | MapExpression
  | FlattenExpression
  | CatchExpression
  | ThrowExpression
  | ApplyExpression
  | ZipExpression

const EXPRESSION = Symbol.for("reductio.expression")
const LAZY = Symbol.for("reductio.lazy")

type Fields<E> = E extends Expression ? Omit<E, never> : never

/** Freezes plain fields into an expression. */
export function makeExpression<E extends Expression>(fields: Fields<E>): E {
  const expression: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) expression[key] = value
  Object.defineProperty(expression, EXPRESSION, { value: true })
  return Object.freeze(expression) as unknown as E
}

/** The expression behind a Lazy, an expression itself, or undefined for any other value. */
export function expressionOf(value: unknown): Expression | undefined {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return undefined
  const record = value as Record<symbol, unknown>
  // A Lazy first: on its proxy this is one trap call, not two.
  const inner = record[LAZY]
  if (inner !== undefined) return inner as Expression
  return record[EXPRESSION] === true ? (value as Expression) : undefined
}

/** True for a Lazy or an expression. */
export function isLazy(value: unknown): boolean {
  return expressionOf(value) !== undefined
}

// ---------------------------------------------------------------------------------------------
// The proxy

const INDEX = /^(?:0|[1-9]\d*)$/
const inspectCustom = Symbol.for("nodejs.util.inspect.custom")

function misuse(what: string): never {
  throw new ReductioError(
    "INVALID_ARGUMENT",
    `a Lazy value was used as ${what}; its value does not exist yet. Pass it to a task (or return it from one) and read it there`,
  )
}

/** How far a Lazy whose length is unknown may be iterated before it is an error. */
export const UNKNOWN_LENGTH_ITERATION_LIMIT = 1000

type LazyTarget = { expression: Expression }

const handler: ProxyHandler<LazyTarget> = {
  get(target, key) {
    if (key === LAZY) return target.expression
    if (key === "then") return undefined
    if (typeof key === "symbol") {
      if (key === Symbol.toPrimitive) return () => misuse("a primitive (in a template string, comparison or arithmetic)")
      if (key === inspectCustom) return () => `Lazy<${describeExpression(target.expression)}>`
      if (key === Symbol.toStringTag) return "Lazy"
      if (key === Symbol.iterator) return () => lazyItems(target.expression)
      return undefined
    }
    if (key === "toJSON") return () => misuse("JSON")
    if (key === "toString" || key === "valueOf") return () => misuse("a string or number")
    if (key === "constructor") return undefined
    return toLazy(makeExpression<GetExpression>({ kind: "get", target: target.expression, key: INDEX.test(key) ? Number(key) : key }))
  },
  // A property read on a lazy value may be a method: calling it is a lazy method call.
  apply(target, _this, args: unknown[]) {
    const get = target.expression as GetExpression
    return toLazy(makeExpression<ApplyExpression>({ kind: "apply", target: get.target, method: get.key, args }))
  },
  set() {
    return misuse("an object to assign to")
  },
  has(_target, key) {
    return key === LAZY
  },
  ownKeys() {
    return []
  },
}

/**
 * Wraps an expression in a typed Lazy proxy. The Lazy of a property read is callable (a method
 * call on the value); every other Lazy is a plain object, the cheaper proxy.
 */
export function toLazy<T>(expression: Expression): Lazy<T> {
  const target: LazyTarget = expression.kind === "get" ? Object.assign(() => undefined, { expression }) : { expression }
  // util.inspect looks at a proxy's target, not through its traps: give the target the method
  // (one shared function, not a closure per Lazy).
  Object.defineProperty(target, inspectCustom, INSPECT_LAZY)
  return new Proxy(target, handler) as unknown as Lazy<T>
}

const INSPECT_LAZY: PropertyDescriptor = {
  // Called on the proxy (its LAZY trap answers) or on the target itself.
  value(this: LazyTarget & { [LAZY]?: Expression }) {
    return `Lazy<${describeExpression(this[LAZY] ?? this.expression)}>`
  },
  configurable: true,
}

/**
 * The items of a lazy list, for destructuring: `const [a, b] = split(x)`. A call of a task with
 * `nout` has that many; any other lazy list yields items until the destructuring stops, and is an
 * INVALID_ARGUMENT error past {@link UNKNOWN_LENGTH_ITERATION_LIMIT} (a spread of a lazy list
 * needs its length: declare `nout`).
 */
function* lazyItems(expression: Expression): Generator<Lazy<unknown>> {
  const length = knownLength(expression)
  for (let index = 0; index < (length ?? UNKNOWN_LENGTH_ITERATION_LIMIT); index++) {
    yield toLazy(makeExpression<GetExpression>({ kind: "get", target: expression, key: index }))
  }
  if (length === undefined) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `the lazy value ${describeExpression(expression)} was iterated past ${UNKNOWN_LENGTH_ITERATION_LIMIT} items but its length is unknown: give its task the nout option (task(name, fn, { nout: 3 })), or pass the list to a task and iterate it there`,
    )
  }
}

/** The `nout` of the task a call expression calls, when that task is registered here. */
function knownLength(expression: Expression): number | undefined {
  if (expression.kind !== "call") return undefined
  const registry = (globalThis as unknown as Record<symbol, Map<string, { options: { nout?: number } }> | undefined>)[REGISTRY_KEY]
  return registry?.get(expression.task)?.options.nout
}

const REGISTRY_KEY = Symbol.for("reductio.registry")

/** A short human description of an expression, for logs and inspection. */
export function describeExpression(expression: Expression): string {
  switch (expression.kind) {
    case "call":
      return `${expression.task}(…)`
    case "get": {
      const inner = expressionOf(expression.target)
      const base = inner === undefined ? "value" : describeExpression(inner)
      return typeof expression.key === "number" ? `${base}[${expression.key}]` : `${base}.${expression.key}`
    }
    case "map":
      return `map(${expression.task}, …)`
    case "apply": {
      const inner = expressionOf(expression.target)
      const base = inner === undefined ? "value" : describeExpression(inner)
      return expression.method === null ? `${base}(…)` : `${base}.${expression.method}(…)`
    }
    default:
      return `${expression.kind}(…)`
  }
}

registerCodec<Expression>({
  tag: TAGS.expression,
  name: "Expression",
  is: (value): value is Expression => expressionOf(value) !== undefined,
  encode: (value) => ({ ...(expressionOf(value) as Expression) }),
  decode: (data) => makeExpression<Expression>(checkedFields(data)),
})

const isText = (value: unknown) => typeof value === "string"
const isTextList = (value: unknown) => Array.isArray(value) && value.every(isText)
const isOptions = (value: unknown) => value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value))

/** The fields each expression kind must have, checked on expressions read back (a cache, a container). */
const FIELD_CHECKS: Readonly<Record<Expression["kind"], (fields: Record<string, unknown>) => boolean>> = {
  call: (f) => isText(f.task) && Array.isArray(f.args) && isOptions(f.options),
  get: (f) => isText(f.key) || Number.isSafeInteger(f.key),
  cond: () => true,
  seq: (f) => Array.isArray(f.items),
  map: (f) =>
    isText(f.task) &&
    Array.isArray(f.extraArgs) &&
    isOptions(f.options) &&
    (f.leading === undefined || Array.isArray(f.leading)) &&
    (f.spread === undefined || f.spread === true),
  flatten: () => true,
  catch: (f) =>
    (f.handler === null || isText(f.handler)) &&
    isTextList(f.codes) &&
    isTextList(f.names) &&
    (f.classes === undefined || isTextList(f.classes)) &&
    (f.handlerArgs === undefined || Array.isArray(f.handlerArgs)) &&
    isOptions(f.handlerOptions),
  apply: (f) => (f.method === null || isText(f.method) || Number.isSafeInteger(f.method)) && Array.isArray(f.args),
  zip: (f) => Array.isArray(f.lists),
  throw: (f) => isText(f.message) && isText(f.code) && isText(f.name),
}

function checkedFields(data: unknown): Fields<Expression> {
  const fields = data as Record<string, unknown>
  const kind = typeof data === "object" && data !== null ? fields.kind : undefined
  const check = typeof kind === "string" && Object.hasOwn(FIELD_CHECKS, kind) ? FIELD_CHECKS[kind as Expression["kind"]] : undefined
  if (check === undefined || !check(fields)) {
    throw new ReductioError(
      "UNDECODABLE_VALUE",
      `not an expression: ${typeof kind === "string" ? `a ${kind} with the wrong fields` : "no kind"}`,
    )
  }
  return fields as Fields<Expression>
}
setExpressionIdentity(expressionOf)
