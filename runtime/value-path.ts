/**
 * @module value-path
 * The writer's stack frames and the paths they spell (`args[1].conn`), made into text only for an
 * error message; the limits of the encoding.
 */
import { ReductioError } from "./errors.js"

/**
 * The deepest nesting the codec writes and reads, in CBOR containers (an array or object is one
 * level, a Set two, a Map three, a tagged type one more than its data). Deep enough for a linked
 * list of a million cells; it bounds what a hostile input can make the decoder hold.
 */
export const MAX_DEPTH = 1_000_000

/**
 * Where a value sits inside the value being encoded, as a linked list of steps from a named root.
 */
export type Path = string | { readonly parent: Path; readonly step: string }

/** The text of a path: `args[1].conn`. */
export function pathText(path: Path): string {
  const steps: string[] = []
  let at: Path = path
  while (typeof at !== "string") {
    steps.push(at.step)
    at = at.parent
  }
  return at + steps.reverse().join("")
}

export const ARRAY = 0
export const OBJECT = 1
export const MAP = 2
export const SET = 3
/** The data of a registered codec or of an Error: one item, written under the value's path. */
export const TAGGED = 4

const NO_ITEMS: readonly unknown[] = []
const NOTHING = {}

/** One container being written: its items (array items, object keys, Map keys and values, ...). */
export class EncodingFrame {
  kind = ARRAY
  /** The value written (for a tag, the original one): the identity cycles are checked by. */
  container: object = NOTHING
  items: readonly unknown[] = NO_ITEMS
  /** The next item; the current one is `index - 1`. Map items alternate key, value. */
  index = 0
  /** CBOR nesting of the items. */
  depth = 0
  /** Why no lazy value may appear below (inside a Set member, a Map key, a File, ...), if so. */
  noLazy: string | undefined = undefined

  set(kind: number, container: object, items: readonly unknown[], depth: number, noLazy: string | undefined): void {
    this.kind = kind
    this.container = container
    this.items = items
    this.index = 0
    this.depth = depth
    this.noLazy = noLazy
  }

  clear(): void {
    this.container = NOTHING
    this.items = NO_ITEMS
  }

  /** The step from this container to its current item. */
  step(): string {
    const at = this.index - 1
    switch (this.kind) {
      case OBJECT:
        return keyStep(this.items[at] as string)
      case MAP:
        return (at & 1) === 0 ? `.keys[${at >> 1}]` : `.get(${describeKey(this.items[at - 1])})`
      case SET:
        return `.values[${at}]`
      case TAGGED:
        return ""
      default:
        return `[${at}]`
    }
  }
}

/** Steps kept at each end of a path deeper than their sum (the middle is written `…`). */
const HEAD_STEPS = 8
const TAIL_STEPS = 24

/** The path of the current item of `frames[top]` (of the root when `top` is -1), as text. */
export function pathOf(base: Path, frames: readonly EncodingFrame[], top: number): string {
  let text = pathText(base)
  const elided = top >= HEAD_STEPS + TAIL_STEPS
  for (let i = 0; i <= top; i++) {
    if (elided && i === HEAD_STEPS) {
      text += `…(${top + 1 - HEAD_STEPS - TAIL_STEPS} more)…`
      i = top - TAIL_STEPS
      continue
    }
    text += (frames[i] as EncodingFrame).step()
  }
  return text
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const keyStep = (key: string) => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : typeof key === "number" ? String(key) : "…"
}

/** UNENCODABLE_VALUE naming the path, what the value is and what to do instead. */
export function unencodable(path: string, what: string, hint: string): ReductioError {
  return new ReductioError("UNENCODABLE_VALUE", `cannot encode ${path}: it is ${what}; ${hint}`, { details: { path } })
}

/** UNENCODABLE_VALUE for a value nested deeper than {@link MAX_DEPTH}. */
export function tooDeep(path: string, limit: number): ReductioError {
  return new ReductioError(
    "UNENCODABLE_VALUE",
    `cannot encode ${path}: the value is nested deeper than ${limit} levels, the codec's depth limit; flatten it (a list of rows instead of nested cells)`,
    { details: { path, depthLimit: limit } },
  )
}
