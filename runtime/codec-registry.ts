/**
 * @module codec-registry
 * The tag numbers of the codec and the table of registered codecs (on `globalThis`, shared by
 * every copy of the kernel in a process).
 */
import { ReductioError } from "./errors.js"

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
  stagingDir: 40114,
  expression: 40120,
  expressionRef: 40121,
  expressionGraph: 40122,
  task: 40123,
  /** A call node of an expression table with no options, as `[task, args]` (tag 40120 holds any other). */
  callNode: 40124,
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
type CodecTable = {
  byTag: Map<number, Codec<unknown>>
  list: Codec<unknown>[]
  /** Some codec has a `prepare` hook (values need a walk before encoding). */
  anyPrepare?: boolean
  /** Some codec has a `validate` or `lineage` hook (cached values need a walk). */
  anyValueHooks?: boolean
}
const globals = globalThis as unknown as Record<symbol, CodecTable | undefined>
export const codecs: CodecTable = globals[CODECS_KEY] ?? { byTag: new Map(), list: [] }
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
      updateFlags()
      return
    }
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `CBOR tag ${codec.tag} is already used by codec ${existing.name}; pick another tag for ${codec.name}`,
    )
  }
  codecs.byTag.set(codec.tag, codec as Codec<unknown>)
  codecs.list.push(codec as Codec<unknown>)
  updateFlags()
}

/** The identity of an expression-like value (the expression behind a Lazy proxy). */
export let expressionIdentity: (value: object) => object | undefined = () => undefined

/** Lets the expression module say which object a Lazy stands for (used to share table entries). */
export function setExpressionIdentity(identity: (value: object) => object | undefined): void {
  expressionIdentity = identity
}

function updateFlags(): void {
  codecs.anyPrepare = codecs.list.some((codec) => codec.prepare !== undefined)
  codecs.anyValueHooks = codecs.list.some((codec) => codec.validate !== undefined || codec.lineage !== undefined)
}
