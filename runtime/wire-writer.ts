/**
 * @module wire-writer
 * Encodes values to CBOR bytes in one pass over an explicit stack (a value nested a million deep
 * never deepens the call stack), naming the path of anything it cannot encode. Object keys, Map
 * entries and Set members are written in their insertion order: the order is part of the value.
 */
import { CborWriter, MAJOR } from "./cbor-writer.js"
import { type Codec, codecs, expressionIdentity, TAGS } from "./codec-registry.js"
import { toErrorRecord } from "./errors.js"
import { dependencyOrder } from "./dependency-order.js"
import {
  ARRAY,
  EncodingFrame,
  MAP,
  MAX_DEPTH,
  OBJECT,
  type Path,
  pathOf,
  pathText,
  SET,
  TAGGED,
  tooDeep,
  unencodable,
} from "./value-path.js"

export type { Path } from "./value-path.js"

/**
 * Below this many open containers the writer keeps no set of ancestors: a cycle is found as soon
 * as the stack is this deep, and shallow values (nearly all) pay nothing for the check.
 */
const CYCLE_CHECK_FRAMES = 64

interface PendingExpression {
  readonly expression: object
  readonly codec: Codec<unknown>
  readonly path: Path
}

const NO_FRAMES: EncodingFrame[] = []
/** The frames of the writer not currently encoding (most encodings are not nested). */
let sharedFrames: EncodingFrame[] | undefined
/** A deeper value's frames are not kept for the next encoding. */
const SHARED_FRAMES_KEPT = 1024

/**
 * One encoding in progress, written straight to bytes. Expressions are not nested inside each
 * other on the wire: each gets a number in a flat table and is referred to by it, so a chain of
 * 10,000 nested calls encodes with a shallow stack, and an expression shared by several parents
 * is written once. A value holding expressions is written as `graph(root, [node0, node1, ...])`.
 */
export class WireWriter {
  // Made on the first expression met: most values hold none.
  #expressionIds: Map<object, number> | undefined
  #pending: PendingExpression[] | undefined
  /** Table entry → entries its fields refer to, as flat pairs; checked for cycles at the end. */
  #references: number[] | undefined
  /** The table entry being written, or -1 for the root value. */
  #node = -1
  #frames: EncodingFrame[] = NO_FRAMES
  #top = -1
  #ancestors: Set<object> | undefined
  #base: Path = "value"

  encode(value: unknown, path: Path): Uint8Array {
    const frames = sharedFrames ?? []
    sharedFrames = undefined
    this.#frames = frames
    try {
      return this.#encode(value, path)
    } finally {
      // A finished walk closed its frames; one that threw may hold values still.
      for (let i = 0; i <= this.#top; i++) (frames[i] as EncodingFrame).clear()
      if (frames.length <= SHARED_FRAMES_KEPT) sharedFrames = frames
    }
  }

  #encode(value: unknown, path: Path): Uint8Array {
    const root = new CborWriter(true)
    try {
      this.#write(root, value, path)
      const pending = this.#pending
      if (pending === undefined) return root.take()
      const nodes = new CborWriter()
      // Writing a node may append further nodes: the loop reads the length each time.
      for (let i = 0; i < pending.length; i++) {
        const { expression, codec, path: at } = pending[i] as PendingExpression
        this.#node = i
        const fields = codec.encode(expression) as { kind?: string; task?: string; args?: unknown; options?: unknown }
        const step = { parent: at, step: nodeStep(fields) }
        // A call without options is the most common node by far: `[task, args]` takes 14 bytes
        // where the object with its three keys took 36.
        if (fields.kind === "call" && fields.options === undefined && Object.keys(fields).length === 3) {
          nodes.head(MAJOR.tag, TAGS.callNode)
          try {
            this.#write(nodes, [fields.task, fields.args], step)
          } catch (error) {
            // Written whole, the failure is named at `args[…]`, where its caller put it.
            this.#write(new CborWriter(), fields, step)
            throw error
          }
        } else {
          nodes.head(MAJOR.tag, codec.tag)
          this.#write(nodes, fields, step)
        }
      }
      this.#checkNodeCycles(pending)
      const out = new CborWriter()
      out.head(MAJOR.tag, TAGS.expressionGraph)
      out.head(MAJOR.array, 2)
      out.raw(root.view())
      out.head(MAJOR.array, pending.length)
      out.raw(nodes.view())
      return out.take()
    } finally {
      root.release()
    }
  }

