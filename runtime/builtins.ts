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
import { callOverridesOf, isTask, type Task } from "./task.js"
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
  return toLazy(makeExpression<MapExpression>({ kind: "map", task: fn.taskName, items, extraArgs, options: callOverridesOf(fn) }))
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

/** Which errors `catchError` catches: by code or by name; both empty catches every error. */
export interface CatchFilter {
  readonly codes?: readonly string[]
  readonly names?: readonly string[]
}

/**
 * Reduces `body`; if it fails with a matching error, the value is the handler's instead. The
 * handler is a task called with the original error, or a plain recovery value.
 *
 * @example
 * const safe = catchError(parse(file), task("fallback", (error: Error) => ({ ok: false, why: error.message })))
 * const zero = catchError(divide(a, b), 0, { codes: ["DIVISION_BY_ZERO"] })
 */
export function catchError<T, R>(body: Lazily<T>, handler: Task<[Error], R> | Lazily<R>, filter: CatchFilter = {}): Lazy<T | Awaited<R>> {
  const byTask = isTask(handler)
  return toLazy(
    makeExpression<CatchExpression>({
      kind: "catch",
      body,
      handler: byTask ? handler.taskName : null,
      fallback: byTask ? null : handler,
      codes: [...(filter.codes ?? [])],
      names: [...(filter.names ?? [])],
    }),
  )
}

/**
 * An expression that fails when reduced, with a code `catchError` can filter on.
 *
 * @example
 * cond(valid(x), process(x), throwError("input is not valid", "INVALID_INPUT"))
 */
export function throwError(message: string, code = "WORKFLOW_ERROR", name = "WorkflowError"): Lazy<never> {
  return toLazy(makeExpression<ThrowExpression>({ kind: "throw", message, code, name }))
}
