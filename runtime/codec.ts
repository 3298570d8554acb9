/**
 * @module codec
 * The one deterministic encoding of reductio: canonical CBOR (cborg) with tags for the types JSON
 * lacks. Arguments, results, errors and expressions all go through it, for hashing, for storage and
 * across the container boundary. Anything it cannot encode is a clear error naming the path.
 */
import { decode as cborDecode } from "cborg"
import { type Codec, codecs, TAGS } from "./codec-registry.js"
import { ReductioError, fromErrorRecord, type ErrorRecord } from "./errors.js"
import { WireWriter } from "./wire-writer.js"

export { type Codec, registerCodec, setExpressionIdentity, TAGS } from "./codec-registry.js"

/**
 * Calls `prepare` on every value of a registered type inside `value` (arrays, plain objects, Map
 * and Set are searched). Returns undefined, allocating nothing, when there is nothing to prepare.
 */
export function prepareForEncoding(value: unknown): Promise<void> | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null || codecs.anyPrepare !== true) return undefined
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
    if ((typeof item !== "object" && typeof item !== "function") || item === null) continue
    const codec = codecs.list.find((c) => c.is(item))
    if (codec !== undefined) {
      visit(item, codec)
      // A task value's bound arguments are carried unevaluated, like an expression's.
      if ((codec.tag === TAGS.expression || codec.tag === TAGS.task) && intoExpressions) stack.push(codec.encode(item))
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
  return codecs.anyValueHooks === true
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
    if (typeof value === "function") {
      // A task value whose bound arguments hold expressions of this table.
      const holder = codecs.byTag.get(TAGS.task)
      return holder?.is(value) === true ? holder.decode(resolve(holder.encode(value))) : value
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
      else if (typeof item === "function" && codecs.byTag.get(TAGS.task)?.is(item) === true)
        stack.push((codecs.byTag.get(TAGS.task) as Codec<unknown>).encode(item))
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
