/**
 * @module functools
 * The higher-order helpers redun users reach for, with the same laziness: `starmap`, `flatMap`,
 * `zip`, `compose`, `delay` / `force`, `constant` and `evaluate`. Tasks are values, so these
 * are small: `compose` and `delay` are partial applications of built-in tasks, the rest are
 * expressions the scheduler reduces.
 */
import { flatten, mapExpression } from "./builtins.js"
import { ReductioError } from "./errors.js"
import {
  type ApplyExpression,
  type GetExpression,
  type Lazily,
  type Lazy,
  makeExpression,
  type Resolved,
  toLazy,
  type ZipExpression,
} from "./expression.js"
import { isTask, type Task, task } from "./task.js"

/**
 * Calls `fn` once per argument list of a (possibly lazy) list: `starmap(add, [[1, 2], [3, 4]])`.
 *
 * @example
 * const sums = starmap(add, zip(xs, ys))   // Lazy<number[]>
 */
export function starmap<A extends unknown[], R>(fn: Task<A, R>, argLists: Lazily<readonly A[]>): Lazy<Resolved<Awaited<R>>[]> {
  if (!isTask(fn)) throw new ReductioError("INVALID_ARGUMENT", "starmap(fn, argLists): fn must be a task")
  return toLazy(mapExpression(fn as unknown as Task, argLists, [], true))
}

/**
 * Calls `fn` once per item and concatenates the lists it returns.
 *
 * @example
 * const words = flatMap(splitWords, lines)   // Lazy<string[]>
 */
export function flatMap<E, R>(fn: Task<[E], R>, items: Lazily<readonly E[]>): Lazy<FlatItem<Resolved<Awaited<R>>>[]> {
  if (!isTask(fn)) throw new ReductioError("INVALID_ARGUMENT", "flatMap(fn, items): fn must be a task")
  return flatten(toLazy(mapExpression(fn as unknown as Task, items, [], false)) as never) as Lazy<FlatItem<Resolved<Awaited<R>>>[]>
}

/** The item type of a list (or the value itself when it is not one). */
export type FlatItem<T> = T extends readonly (infer E)[] ? E : T

/**
 * The items of (possibly lazy) lists paired by position, as long as the shortest list.
 *
 * @example
 * zip(samples, listFiles(dir))   // Lazy<[string, File][]>
 */
export function zip<T extends unknown[]>(...lists: { [I in keyof T]: Lazily<readonly T[I][]> }): Lazy<T[]> {
  return toLazy(makeExpression<ZipExpression>({ kind: "zip", lists: [...lists] }))
}

const composeApply = task(
  "compose",
  (tasks: readonly Task[], ...args: unknown[]): unknown => {
    const last = tasks[tasks.length - 1] as Task
    let result: unknown = (last as unknown as (...a: unknown[]) => unknown)(...args)
    for (let i = tasks.length - 2; i >= 0; i--) result = (tasks[i] as unknown as (x: unknown) => unknown)(result)
    return result
  },
  { namespace: "reductio", version: "1" },
)

/**
 * A task value applying the last task first: `compose(f, g)(x)` is `f(g(x))`. Each call records
 * a `reductio.compose` call with the calls it makes below it.
 *
 * @example
 * const cleanThenCount = compose(count, clean)   // Task<[text: string], number>
 * map(cleanThenCount, texts)
 */
export function compose<A extends unknown[], B, C>(f: Task<[Resolved<Awaited<B>>], C>, g: Task<A, B>): Task<A, C>
export function compose<A extends unknown[], B, C, D>(
  f: Task<[Resolved<Awaited<C>>], D>,
  g: Task<[Resolved<Awaited<B>>], C>,
  h: Task<A, B>,
): Task<A, D>
export function compose(...tasks: Task[]): Task
export function compose(...tasks: Task[]): Task {
  if (tasks.length === 0 || !tasks.every(isTask)) throw new ReductioError("INVALID_ARGUMENT", "compose(...tasks): give one or more tasks")
  return (composeApply as unknown as Task<[readonly Task[], ...unknown[]], unknown>).partial(tasks) as Task
}

const identity = task("identity", (value: unknown) => value, { namespace: "reductio", version: "1" })

/**
 * Delays a value holding lazies: a task value of no arguments that reduces `value` when called
 * (through {@link force}). Passing it to a task does not reduce it, as a closure would not.
 *
 * @example
 * const heavy = delay(expensive(x))
 * cond(needed, force(heavy), 0)
 */
export function delay<T>(value: Lazily<T>): Task<[], T> {
  return (identity as unknown as Task<[unknown], T>).partial(value) as unknown as Task<[], T>
}

/**
 * Reduces a delayed value (or calls any task value of no arguments), also when the delayed value
 * is itself lazy (a task returned it).
 *
 * @example
 * const value = force(delayed)   // Lazy<T>
 */
export function force<T>(delayed: Task<[], T> | Lazy<Task<[], T>>): Lazy<Resolved<Awaited<T>>> {
  if (isTask(delayed)) return (delayed as unknown as () => Lazy<Resolved<Awaited<T>>>)()
  return toLazy(makeExpression<ApplyExpression>({ kind: "apply", target: delayed, method: null, args: [] }))
}

/**
 * `value` once `evaluated` have been reduced too: orders work without passing its results on.
 *
 * @example
 * const report = constant(summary, writeTable(db))   // the summary, after the table is written
 */
export function constant<T>(value: Lazily<T>, ...evaluated: readonly unknown[]): Lazy<T> {
  return toLazy(makeExpression<GetExpression>({ kind: "get", target: [value, ...evaluated], key: 0 }))
}

/**
 * A Lazy of any value holding lazies: the value with every lazy inside replaced by its value.
 *
 * @example
 * const both = evaluate({ left: align(a), right: align(b) })   // Lazy<{ left: Aligned; right: Aligned }>
 */
export function evaluate<T>(value: T): Lazy<Resolved<T>> {
  return toLazy(makeExpression<GetExpression>({ kind: "get", target: [value], key: 0 }))
}
