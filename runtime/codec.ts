/**
 * @module codec
 * The one deterministic encoding of reductio: canonical CBOR (cborg) with tags for the types JSON
 * lacks. Arguments, results, errors and expressions all go through it, for hashing, for storage and
 * across the container boundary. Anything it cannot encode is a clear error naming the path.
 */
import { decode as cborDecode } from "cborg"
import { CborWriter, compareBytes, compareTextKeys, MAJOR } from "./cbor-writer.js"
import { ReductioError, fromErrorRecord, toErrorRecord, type ErrorRecord } from "./errors.js"

/** CBOR tag numbers (a private range) of the built-in types. */
export const TAGS = {
  map: 40100,
  set: 40101,
  date: 40102,
  bigint: 40103,
  error: 40104,
  file: 40110,
  dir: 40111,
  stagingFile: 40112,
  dataset: 40113,
  expression: 40120,
  expressionRef: 40121,
  expressionGraph: 40122,
} as const

/**
 * How a class becomes plain data and back. Registered once per process (see {@link registerCodec});
 * File, Dir and expressions use this same mechanism.
 */
export interface Codec<T> {
  /** The CBOR tag number; unique per codec. */
  readonly tag: number
  /** A readable name for errors. */
  readonly name: string
  /** True for the values this codec encodes. */
  is(value: object): value is T & object
  /** To encodable plain data (which may itself hold registered types). */
  encode(value: T): unknown
  /** From the plain data `encode` produced. */
  decode(data: unknown): T
  /**
   * Completes what `encode` needs before a value is encoded (e.g. a File's hash, from a stat).
   * Called by {@link prepareForEncoding}.
   */
  prepare?(value: T): Promise<void>
  /**
   * Whether a value read back from the cache is still valid (e.g. a File still has its recorded
   * hash). An invalid value makes the cached call run again.
   */
  validate?(value: T): Promise<boolean>
  /** The path and hash a value stands for, recorded for lineage (`reductio log --file`). */
  lineage?(value: T): { readonly path: string; readonly hash: string } | undefined
}

const CODECS_KEY = Symbol.for("reductio.codecs")
type CodecTable = { byTag: Map<number, Codec<unknown>>; list: Codec<unknown>[] }
const globals = globalThis as unknown as Record<symbol, CodecTable | undefined>
const codecs: CodecTable = globals[CODECS_KEY] ?? { byTag: new Map(), list: [] }
globals[CODECS_KEY] = codecs

/**
 * Registers a codec for a class so its instances can be task arguments and results.
 *
 * @example
 * registerCodec({ tag: 41000, name: "Point", is: (v): v is Point => v instanceof Point,
 *   encode: (p) => [p.x, p.y], decode: (d) => new Point(...(d as [number, number])) })
 */
export function registerCodec<T>(codec: Codec<T>): void {
  const existing = codecs.byTag.get(codec.tag)
  if (existing !== undefined) {
    if (existing.name === codec.name) {
      // A second copy of the same module (loaded twice): the newest definition wins.
      codecs.list[codecs.list.indexOf(existing)] = codec as Codec<unknown>
      codecs.byTag.set(codec.tag, codec as Codec<unknown>)
      return
    }
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `CBOR tag ${codec.tag} is already used by codec ${existing.name}; pick another tag for ${codec.name}`,
    )
  }
  codecs.byTag.set(codec.tag, codec as Codec<unknown>)
  codecs.list.push(codec as Codec<unknown>)
}

/**
 * Calls `prepare` on every value of a registered type inside `value` (arrays, plain objects, Map
 * and Set are searched). Returns undefined, allocating nothing, when there is nothing to prepare.
 */
export function prepareForEncoding(value: unknown): Promise<void> | undefined {
  if (typeof value !== "object" || value === null || !codecs.list.some((codec) => codec.prepare !== undefined)) return undefined
  const pending: Promise<void>[] = []
  forEachRegistered(value, (item, codec) => {
    if (codec.prepare !== undefined) pending.push(codec.prepare(item))
  })
  return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined)
}

/**
 * Calls `visit` for every value of a registered type inside `value`, expressions included (and,
 * unless `intoExpressions` is false, the values inside them, such as a File in a call's arguments).
 */
