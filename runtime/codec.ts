/**
 * @module codec
 * The one deterministic encoding of reductio: CBOR with tags for the types JSON lacks, written
 * (wire-writer.ts) and read (wire-reader.ts) over explicit stacks. Arguments, results, errors and
 * expressions all go through it, for hashing, for storage and across the container boundary.
 * Anything it cannot encode is UNENCODABLE_VALUE naming the path; any bytes it cannot read are
 * UNDECODABLE_VALUE.
 */
import { type Codec, codecs, expressionIdentity, TAGS } from "./codec-registry.js"
import { ReductioError } from "./errors.js"
import { type DecodeVisitor, WireReader } from "./wire-reader.js"
import { VisitOnce } from "./visit-once.js"
import { WireWriter } from "./wire-writer.js"

export { type Codec, registerCodec, setExpressionIdentity, TAGS } from "./codec-registry.js"
export { MAX_ENCODED_BYTES } from "./cbor-writer.js"
export { MAX_DEPTH } from "./value-path.js"

/**
 * Calls `prepare` on every value of a registered type inside `value` (arrays, plain objects, Map
 * and Set are searched), once each however often the value holds it (a reference File passed to
 * a thousand calls is stat'ed once). Returns undefined, allocating nothing, when there is nothing
 * to prepare.
 */
export function prepareForEncoding(value: unknown): Promise<void> | undefined {
  if (!isWalkable(value) || codecs.anyPrepare !== true || holdsNoObject(value)) return undefined
  const pending: Promise<void>[] = []
  let prepared: Set<unknown> | undefined
  forEachRegistered(value, (item, codec) => {
    if (codec.prepare === undefined || prepared?.has(item) === true) return
    ;(prepared ??= new Set()).add(item)
    pending.push(codec.prepare(item))
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
  const seen = new VisitOnce()
  while (stack.length > 0) {
    const item = stack.pop()
    if ((typeof item !== "object" && typeof item !== "function") || item === null || seen.walked(item)) continue
    const codec = codecs.list.find((c) => c.is(item))
    if (codec !== undefined) {
      visit(item, codec)
      // A task value's bound arguments are carried unevaluated, like an expression's.
      if ((codec.tag === TAGS.expression || codec.tag === TAGS.task) && intoExpressions) {
        // An expression is a frozen plain object: its fields are walked in place, not in a copy
        // (a fan-out's result of 100,000 calls made 100,000), and a shared one once.
        const fields = (codec.tag === TAGS.expression ? expressionIdentity(item) : undefined) ?? codec.encode(item)
        if (isWalkable(fields) && pushContainers(fields, stack)) seen.entered(item)
      }
      continue
    }
    if (pushContainers(item, stack)) seen.entered(item)
  }
}

/** Pushes the objects inside an array, Map, Set or plain object; true when there was one. */
export function pushContainers(item: object, stack: unknown[]): boolean {
  const before = stack.length
  if (Array.isArray(item)) {
    for (const element of item) if (isWalkable(element)) stack.push(element)
  } else if (item instanceof Map) {
    for (const [key, value] of item) {
      if (isWalkable(key)) stack.push(key)
      if (isWalkable(value)) stack.push(value)
    }
  } else if (item instanceof Set) {
    for (const element of item) if (isWalkable(element)) stack.push(element)
  } else {
    const proto = Object.getPrototypeOf(item) as unknown
    if (proto === Object.prototype || proto === null) {
      for (const key in item) {
        const child = (item as Record<string, unknown>)[key]
        if (isWalkable(child)) stack.push(child)
      }
    }
  }
  return stack.length > before
}

/** An object, or a function (a task value, or a lazy property read, which is callable). */
function isWalkable(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function"
}

/** An array of scalars only (most calls' arguments): nothing in it to walk. */
function holdsNoObject(value: object): boolean {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (isWalkable(value[i])) return false
  return true
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
  readonly visit?: DecodeVisitor
}

/** Decodes bytes made by {@link encode}; anything else is UNDECODABLE_VALUE. */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): unknown {
  try {
    return new WireReader(bytes, options.visit).read()
  } catch (error) {
    if (error instanceof ReductioError) throw error
    throw new ReductioError("UNDECODABLE_VALUE", `cannot decode a stored value: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    })
  }
}
