/**
 * @module codec
 * The one deterministic encoding of reductio: canonical CBOR (cborg) with tags for the types JSON
 * lacks. Arguments, results, errors and expressions all go through it, for hashing, for storage and
 * across the container boundary. Anything it cannot encode is a clear error naming the path.
 */
import { decode as cborDecode, encode as cborEncode, Tagged } from "cborg"
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
 * and Set are searched). Cheap when no registered codec has a `prepare`.
 */
export async function prepareForEncoding(value: unknown): Promise<void> {
  if (!codecs.list.some((codec) => codec.prepare !== undefined)) return
  const pending: Promise<void>[] = []
  forEachRegistered(value, (item, codec) => {
    if (codec.prepare !== undefined) pending.push(codec.prepare(item))
  })
  await Promise.all(pending)
}

/** Calls `visit` for every value of a registered type inside `value`. */
export function forEachRegistered(value: unknown, visit: (value: unknown, codec: Codec<unknown>) => void): void {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== "object" || item === null) continue
    const codec = codecs.list.find((c) => c.is(item))
    if (codec !== undefined) {
      visit(item, codec)
      if (codec.tag === TAGS.expression) stack.push(codec.encode(item))
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
  return cborEncode(toWire(value, path))
}

/** Options of {@link decode}. */
export interface DecodeOptions {
  /** Called with every value of a registered type as it is decoded (e.g. to revalidate Files). */
  readonly visit?: (value: unknown, codec: Codec<unknown>) => void
}

/** Decodes bytes made by {@link encode}. */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): unknown {
  try {
    return cborDecode(bytes, { tags: tagDecoders(options.visit) })
  } catch (error) {
    if (error instanceof ReductioError) throw error
    throw new ReductioError("UNDECODABLE_VALUE", `cannot decode a stored value: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

const defaultTagDecoders = buildTagDecoders(undefined)

function tagDecoders(visit: DecodeOptions["visit"]): Record<number, (control: () => unknown) => unknown> {
  return visit === undefined ? defaultTagDecoders : buildTagDecoders(visit)
}

function buildTagDecoders(visit: DecodeOptions["visit"]): Record<number, (control: () => unknown) => unknown> {
  const decoders: Record<number, (control: () => unknown) => unknown> = {
    [TAGS.map]: (inner) => new Map(inner() as [unknown, unknown][]),
    [TAGS.set]: (inner) => new Set(inner() as unknown[]),
    [TAGS.date]: (inner) => new Date(inner() as number),
    [TAGS.bigint]: (inner) => BigInt(inner() as string),
    [TAGS.error]: (inner) => fromErrorRecord(inner() as ErrorRecord),
  }
  return new Proxy(decoders, {
    get(target, key) {
      const own = Reflect.get(target, key)
      if (own !== undefined || typeof key !== "string") return own
      const codec = codecs.byTag.get(Number(key))
      if (codec === undefined) return undefined
      return (inner: () => unknown) => {
        const value = codec.decode(inner())
        visit?.(value, codec)
        return value
      }
    },
  })
}

/** Compares encoded bytes (the canonical order of Set members and Map keys). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}

function unencodable(path: string, what: string, hint: string): ReductioError {
  return new ReductioError("UNENCODABLE_VALUE", `cannot encode ${path}: it is ${what}; ${hint}`, {
    details: { path },
  })
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

/**
 * Converts a value to what cborg encodes: plain data and Tagged wrappers. Throws naming the path
 * of the first value it cannot encode.
 */
function toWire(value: unknown, path: string): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return value
    case "bigint":
      return new Tagged(TAGS.bigint, value.toString())
    case "function":
      throw unencodable(path, "a function", "tasks take and return data; pass a task's result, not the function")
    case "symbol":
      throw unencodable(path, "a symbol", "use a string instead")
  }
  if (value === null) return null
  const object = value as object
  for (const codec of codecs.list) {
    if (codec.is(object)) return new Tagged(codec.tag, toWire(codec.encode(object), path))
  }
  if (Array.isArray(object)) return object.map((item, i) => toWire(item, `${path}[${i}]`))
  if (object instanceof Uint8Array) {
    return object.constructor === Uint8Array ? object : new Uint8Array(object.buffer, object.byteOffset, object.length)
  }
  const proto = Object.getPrototypeOf(object) as object | null
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(object)) {
      out[key] = toWire((object as Record<string, unknown>)[key], childPath(path, key))
    }
    return out
  }
  if (object instanceof Map) return new Tagged(TAGS.map, mapEntries(object, path))
  if (object instanceof Set) return new Tagged(TAGS.set, setMembers(object, path))
  if (object instanceof Date) return new Tagged(TAGS.date, object.getTime())
  if (object instanceof Error) return new Tagged(TAGS.error, toWire(toErrorRecord(object), path))
  const className = (proto as { constructor?: { name?: string } }).constructor?.name ?? "anonymous class"
  throw unencodable(
    path,
    `an instance of ${className}`,
    "pass plain data (objects, arrays, Map, Set, Date, bytes, File) or register a codec with registerCodec()",
  )
}

function mapEntries(map: Map<unknown, unknown>, path: string): unknown[] {
  const entries = [...map].map(([key, item], i) => {
    const wireKey = toWire(key, `${path}.keys[${i}]`)
    return { bytes: cborEncode(wireKey), entry: [wireKey, toWire(item, `${path}.get(${describeKey(key)})`)] }
  })
  entries.sort((a, b) => compareBytes(a.bytes, b.bytes))
  return entries.map((e) => e.entry)
}

function setMembers(set: Set<unknown>, path: string): unknown[] {
  const members = [...set].map((item, i) => {
    const wire = toWire(item, `${path}.values[${i}]`)
    return { bytes: cborEncode(wire), wire }
  })
  members.sort((a, b) => compareBytes(a.bytes, b.bytes))
  return members.map((m) => m.wire)
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : typeof key === "number" ? String(key) : "…"
}
