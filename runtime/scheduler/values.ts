/**
 * @module values
 * Walking values while they reduce: finding expressions, reading keys, fanning out in windows.
 */
import { ReductioError } from "../errors.js"
import { expressionOf } from "../expression.js"

/**
 * How many items of one list reduce at once. A fan-out of 100,000 calls then keeps at most this
 * many jobs alive (memory stays flat, and the garbage collector works on a small live heap), and
 * it is still the largest AWS Batch array, so array grouping loses nothing.
 */
export const FAN_OUT_WINDOW = 10_000

/** `Promise.all(items.map(fn))` with at most `window` calls of `fn` in flight. */
export function mapWindowed<T, R>(items: readonly T[], window: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  if (items.length <= window) return Promise.all(items.map(fn))
  return new Promise((resolve, reject) => {
    const results = new Array<R>(items.length)
    let next = 0
    let done = 0
    let failed = false
    const start = (): void => {
      const index = next++
      fn(items[index] as T).then(
        (value) => {
          results[index] = value
          done++
          if (done === items.length) resolve(results)
          else if (next < items.length && !failed) start()
        },
        (error: unknown) => {
          failed = true
          reject(error)
        },
      )
    }
    for (let i = 0; i < window; i++) start()
  })
}

export function readKey(target: unknown, key: string | number): unknown {
  if (target === null || target === undefined) {
    throw new ReductioError("INVALID_ARGUMENT", `cannot read ${JSON.stringify(key)} of ${String(target)}`)
  }
  if (target instanceof Map) return target.get(key)
  return (target as Record<string | number, unknown>)[key]
}

export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** True when an expression or Lazy appears anywhere inside `value` (iterative: no deep recursion). */
export function containsExpression(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (item === null || (typeof item !== "object" && typeof item !== "function")) continue
    // A lazy property read is callable; a task value's bound arguments stay unevaluated.
    if (expressionOf(item) !== undefined) return true
    if (typeof item === "function") continue
    if (Array.isArray(item)) {
      for (const element of item)
        if ((typeof element === "object" && element !== null) || typeof element === "function") stack.push(element)
    } else if (item instanceof Map) {
      for (const [k, v] of item) stack.push(k, v)
    } else if (item instanceof Set) {
      for (const element of item) stack.push(element)
    } else if (isPlainObject(item)) {
      for (const key in item) stack.push((item as Record<string, unknown>)[key])
    }
  }
  return false
}