  /** Writes one value whole: containers open frames, the loop walks them until none is left. */
  #write(w: CborWriter, value: unknown, path: Path): void {
    this.#base = path
    this.#top = -1
    this.#ancestors = undefined
    const frames = this.#frames
    let item = value
    for (;;) {
      if (typeof item === "string") w.text(item)
      else if (typeof item === "number") w.number(item)
      else if (typeof item === "object" && item !== null) this.#open(w, item)
      else this.#scalar(w, item)
      // The next item: the first frame from the top with items left (closing the finished ones).
      for (;;) {
        if (this.#top < 0) return
        const frame = frames[this.#top] as EncodingFrame
        const index = frame.index
        if (index < frame.items.length) {
          frame.index = index + 1
          if (frame.kind === OBJECT) {
            const key = frame.items[index] as string
            w.text(key)
            item = (frame.container as Record<string, unknown>)[key]
          } else {
            if (frame.kind === MAP && (index & 1) === 0) w.head(MAJOR.array, 2)
            item = frame.items[index]
          }
          break
        }
        this.#pop()
      }
    }
  }

  #scalar(w: CborWriter, value: unknown): void {
    switch (typeof value) {
      case "boolean":
        w.boolean(value)
        return
      case "undefined":
        w.undefined()
        return
      case "bigint":
        w.head(MAJOR.tag, TAGS.bigint)
        w.text(value.toString())
        return
      case "function":
        // Task values and lazy property reads (callable) have codecs; other functions do not.
        if (codecs.list.some((codec) => codec.is(value))) {
          this.#open(w, value as object)
          return
        }
        throw unencodable(
          this.#path(),
          "a function",
          "tasks take and return data; pass a task's result, or the task itself, not a function",
        )
      case "symbol":
        throw unencodable(this.#path(), "a symbol", "use a string instead")
      default:
        w.null()
    }
  }

  #open(w: CborWriter, object: object): void {
    if (Array.isArray(object)) {
      this.#openArray(w, object)
      return
    }
    for (const codec of codecs.list) {
      if (!codec.is(object)) continue
      if (codec.tag === TAGS.expression) {
        this.#reference(w, object, codec)
        return
      }
      w.head(MAJOR.tag, codec.tag)
      // A task value's bound arguments may be lazy (a partial or delayed call); other types are data.
      this.#push(TAGGED, object, [codec.encode(object)], 1, codec.tag === TAGS.task ? undefined : `a ${codec.name}`)
      return
    }
    const proto = Object.getPrototypeOf(object) as object | null
    if (proto === Object.prototype || proto === null) {
      this.#openObject(w, object as Record<string, unknown>)
    } else if (object instanceof Uint8Array) {
      w.bytes(object)
    } else if (object instanceof Map) {
      const entries = new Array<unknown>(object.size * 2)
      let i = 0
      for (const [key, item] of object) {
        entries[i++] = key
        entries[i++] = item
      }
      w.head(MAJOR.tag, TAGS.map)
      w.head(MAJOR.array, object.size)
      if (object.size > 0) this.#push(MAP, object, entries, 3, undefined)
    } else if (object instanceof Set) {
      w.head(MAJOR.tag, TAGS.set)
      w.head(MAJOR.array, object.size)
      if (object.size > 0) this.#push(SET, object, Array.from(object), 2, "a Set member")
    } else if (object instanceof Date) {
      w.head(MAJOR.tag, TAGS.date)
      w.number(object.getTime())
    } else if (object instanceof Error) {
      w.head(MAJOR.tag, TAGS.error)
      this.#push(TAGGED, object, [toErrorRecord(object)], 1, undefined)
    } else {
      const className = (proto as { constructor?: { name?: string } }).constructor?.name ?? "anonymous class"
      throw unencodable(
        this.#path(),
        `an instance of ${className}`,
        "pass plain data (objects, arrays, Map, Set, Date, bytes, File) or register a codec with registerCodec()",
      )
    }
  }

