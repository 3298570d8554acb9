/**
 * @module wire-writer
 * Encodes values to canonical CBOR bytes, naming the path of anything it cannot encode.
 */
import { CborWriter, compareBytes, compareTextKeys, MAJOR } from "./cbor-writer.js"
import { type Codec, codecs, expressionIdentity, TAGS } from "./codec-registry.js"
import { ReductioError, toErrorRecord } from "./errors.js"

/**
 * Where a value sits inside the value being encoded, built as a linked list while descending and
 * turned into text (`args[1].conn`) only for an error message.
 */
export type Path = string | { readonly parent: Path; readonly step: string }

function pathText(path: Path): string {
  const steps: string[] = []
  let at: Path = path
  while (typeof at !== "string") {
    steps.push(at.step)
    at = at.parent
  }
  return at + steps.reverse().join("")
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const keyStep = (key: string) => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

function unencodable(path: Path, what: string, hint: string): ReductioError {
  const text = pathText(path)
  return new ReductioError("UNENCODABLE_VALUE", `cannot encode ${text}: it is ${what}; ${hint}`, { details: { path: text } })
}

interface PendingExpression {
  readonly expression: object
  readonly codec: Codec<unknown>
  readonly path: Path
}

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
  /** False for the sub-encodings that order Map keys and Set members: no expressions there. */
  readonly #expressionsAllowed: boolean

  constructor(expressionsAllowed = true) {
    this.#expressionsAllowed = expressionsAllowed
  }

  encode(value: unknown, path: Path): Uint8Array {
    const root = new CborWriter(true)
    this.#write(root, value, path)
    const pending = this.#pending
    if (pending === undefined) return root.take()
    const nodes = new CborWriter()
    // Writing a node may append further nodes: the loop reads the length each time.
    for (let i = 0; i < pending.length; i++) {
      const { expression, codec, path: at } = pending[i] as PendingExpression
      nodes.head(MAJOR.tag, codec.tag)
      const fields = codec.encode(expression) as { kind?: string; task?: string }
      const step = typeof fields.task === "string" ? ` (in a call of ${fields.task})` : ` (in ${String(fields.kind)}(…))`
      this.#write(nodes, fields, { parent: at, step })
    }
    const out = new CborWriter()
    out.head(MAJOR.tag, TAGS.expressionGraph)
    out.head(MAJOR.array, 2)
    out.raw(root.view())
    out.head(MAJOR.array, pending.length)
    out.raw(nodes.view())
    root.release()
    return out.take()
  }

  #write(w: CborWriter, value: unknown, path: Path): void {
    switch (typeof value) {
      case "string":
        w.text(value)
        return
      case "number":
        w.number(value)
        return
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
        if (!codecs.list.some((codec) => codec.is(value))) {
          throw unencodable(path, "a function", "tasks take and return data; pass a task's result, or the task itself, not a function")
        }
        break
      case "symbol":
        throw unencodable(path, "a symbol", "use a string instead")
    }
    if (value === null) {
      w.null()
      return
    }
    const object = value as object
    if (Array.isArray(object)) {
      w.head(MAJOR.array, object.length)
      for (let i = 0; i < object.length; i++) {
        const item: unknown = object[i]
        if (typeof item === "object" || typeof item === "bigint" || typeof item === "function" || typeof item === "symbol") {
          this.#write(w, item, { parent: path, step: `[${i}]` })
        } else this.#write(w, item, path)
      }
      return
    }
    const proto = Object.getPrototypeOf(object) as object | null
    for (const codec of codecs.list) {
      if (!codec.is(object)) continue
      if (codec.tag === TAGS.expression) {
        this.#reference(w, object, codec, path)
        return
      }
      w.head(MAJOR.tag, codec.tag)
      this.#write(w, codec.encode(object), path)
      return
    }
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(object).sort(compareTextKeys)
      w.head(MAJOR.map, keys.length)
      for (const key of keys) {
        w.text(key)
        const item = (object as Record<string, unknown>)[key]
        if (typeof item === "object" || typeof item === "bigint" || typeof item === "function" || typeof item === "symbol") {
          this.#write(w, item, { parent: path, step: keyStep(key) })
        } else this.#write(w, item, path)
      }
      return
    }
    if (object instanceof Uint8Array) {
      w.bytes(object)
      return
    }
    if (object instanceof Map) {
      this.#map(w, object, path)
      return
    }
    if (object instanceof Set) {
      this.#set(w, object, path)
      return
    }
    if (object instanceof Date) {
      w.head(MAJOR.tag, TAGS.date)
      w.number(object.getTime())
      return
    }
    if (object instanceof Error) {
      w.head(MAJOR.tag, TAGS.error)
      this.#write(w, toErrorRecord(object), path)
      return
    }
    const className = (proto as { constructor?: { name?: string } }).constructor?.name ?? "anonymous class"
    throw unencodable(
      path,
      `an instance of ${className}`,
      "pass plain data (objects, arrays, Map, Set, Date, bytes, File) or register a codec with registerCodec()",
    )
  }

  #reference(w: CborWriter, object: object, codec: Codec<unknown>, path: Path): void {
    if (!this.#expressionsAllowed) {
      throw unencodable(path, "a lazy value inside a Set or a Map key", "use an array (or Map values) for lazy values")
    }
    const expression = codec.encode(object) as object
    const key = expressionIdentity(object) ?? expression
    this.#expressionIds ??= new Map()
    this.#pending ??= []
    let id = this.#expressionIds.get(key)
    if (id === undefined) {
      id = this.#pending.length
      this.#expressionIds.set(key, id)
      this.#pending.push({ expression: object, codec, path })
    }
    w.head(MAJOR.tag, TAGS.expressionRef)
    w.number(id)
  }

  /** A Map as a tagged list of [key, value] pairs in the order of the keys' encodings. */
  #map(w: CborWriter, map: Map<unknown, unknown>, path: Path): void {
    const entries = [...map].map(([key, item], i) => ({
      bytes: new WireWriter(false).encode(key, { parent: path, step: `.keys[${i}]` }),
      key,
      item,
    }))
    entries.sort((a, b) => compareBytes(a.bytes, b.bytes))
    w.head(MAJOR.tag, TAGS.map)
    w.head(MAJOR.array, entries.length)
    for (const { bytes, key, item } of entries) {
      w.head(MAJOR.array, 2)
      w.raw(bytes)
      this.#write(w, item, { parent: path, step: `.get(${describeKey(key)})` })
    }
  }

  /** A Set as a tagged list of its members in the order of their encodings. */
  #set(w: CborWriter, set: Set<unknown>, path: Path): void {
    const members = [...set].map((item, i) => new WireWriter(false).encode(item, { parent: path, step: `.values[${i}]` }))
    members.sort(compareBytes)
    w.head(MAJOR.tag, TAGS.set)
    w.head(MAJOR.array, members.length)
    for (const bytes of members) w.raw(bytes)
  }
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : typeof key === "number" ? String(key) : "…"
}
