/**
 * @module values
 * Walking values while they reduce: finding expressions, reading keys, fanning out in windows.
 */
import { ReductioError } from "../errors.js"
import { expressionOf } from "../expression.js"
import { pushContainers } from "../codec.js"
import { VisitOnce } from "../visit-once.js"

/**
 * How many items of one list reduce at once once calls go to a batching executor (one with
 * `idle()`: AWS Batch, the process executor). A fan-out of 100,000 calls then keeps at most this
 * many jobs alive (memory stays flat, and the garbage collector works on a small live heap), and
 * it is still the largest AWS Batch array, so array grouping loses nothing.
 */
export const FAN_OUT_WINDOW = 10_000

/**
 * The window while no call has gone to a batching executor: grouping then gains nothing from a
 * wide window, and fewer live jobs keep fewer objects past a young-generation collection (a
 * fan-out of 100,000 local calls peaks about a quarter lower in memory).
 */
export const LOCAL_FAN_OUT_WINDOW = 2_000

/**
 * The window of an execution's fan-outs: {@link LOCAL_FAN_OUT_WINDOW} until its first call goes
 * to a batching executor, then {@link FAN_OUT_WINDOW}, and every fan-out under way widens at once
 * (before the executor hears `idle()`, so its first group is a wide one).
 */
export class FanOutWindow {
  #size: number
  readonly #waiting = new Set<() => void>()
  /** Calls holding a slot: being evaluated now (looked up, or run by their executor). */
  #evaluating = 0
  /** Calls waiting for a slot, first from `#head` on (a map-reduce tree queues many). */
  #queued: (() => void)[] = []
  #head = 0

  constructor(size = LOCAL_FAN_OUT_WINDOW) {
    this.#size = size
  }

  get size(): number {
    return this.#size
  }