  #openArray(w: CborWriter, array: readonly unknown[]): void {
    w.head(MAJOR.array, array.length)
    // Leading text and numbers are written here: a list of them (most arguments) opens no frame.
    let i = 0
    for (; i < array.length; i++) {
      const item: unknown = array[i]
      if (typeof item === "number") w.number(item)
      else if (typeof item === "string") w.text(item)
      else break
    }
    if (i < array.length || (i > 0 && this.#depth() >= MAX_DEPTH)) this.#push(ARRAY, array, array, 1, undefined, i)
  }

  #openObject(w: CborWriter, object: Record<string, unknown>): void {
    const keys = Object.keys(object)
    w.head(MAJOR.map, keys.length)
    // As for lists: a record of text and numbers (a row) opens no frame.
    let i = 0
    for (; i < keys.length; i++) {
      const key = keys[i] as string
      const item = object[key]
      if (typeof item === "number") {
        w.text(key)
        w.number(item)
      } else if (typeof item === "string") {
        w.text(key)
        w.text(item)
      } else break
    }
    if (i < keys.length || (i > 0 && this.#depth() >= MAX_DEPTH)) this.#push(OBJECT, object, keys, 1, undefined, i)
  }

  /**
   * Opens a frame for a container with items. `levels` is how many CBOR containers it opens (a Map
   * is a tag, a list and a pair per entry); `noLazy` says why no lazy value may sit below it.
   */
  #push(kind: number, container: object, items: readonly unknown[], levels: number, noLazy: string | undefined, from = 0): void {
    const parent = this.#top < 0 ? undefined : (this.#frames[this.#top] as EncodingFrame)
    const depth = (parent?.depth ?? 0) + levels
    if (depth > MAX_DEPTH) throw tooDeep(this.#path(), MAX_DEPTH)
    const top = this.#top + 1
    if (top >= CYCLE_CHECK_FRAMES) this.#checkCycle(container, top)
    let frame = this.#frames[top]
    if (frame === undefined) {
      frame = new EncodingFrame()
      this.#frames[top] = frame
    }
    frame.set(kind, container, items, depth, (parent === undefined ? undefined : lazyRestriction(parent)) ?? noLazy)
    frame.index = from
    this.#top = top
  }

  /** The CBOR nesting of the item being written. */
  #depth(): number {
    return this.#top < 0 ? 0 : (this.#frames[this.#top] as EncodingFrame).depth
  }

  #pop(): void {
    const top = this.#top
    const frame = this.#frames[top] as EncodingFrame
    if (this.#ancestors !== undefined) {
      if (top === CYCLE_CHECK_FRAMES) this.#ancestors = undefined
      else this.#ancestors.delete(frame.container)
    }
    frame.clear()
    this.#top = top - 1
  }

  /** A container met again among its own ancestors is a cycle: refused, naming both places. */
  #checkCycle(container: object, top: number): void {
    if (this.#ancestors === undefined) {
      this.#ancestors = new Set()
      for (let i = 0; i < top; i++) this.#ancestors.add((this.#frames[i] as EncodingFrame).container)
    }
    if (!this.#ancestors.has(container)) {
      this.#ancestors.add(container)
      return
    }
    // Report the first repetition from the root: the shortest path that shows the cycle.
    const firstAt = new Map<object, number>()
    for (let i = 0; i <= top; i++) {
      const at = i < top ? (this.#frames[i] as EncodingFrame).container : container
      const earlier = firstAt.get(at)
      if (earlier !== undefined) {
        throw unencodable(
          pathOf(this.#base, this.#frames, i - 1),
          `the same object as ${pathOf(this.#base, this.#frames, earlier - 1)}, which holds it (a cycle)`,
          "values are trees of data: copy the part you need instead of referring back to a parent",
        )
      }
      firstAt.set(at, i)
    }
  }

  #path(): string {
    return pathOf(this.#base, this.#frames, this.#top)
  }

  #reference(w: CborWriter, object: object, codec: Codec<unknown>): void {
    const top = this.#top < 0 ? undefined : (this.#frames[this.#top] as EncodingFrame)
    const restriction = top === undefined ? undefined : lazyRestriction(top)
    if (restriction !== undefined) {
      throw unencodable(this.#path(), `a lazy value inside ${restriction}`, "use an array (or Map values) for lazy values")
    }
    const expression = codec.encode(object) as object
    const key = expressionIdentity(object) ?? expression
    this.#expressionIds ??= new Map()
    this.#pending ??= []
    let id = this.#expressionIds.get(key)
    if (id === undefined) {
      id = this.#pending.length
      this.#expressionIds.set(key, id)
      this.#pending.push({ expression: object, codec, path: this.#path() })
    }
    if (this.#node >= 0) (this.#references ??= []).push(this.#node, id)
    w.head(MAJOR.tag, TAGS.expressionRef)
    w.number(id)
  }

  /** A lazy value whose own arguments hold it (through a mutated object) can never be reduced. */
  #checkNodeCycles(pending: readonly PendingExpression[]): void {
    if (this.#references === undefined) return
    const found = dependencyOrder(pending.length, this.#references)
    if (!("cyclic" in found)) return
    const { path } = pending[found.cyclic] as PendingExpression
    throw unencodable(
      pathText(path),
      "a lazy value whose arguments hold that same lazy value (a cycle)",
      "build the arguments before the call instead of changing them afterwards",
    )
  }
}

/** Why the item a frame is at may not be a lazy value: a Map key, or inherited from its frame. */
function lazyRestriction(frame: EncodingFrame): string | undefined {
  if (frame.noLazy !== undefined) return frame.noLazy
  return frame.kind === MAP && ((frame.index - 1) & 1) === 0 ? "a Map key" : undefined
}

function nodeStep(fields: { kind?: string; task?: string }): string {
  return typeof fields.task === "string" ? ` (in a call of ${fields.task})` : ` (in ${String(fields.kind)}(…))`
}
