/**
 * @module expression-table
 * Rebuilding a decoded expression graph, `graph(root, [node0, node1, ...])`: while the reader
 * decodes it, each `ref(i)` becomes a placeholder whose place (container and key) is recorded;
 * at the end the entries are built in dependency order and every placeholder is replaced in
 * place. Nothing is copied and nothing recurses, however large or deep the graph.
 */
import { type Codec, codecs, TAGS } from "./codec-registry.js"
import { dependencyOrder } from "./dependency-order.js"
import { ReductioError } from "./errors.js"

/** A `ref(i)` not yet replaced by entry `i`; `record` is its place in the table's lists. */
export class ExpressionRef {
  constructor(
    readonly id: number,
    readonly record: number,
  ) {}
}

/** A table entry as read: the fields of an expression whose refs are still placeholders. */
export class PendingEntry {
  constructor(readonly fields: Record<string, unknown>) {}
}

/** Where a placeholder sits: an array index, an object key, or a Map key whose value it is. */
const IN_ARRAY = 0
const IN_OBJECT = 1
const IN_MAP = 2

/** The refs of one graph being decoded. */
export class ExpressionTable {
  readonly #ids: number[] = []
  /** The entry whose fields hold the ref, or -1 for the root value. */
  readonly #owners: number[] = []
  readonly #places: number[] = []
  readonly #containers: object[] = []
  readonly #keys: unknown[] = []

  get size(): number {
    return this.#ids.length
  }

  /** A ref read inside entry `owner` (-1: the root), about to be stored at `container[key]`. */
  reference(id: number, owner: number, container: object, key: string | number): ExpressionRef {
    const record = this.#ids.length
    this.#ids.push(id)
    this.#owners.push(owner)
    this.#places.push(Array.isArray(container) ? IN_ARRAY : IN_OBJECT)
    this.#containers.push(container)
    this.#keys.push(key)
    return new ExpressionRef(id, record)
  }

  /** A ref that became the value of `key` in a Map built from its pairs. */
  movedToMap(ref: ExpressionRef, map: Map<unknown, unknown>, key: unknown): void {
    this.#places[ref.record] = IN_MAP
    this.#containers[ref.record] = map
    this.#keys[ref.record] = key
  }

  /**
   * Builds the entries in dependency order, replaces every placeholder and returns the root.
   * `content` is the decoded `[root, entries]`.
   */
  build(content: unknown[], visit: ((value: unknown, codec: Codec<unknown>) => void) | undefined): unknown {
    const entries = content[1] as unknown[]
    const ids = this.#ids
    const owners = this.#owners
    const references: number[] = []
    for (let r = 0; r < ids.length; r++) {
      if ((ids[r] as number) >= entries.length) throw undecodable(`expression table entry ${ids[r]} is missing`)
      if ((owners[r] as number) >= 0) references.push(owners[r] as number, ids[r] as number)
    }
    const found = dependencyOrder(entries.length, references)
    if ("cyclic" in found) throw undecodable(`expression table entry ${found.cyclic} refers to itself`)
    // The refs of each owner as linked lists: first[owner + 1] → next[r] → ... (-1 ends).
    const first = new Int32Array(entries.length + 1).fill(-1)
    const next = new Int32Array(ids.length)
    for (let r = ids.length - 1; r >= 0; r--) {
      const slot = (owners[r] as number) + 1
      next[r] = first[slot] as number
      first[slot] = r
    }
    const codec = codecs.byTag.get(TAGS.expression) as Codec<unknown>
    const built = new Array<unknown>(entries.length)
    for (const entry of found.order) {
      for (let r = first[entry + 1] as number; r >= 0; r = next[r] as number) this.#replace(r, built)
      built[entry] = decodeEntry(codec, (entries[entry] as PendingEntry).fields)
      visit?.(built[entry], codec)
    }
    for (let r = first[0] as number; r >= 0; r = next[r] as number) this.#replace(r, built)
    return content[0]
  }

  #replace(record: number, built: readonly unknown[]): void {
    const value = built[this.#ids[record] as number]
    const container = this.#containers[record] as object
    const key = this.#keys[record]
    const place = this.#places[record]
    if (place === IN_MAP) (container as Map<unknown, unknown>).set(key, value)
    else if (place === IN_ARRAY) (container as unknown[])[key as number] = value
    else setOwn(container as Record<string, unknown>, key as string, value)
  }
}

function decodeEntry(codec: Codec<unknown>, fields: Record<string, unknown>): unknown {
  try {
    return codec.decode(fields)
  } catch (error) {
    throw undecodable(`an expression table entry is not an expression: ${(error as Error).message}`, error)
  }
}

/** `object[key] = value` as an own property, also for `__proto__` (which would set the prototype). */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, configurable: true, enumerable: true, writable: true })
  else object[key] = value
}

export function undecodable(message: string, cause?: unknown): ReductioError {
  return new ReductioError("UNDECODABLE_VALUE", `cannot decode a stored value: ${message}`, cause === undefined ? {} : { cause })
}