export function forEachRegistered(
  value: unknown,
  visit: (value: unknown, codec: Codec<unknown>) => void,
  options: { readonly intoExpressions?: boolean } = {},
): void {
  const intoExpressions = options.intoExpressions ?? true
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== "object" || item === null) continue
    const codec = codecs.list.find((c) => c.is(item))
    if (codec !== undefined) {
      visit(item, codec)
      if (codec.tag === TAGS.expression && intoExpressions) stack.push(codec.encode(item))
      continue
    }
    if (Array.isArray(item)) stack.push(...item)
    else if (item instanceof Map) for (const [k, v] of item) stack.push(k, v)
    else if (item instanceof Set) stack.push(...item)
    else if (Object.getPrototypeOf(item) === Object.prototype) stack.push(...Object.values(item))
  }
}

/** True when some registered codec has a `validate` or `lineage` hook (cached values need a walk). */
export function hasValueHooks(): boolean {
  return codecs.list.some((codec) => codec.validate !== undefined || codec.lineage !== undefined)
}

/** Encodes a value canonically. `path` names the value in errors (e.g. `args`). */
export function encode(value: unknown, path = "value"): Uint8Array {
  return new WireWriter().encode(value, path)
}

/** Options of {@link decode}. */
export interface DecodeOptions {
  /** Called with every value of a registered type as it is decoded (e.g. to revalidate Files). */
  readonly visit?: (value: unknown, codec: Codec<unknown>) => void
}

/** Decodes bytes made by {@link encode}. */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): unknown {
  // Decoding is synchronous: the visitor of this call is the module's current one until it returns.
  const previous = currentVisit
  currentVisit = options.visit
  try {
    return cborDecode(bytes, { tags: tagDecoders })
  } catch (error) {
    if (error instanceof ReductioError) throw error
    throw new ReductioError("UNDECODABLE_VALUE", `cannot decode a stored value: ${(error as Error).message}`, {
      cause: error,
    })
  } finally {
    currentVisit = previous
  }
}

let currentVisit: DecodeOptions["visit"]

const builtinTagDecoders: Record<number, (control: () => unknown) => unknown> = {
  [TAGS.map]: (inner) => new Map(inner() as [unknown, unknown][]),
  [TAGS.set]: (inner) => new Set(inner() as unknown[]),
  [TAGS.date]: (inner) => new Date(inner() as number),
  [TAGS.bigint]: (inner) => BigInt(inner() as string),
  [TAGS.error]: (inner) => fromErrorRecord(inner() as ErrorRecord),
  [TAGS.expressionRef]: (inner) => new ExpressionRef(inner() as number),
  [TAGS.expressionGraph]: (inner) => {
    const [root, nodes] = inner() as [unknown, unknown[]]
    return buildExpressionGraph(root, nodes)
  },
}

const registeredTagDecoders = new Map<Codec<unknown>, (control: () => unknown) => unknown>()

/** The built-in tags, then every registered codec's tag (looked up when met, so late registrations count). */
const tagDecoders = new Proxy(builtinTagDecoders, {
  get(target, key) {
    const own = Reflect.get(target, key)
    if (own !== undefined || typeof key !== "string") return own
    const codec = codecs.byTag.get(Number(key))
    if (codec === undefined) return undefined
    let decoder = registeredTagDecoders.get(codec)
    if (decoder === undefined) {
      decoder = (inner: () => unknown) => {
        const value = codec.decode(inner())
        currentVisit?.(value, codec)
        return value
      }
      registeredTagDecoders.set(codec, decoder)
    }
    return decoder
  },
})

/**
 * Where a value sits inside the value being encoded, built as a linked list while descending and
 * turned into text (`args[1].conn`) only for an error message.
 */
type Path = string | { readonly parent: Path; readonly step: string }

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
class WireWriter {
  readonly #expressionIds: Map<object, number>
  readonly #pending: PendingExpression[]
  /** False for the sub-encodings that order Map keys and Set members: no expressions there. */
  readonly #expressionsAllowed: boolean

  constructor(expressionsAllowed = true) {
    this.#expressionsAllowed = expressionsAllowed
    this.#expressionIds = new Map()
    this.#pending = []
  }

