/**
 * @module builtins
 * Control flow as expressions the scheduler reduces: `cond`, `seq`, `map`, `flatten`,
 * `catchError` and `throwError`. Recursion and data-dependent fan-out need nothing more.
 */
import type {
  CatchExpression,
  CondExpression,
  FlattenExpression,
  Lazily,
  Lazy,
  MapExpression,
  Resolved,
  SeqExpression,
  ThrowExpression,
} from "./expression.js"
import { makeExpression, toLazy } from "./expression.js"
import { boundArgsOf, callOverridesOf, isTask, type Task } from "./task.js"
import { ReductioError } from "./errors.js"

/**
 * `then` when `test` reduces to a truthy value, else `otherwise`; only the chosen branch is reduced.
 *
 * @example
 * const result = cond(isSmall(n), fastPath(n), slowPath(n))
 */
export function cond<A, B>(test: Lazily<unknown>, then: Lazily<A>, otherwise: Lazily<B>): Lazy<A | B> {
  return toLazy(makeExpression<CondExpression>({ kind: "cond", test, then, else: otherwise }))
}

/**
 * Reduces each item only after the previous one finished; the value is the list of their values.
 *
 * @example
 * const [, loaded] = seq([createTable(db), load(db, rows)])
 */
export function seq<T extends readonly unknown[]>(items: readonly [...{ [I in keyof T]: Lazily<T[I]> }]): Lazy<T> {
  return toLazy(makeExpression<SeqExpression>({ kind: "seq", items: [...items] }))
}

/**
 * Calls `fn` once per item of a (possibly lazy) list: a data-dependent fan-out.
 *
 * @example
 * const counts = map(count, listFiles(dir))   // Lazy<number[]>
 */
export function map<E, R, X extends unknown[] = []>(
  fn: Task<[E, ...X], R>,
  items: Lazily<readonly E[]>,
  ...extraArgs: { [I in keyof X]: Lazily<X[I]> }
): Lazy<Resolved<Awaited<R>>[]> {
  if (!isTask(fn)) throw new ReductioError("INVALID_ARGUMENT", "map(fn, items): fn must be a task declared with task()")
  return toLazy(mapExpression(fn, items, extraArgs, false))
}

/** A map expression over a task value (its bound arguments come before each item). */
export function mapExpression(fn: Task, items: unknown, extraArgs: readonly unknown[], spread: boolean): MapExpression {
  const leading = boundArgsOf(fn)
  return makeExpression<MapExpression>({
    kind: "map",
    task: fn.taskName,
    items,
    extraArgs: [...extraArgs],
    options: callOverridesOf(fn),
    leading: leading.length === 0 ? undefined : [...leading],
    spread: spread ? true : undefined,
  })
}

/**
 * Removes one level of nesting from a (possibly lazy) list of lists.
 *
 * @example
 * const all = flatten([map(split, a), map(split, b)])
 */
export function flatten<E>(items: Lazily<readonly (readonly E[])[]>): Lazy<E[]> {
  return toLazy(makeExpression<FlattenExpression>({ kind: "flatten", items }))
}

/** An error class, for {@link CatchFilter.classes}. */
export type ErrorClass = abstract new (...args: never[]) => Error

/** Which errors `catchError` catches: by code, name or class; all empty catches every error. */
export interface CatchFilter {
  readonly codes?: readonly string[]
  readonly names?: readonly string[]
  /**
   * The class or any subclass, also for an error thrown in another process (matched by the chain
   * of class names the error record carries).
   */
  readonly classes?: readonly ErrorClass[]
}

/**
 * Reduces `body`; if it fails with a matching error, the value is the handler's instead. The
 * handler is a task called with the original error, or a plain recovery value.
 *
 * @example
 * const safe = catchError(parse(file), task("fallback", (error: Error) => ({ ok: false, why: error.message })))
 * const zero = catchError(divide(a, b), 0, { codes: ["DIVISION_BY_ZERO"] })
 */
export function catchError<T, R>(body: Lazily<T>, handler: Task<[Error], R>, filter?: CatchFilter): Lazy<T | Resolved<Awaited<R>>>
export function catchError<T, R>(body: Lazily<T>, fallback: Lazily<R>, filter?: CatchFilter): Lazy<T | R>
export function catchError<T, R>(body: Lazily<T>, handler: Task<[Error], R> | Lazily<R>, filter: CatchFilter = {}): Lazy<unknown> {
  const byTask = isTask(handler)
  const handlerArgs = byTask ? boundArgsOf(handler) : []
  return toLazy(
    makeExpression<CatchExpression>({
      kind: "catch",
      body,
      handler: byTask ? handler.taskName : null,
      fallback: byTask ? null : handler,
      codes: [...(filter.codes ?? [])],
      names: [...(filter.names ?? [])],
      classes: filter.classes === undefined || filter.classes.length === 0 ? undefined : filter.classes.map(classNameOf),
      handlerArgs: handlerArgs.length === 0 ? undefined : [...handlerArgs],
      handlerOptions: byTask ? callOverridesOf(handler) : undefined,
    }),
  )
}

function classNameOf(errorClass: ErrorClass): string {
  if (typeof errorClass !== "function" || typeof errorClass.name !== "string" || errorClass.name === "") {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      "catchError(..., { classes }): each class must be a named class (class ParseError extends Error {})",
    )
  }
  return errorClass.name
}

/**
 * An expression that fails when reduced, with a code `catchError` can filter on.
 *
 * @example
 * cond(valid(x), process(x), throwError("input is not valid", "INVALID_INPUT"))
 */
export function throwError(message: string, code = "WORKFLOW_ERROR", name = "WorkflowError"): Lazy<never> {
  return toLazy<never>(makeExpression<ThrowExpression>({ kind: "throw", message, code, name }))
}