  /** Widens to `size` (never narrows); fan-outs under way start their next items now. */
  widen(size = FAN_OUT_WINDOW): void {
    if (size <= this.#size) return
    this.#size = size
    for (const fill of [...this.#waiting]) fill()
    this.#admit()
  }

  /**
   * Takes one of the window's evaluation slots: undefined when one is free now, else a promise of
   * one. The same bound as a list's items holds for calls that are not a list's (the leaves of a
   * map-reduce tree, the arguments of many calls): at most `size` are looked up or run at once, so
   * their jobs do not all stay alive together. A call holds it only while it is evaluated, not
   * while its result's own calls reduce, so a parent never waits on a slot its children need.
   */
  enter(): Promise<void> | undefined {
    if (this.#head === this.#queued.length && this.#evaluating < this.#size) {
      this.#evaluating++
      return undefined
    }
    return new Promise((resolve) => {
      this.#queued.push(resolve)
    })
  }

  /** Gives back a slot taken by {@link enter}. */
  leave(): void {
    this.#evaluating--
    this.#admit()
  }

  #admit(): void {
    while (this.#head < this.#queued.length && this.#evaluating < this.#size) {
      this.#evaluating++
      const admitted = this.#queued[this.#head++] as () => void
      admitted()
    }
    // Drop the admitted entries now and then, not one at a time (each shift copies the rest).
    if (this.#head > 1024 && this.#head * 2 > this.#queued.length) {
      this.#queued = this.#queued.slice(this.#head)
      this.#head = 0
    }
  }

  /** Calls `fill` on every widening until the returned function is called. */
  onWiden(fill: () => void): () => void {
    this.#waiting.add(fill)
    return () => this.#waiting.delete(fill)
  }
}

/** `Promise.all(items.map(fn))` with at most `window` calls of `fn` in flight. */
export function mapWindowed<T, R>(items: readonly T[], window: number | FanOutWindow, fn: (item: T) => Promise<R>): Promise<R[]> {
  const size = typeof window === "number" ? () => window : () => window.size
  if (items.length <= size()) return Promise.all(items.map(fn))
  return new Promise((resolve, reject) => {
    const results = new Array<R>(items.length)
    let next = 0
    let done = 0
    let running = 0
    let failed = false
    const fill = (): void => {
      while (running < size() && next < items.length && !failed) start()
    }
    const stop = typeof window === "number" ? () => {} : window.onWiden(fill)
    const start = (): void => {
      const index = next++
      running++
      fn(items[index] as T).then(
        (value) => {
          results[index] = value
          done++
          running--
          if (done === items.length) {
            stop()
            resolve(results)
          } else fill()
        },
        (error: unknown) => {
          failed = true
          stop()
          reject(error)
        },
      )
    }
    fill()
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
  const seen = new VisitOnce()
  while (stack.length > 0) {
    const item = stack.pop() as object
    if (seen.walked(item)) continue
    if (expressionOf(item) !== undefined) return true
    if (pushContainers(item, stack)) seen.entered(item)
  }
  return false
}

/** The containers a reduction walks into: arrays, Maps, Sets and plain objects. */
function childrenOf(item: object): unknown[] | undefined {
  if (Array.isArray(item)) return item
  if (item instanceof Map) {
    const children: unknown[] = []
    for (const [k, v] of item) children.push(k, v)
    return children
  }
  if (item instanceof Set) return Array.from(item)
  return isPlainObject(item) ? Object.values(item) : undefined
}

const HOLDS = 1
const HOLDS_NOT = 2
const OPEN = 3

/**
 * The containers inside `value` (itself included) that hold an expression somewhere below them,
 * not looking inside expressions: what a reduction must rebuild; everything else it keeps as it
 * is. One pass over an explicit stack, each container once; a container that holds itself, or
 * arguments that hold the very call (`owner`) they belong to, is UNENCODABLE_VALUE (a cycle), as
 * the codec would say of it.
 */
export function expressionHolders(value: unknown, name = "value", owner?: object): ReadonlySet<object> {
  const holders = new Set<object>()
  if (typeof value !== "object" || value === null || expressionOf(value) !== undefined) return holders
  const state = new Map<object, number>([[value, OPEN]])
  const stack: { item: object; children: unknown[]; next: number; holds: boolean }[] = [
    { item: value, children: childrenOf(value) ?? [], next: 0, holds: false },
  ]
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as (typeof stack)[number]
    if (top.next === top.children.length) {
      stack.pop()
      state.set(top.item, top.holds ? HOLDS : HOLDS_NOT)
      if (top.holds) {
        holders.add(top.item)
        const parent = stack[stack.length - 1]
        if (parent !== undefined) parent.holds = true
      }
      continue
    }
    const child = top.children[top.next++]
    // A lazy property read is callable; a task value (a function) is kept as it is.
    if ((typeof child !== "object" && typeof child !== "function") || child === null) continue
    const expression = expressionOf(child)
    if (expression !== undefined) {
      if (expression === owner) throw cycleError(name, stack, child, "the call these are the arguments of")
      top.holds = true
      continue
    }
    const known = state.get(child)
    if (known === OPEN) throw cycleError(name, stack, child)
    if (known === HOLDS) top.holds = true
    if (known !== undefined) continue
    const children = childrenOf(child)
    if (children === undefined) continue
    state.set(child, OPEN)
    stack.push({ item: child, children, next: 0, holds: false })
  }
  return holders
}

type HolderFrame = { readonly item: object; readonly next: number }

/** UNENCODABLE_VALUE naming where `child` (open on the stack) is met again inside itself. */
function cycleError(name: string, stack: readonly HolderFrame[], child: object, owner?: string): ReductioError {
  const steps = stack.map(stepOf)
  const path = pathText(name, steps, steps.length)
  const at =
    owner ??
    pathText(
      name,
      steps,
      stack.findIndex((frame) => frame.item === child),
    )
  return new ReductioError(
    "UNENCODABLE_VALUE",
    `cannot encode ${path}: it is the same object as ${at}, which holds it (a cycle); values are trees of data: copy the part you need instead of referring back to a parent`,
    { details: { path } },
  )
}

/** `name` and the first `count` steps; a long path keeps its ends (`value[0][0]…(9 more)…[0]`). */
function pathText(name: string, steps: readonly string[], count: number): string {
  if (count <= 32) return name + steps.slice(0, count).join("")
  return `${name}${steps.slice(0, 8).join("")}…(${count - 32} more)…${steps.slice(count - 24, count).join("")}`
}

/** The step from a container to the child it is at, as the codec names it. */
function stepOf({ item, next }: HolderFrame): string {
  const at = next - 1
  if (Array.isArray(item)) return `[${at}]`
  if (item instanceof Map) return at % 2 === 0 ? `.keys[${at / 2}]` : `.get(…)`
  if (item instanceof Set) return `.values[${at}]`
  const key = Object.keys(item)[at] ?? ""
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}
