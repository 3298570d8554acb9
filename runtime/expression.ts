/**
 * @module expression
 * Expressions are frozen plain data with a `kind`; a `Lazy<T>` is a typed proxy over one. Property
 * and index access on a lazy value stay lazy (`aligned.bam` is `Lazy<File>`). A Lazy is never
 * thenable: an async task body returns lazies, it does not await them.
 */
import { registerCodec, setExpressionIdentity, TAGS } from "./codec.js"
import { ReductioError } from "./errors.js"

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
  /** The container image (AWS Batch), instead of the executor's. */
  readonly image?: string
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
  if (typeof value !== "object" || value === null) return undefined
  const record = value as Record<symbol, unknown>
  if (record[EXPRESSION] === true) return value as Expression
  const inner = record[LAZY]
  return inner === undefined ? undefined : (inner as Expression)
}

/** True for a Lazy or an expression. */
export function isLazy(value: unknown): boolean {
  return expressionOf(value) !== undefined
}

// ---------------------------------------------------------------------------------------------
// Types

/** Marks classes whose instances are opaque values (not mapped field by field in lazy types). */
export const opaque: unique symbol = Symbol.for("reductio.opaque") as never

declare const lazyBrand: unique symbol
type Primitive = string | number | boolean | bigint | symbol | null | undefined
// biome-ignore lint/complexity/noBannedTypes: any function type is a leaf here
type Leaf = Primitive | Date | Uint8Array | Map<unknown, unknown> | Set<unknown> | Error | Function | { readonly [opaque]?: true }

type LazyMembers<T> = [T] extends [Primitive]
  ? unknown
  : [T] extends [readonly (infer E)[]]
    ? { readonly [index: number]: Lazy<E>; readonly length: Lazy<number> }
    : [T] extends [Leaf]
      ? { readonly [K in keyof T as K extends string ? (T[K] extends (...args: never[]) => unknown ? never : K) : never]-?: Lazy<T[K]> }
      : { readonly [K in keyof T as K extends string ? K : never]-?: Lazy<T[K]> }

/**
 * A value that will exist once the scheduler reduces it. Property and index access stay lazy and
 * typed; pass lazies to tasks, return them from tasks; never `await` them.
 */
export type Lazy<T> = { readonly [lazyBrand]: T } & LazyMembers<T>

/** What a task parameter of type `T` accepts: the value, a Lazy of it, or lazies inside it. */
export type Lazily<T> =
  | T
  | Lazy<T>
  | ([T] extends [Primitive]
      ? never
      : [T] extends [readonly (infer E)[]]
        ? readonly Lazily<E>[]
        : [T] extends [Map<infer K, infer V>]
          ? Map<Lazily<K>, Lazily<V>>
          : [T] extends [Set<infer E>]
            ? Set<Lazily<E>>
            : [T] extends [Leaf]
              ? never
              : { [K in keyof T]: Lazily<T[K]> })

/** The value a task's result reduces to: every Lazy inside replaced by its value type. */
export type Resolved<T> = T extends { readonly [lazyBrand]: infer U }
  ? U
  : T extends Primitive
    ? T
    : T extends readonly (infer E)[]
      ? Resolved<E>[]
      : T extends Map<infer K, infer V>
        ? Map<Resolved<K>, Resolved<V>>
        : T extends Set<infer E>
          ? Set<Resolved<E>>
          : T extends Leaf
            ? T
            : { [K in keyof T]: Resolved<T[K]> }

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

const handler: ProxyHandler<{ expression: Expression }> = {
  get(target, key) {
    if (key === LAZY) return target.expression
    if (key === "then") return undefined
    if (typeof key === "symbol") {
      if (key === Symbol.toPrimitive) return () => misuse("a primitive (in a template string, comparison or arithmetic)")
      if (key === inspectCustom) return () => `Lazy<${describeExpression(target.expression)}>`
      if (key === Symbol.toStringTag) return "Lazy"
      return undefined
    }
    if (key === "toJSON") return () => misuse("JSON")
    if (key === "toString" || key === "valueOf") return () => misuse("a string or number")
    if (key === "constructor") return undefined
    return toLazy(makeExpression<GetExpression>({ kind: "get", target: target.expression, key: INDEX.test(key) ? Number(key) : key }))
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

/** Wraps an expression in a typed Lazy proxy. */
export function toLazy<T>(expression: Expression): Lazy<T> {
  // util.inspect looks at a proxy's target, not through its traps: give the target the method.
  const target = { expression }
  Object.defineProperty(target, inspectCustom, { value: () => `Lazy<${describeExpression(expression)}>` })
  return new Proxy(target, handler) as unknown as Lazy<T>
}

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
  map: (f) => isText(f.task) && Array.isArray(f.extraArgs) && isOptions(f.options),
  flatten: () => true,
  catch: (f) => (f.handler === null || isText(f.handler)) && isTextList(f.codes) && isTextList(f.names),
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