  encode(value: unknown, path: Path): Uint8Array {
    const root = new CborWriter(true)
    this.#write(root, value, path)
    if (this.#pending.length === 0) return root.take()
    const nodes = new CborWriter()
    for (let i = 0; i < this.#pending.length; i++) {
      const { expression, codec, path: at } = this.#pending[i] as PendingExpression
      nodes.head(MAJOR.tag, codec.tag)
      const fields = codec.encode(expression) as { kind?: string; task?: string }
      const step = typeof fields.task === "string" ? ` (in a call of ${fields.task})` : ` (in ${String(fields.kind)}(…))`
      this.#write(nodes, fields, { parent: at, step })
    }
    const out = new CborWriter()
    out.head(MAJOR.tag, TAGS.expressionGraph)
    out.head(MAJOR.array, 2)
    out.raw(root.view())
    out.head(MAJOR.array, this.#pending.length)
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
        throw unencodable(path, "a function", "tasks take and return data; pass a task's result, not the function")
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

/** The identity of an expression-like value (the expression behind a Lazy proxy). */
let expressionIdentity: (value: object) => object | undefined = () => undefined

/** Lets the expression module say which object a Lazy stands for (used to share table entries). */
export function setExpressionIdentity(identity: (value: object) => object | undefined): void {
  expressionIdentity = identity
}

/** A reference to entry `id` of an expression table, while a graph is being decoded. */
class ExpressionRef {
  constructor(readonly id: number) {}
}

/**
 * Rebuilds a decoded expression graph. An entry may refer to any other entry (a shared expression
 * keeps the number it got where it was first met), never to itself through a cycle: entries are
 * built in dependency order, found with an explicit stack so a chain of 10,000 stays shallow.
 */
function buildExpressionGraph(root: unknown, nodes: unknown[]): unknown {
  const codec = codecs.byTag.get(TAGS.expression) as Codec<unknown>
  const built = new Array<unknown>(nodes.length)
  const fieldsOf = (value: object): object => (codec.is(value) ? (codec.encode(value) as object) : value)
  const resolve = (value: unknown): unknown => {
    if (value instanceof ExpressionRef) {
      if (built[value.id] === undefined)
        throw new ReductioError("UNDECODABLE_VALUE", `expression table entry ${value.id} is missing or circular`)
      return built[value.id]
    }
    if (typeof value !== "object" || value === null) return value
    if (Array.isArray(value)) return value.map(resolve)
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [resolve(k), resolve(v)]))
    if (value instanceof Set) return new Set([...value].map(resolve))
    const proto = Object.getPrototypeOf(value) as unknown
    if (proto !== Object.prototype && proto !== null && !codec.is(value)) return value
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(fieldsOf(value))) out[key] = resolve(item)
    return codec.is(value) ? codec.decode(out) : out
  }
  /** The entries an entry refers to directly (not through other entries). */
  const references = (node: unknown): number[] => {
    const ids: number[] = []
    const stack: unknown[] = [node]
    while (stack.length > 0) {
      const item = stack.pop()
      if (item instanceof ExpressionRef) ids.push(item.id)
      else if (Array.isArray(item)) stack.push(...item)
      else if (item instanceof Map) for (const [k, v] of item) stack.push(k, v)
      else if (item instanceof Set) stack.push(...item)
      else if (typeof item === "object" && item !== null) {
        const proto = Object.getPrototypeOf(item) as unknown
        if (proto === Object.prototype || proto === null || codec.is(item)) stack.push(...Object.values(fieldsOf(item)))
      }
    }
    return ids
  }
  const state = new Uint8Array(nodes.length) // 0 new, 1 in progress, 2 built
  for (let start = 0; start < nodes.length; start++) {
    if (state[start] !== 0) continue
    const stack: { id: number; pending: number[] }[] = [{ id: start, pending: references(nodes[start]) }]
    state[start] = 1
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { id: number; pending: number[] }
      const next = top.pending.pop()
      if (next === undefined) {
        built[top.id] = resolve(nodes[top.id])
        state[top.id] = 2
        stack.pop()
      } else if (state[next] === 0) {
        if (next >= nodes.length) throw new ReductioError("UNDECODABLE_VALUE", `expression table entry ${next} is missing`)
        state[next] = 1
        stack.push({ id: next, pending: references(nodes[next]) })
      } else if (state[next] === 1) {
        throw new ReductioError("UNDECODABLE_VALUE", `expression table entry ${next} refers to itself`)
      }
    }
  }
  return resolve(root)
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : typeof key === "number" ? String(key) : "…"
}
