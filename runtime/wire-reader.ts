/**
 * @module wire-reader
 * Decodes the codec's CBOR over an explicit stack: a value nested as deep as the writer allows
 * never deepens the call stack. Bytes come from outside (a database, a scratch file, a container),
 * so every malformed input (truncated, trailing bytes, reserved or indefinite forms, invalid
 * UTF-8, a tag whose content has the wrong shape, an unknown tag) is UNDECODABLE_VALUE.
 */
import { isUtf8 } from "node:buffer"
import { type Codec, codecs, TAGS } from "./codec-registry.js"
import { asErrorRecord, fromErrorRecord } from "./errors.js"
import { ExpressionRef, ExpressionTable, PendingEntry, setOwn, undecodable } from "./expression-table.js"
import { MAX_DEPTH } from "./value-path.js"

/** A graph wraps its root in two containers and its entries in three (see wire-writer.ts). */
const MAX_READ_DEPTH = MAX_DEPTH + 3
/** Strings up to this many bytes are read by a loop when ASCII (faster than a native call). */
const SHORT_TEXT = 24

const ARRAY = 0
const MAP = 1
const TAG = 2
/** What {@link WireReader} reads when an item opened a container: its value comes later. */
const OPENED = Symbol("opened")

class DecodingFrame {
  kind = ARRAY
  container: unknown[] | Record<string, unknown> = []
  length = 0
  /** Map: the key read, waiting for its value. */
  key: string | undefined = undefined
  tag = 0
  /** How many refs the graph held when this tag opened (refs inside other tags are refused). */
  refsBefore = 0
}

/** The graph being read: its tag's frame, its `[root, entries]` list and its entries. */
interface GraphState {
  readonly tag: DecodingFrame
  content?: unknown[]
  entries?: unknown[]
  readonly table: ExpressionTable
}

/** Called with every value of a registered type as it is decoded. */
export type DecodeVisitor = (value: unknown, codec: Codec<unknown>) => void

/** One decoding: `new WireReader(bytes, visit).read()`. */
export class WireReader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  readonly #visit: DecodeVisitor | undefined
  #text: Buffer | undefined
  #pos = 0
  readonly #frames: DecodingFrame[] = []
  #top = -1
  #graph: GraphState | undefined

  constructor(bytes: Uint8Array, visit?: DecodeVisitor) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#visit = visit
  }

  read(): unknown {
    for (;;) {
      let value = this.#item()
      if (value === OPENED) continue
      // Hand the value to its container; a container that is complete is itself a value.
      for (;;) {
        if (this.#top < 0) {
          const left = this.#bytes.length - this.#pos
          if (left !== 0) throw undecodable(`${left} bytes follow the value`)
          return value
        }
        const frame = this.#frames[this.#top] as DecodingFrame
        if (frame.kind === ARRAY) {
          const array = frame.container as unknown[]
          array.push(value)
          if (array.length < frame.length) break
          value = array
        } else if (frame.kind === MAP) {
          if (frame.key === undefined) {
            if (typeof value !== "string") throw undecodable(`an object key is a ${typeof value}, not text`)
            frame.key = value
            break
          }
          setOwn(frame.container as Record<string, unknown>, frame.key, value)
          frame.key = undefined
          if (--frame.length > 0) break
          value = frame.container
        } else {
          this.#top--
          value = this.#tagged(frame, value)
          continue
        }
        this.#top--
      }
    }
  }

  /** The next item: a whole value, or {@link OPENED} when it opened a container or a tag. */
  #item(): unknown {
    const bytes = this.#bytes
    if (this.#pos >= bytes.length) throw undecodable(this.#pos === 0 ? "no bytes" : "the bytes end inside a value")
    const initial = bytes[this.#pos++] as number
    const major = initial >> 5
    if (major === 7) return this.#simple(initial & 31)
    const length = this.#argument(initial & 31)
    switch (major) {
      case 0:
        return length
      case 1:
        return -1 - length
      case 2:
        return this.#bytesOf(length)
      case 3:
        return this.#textOf(length)
      case 4:
        if (length === 0) return []
        this.#open(ARRAY, [], length, 0)
        return OPENED
      case 5:
        if (length === 0) return {}
        this.#open(MAP, {}, length, 0)
        return OPENED
      default:
        this.#open(TAG, [], 1, length)
        return OPENED
    }
  }

  /** The argument of a head: the value in `info` or in the bytes after it (shortest form not required). */
  #argument(info: number): number {
    if (info < 24) return info
    const view = this.#view
    const at = this.#pos
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) throw undecodable(info === 31 ? "indefinite lengths are not used" : `reserved additional info ${info}`)
    if (at + size > this.#bytes.length) throw undecodable("the bytes end inside a value")
    this.#pos += size
    if (size === 1) return view.getUint8(at)
    if (size === 2) return view.getUint16(at)
    if (size === 4) return view.getUint32(at)
    const high = view.getUint32(at)
    if (high > 0x1fffff) throw undecodable("an integer beyond 2^53")
    return high * 0x100000000 + view.getUint32(at + 4)
  }

  #simple(info: number): unknown {
    switch (info) {
      case 20:
        return false
      case 21:
        return true
      case 22:
        return null
      case 23:
        return undefined
      case 25:
        return halfFloat(this.#need(2).getUint16(this.#pos - 2))
      case 26:
        return this.#need(4).getFloat32(this.#pos - 4)
      case 27:
        return this.#need(8).getFloat64(this.#pos - 8)
      default:
        throw undecodable(info === 31 ? "a break outside an indefinite length" : `simple value ${info}`)
    }
  }

  #need(size: number): DataView {
    if (this.#pos + size > this.#bytes.length) throw undecodable("the bytes end inside a value")
    this.#pos += size
    return this.#view
  }

  #bytesOf(length: number): Uint8Array {
    const start = this.#pos
    this.#need(length)
    return this.#bytes.slice(start, start + length)
  }

  #textOf(length: number): string {
    const start = this.#pos
    const bytes = this.#bytes
    this.#need(length)
    if (length <= SHORT_TEXT) {
      let text = ""
      for (let i = start; i < start + length; i++) {
        const byte = bytes[i] as number
        if (byte >= 0x80) return this.#utf8(start, length)
        text += String.fromCharCode(byte)
      }
      return text
    }
    return this.#utf8(start, length)
  }

  #utf8(start: number, length: number): string {
    this.#text ??= Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
    const slice = this.#text.subarray(start, start + length)
    if (!isUtf8(slice)) throw undecodable("text that is not UTF-8")
    return slice.toString("utf8")
  }

  /** Opens a container of `length` items (a map: entries; a tag: its one content). */
  #open(kind: number, container: unknown[] | Record<string, unknown>, length: number, tag: number): void {
    // Every item takes at least a byte: a length beyond the bytes left is a lie, not an allocation.
    if ((kind === MAP ? length * 2 : length) > this.#bytes.length - this.#pos) throw undecodable("a length beyond the end of the bytes")
    if (this.#top + 1 >= MAX_READ_DEPTH) {
      throw undecodable(`the value is nested deeper than ${MAX_DEPTH} levels, the codec's depth limit`)
    }
    const parent = this.#top < 0 ? undefined : (this.#frames[this.#top] as DecodingFrame)
    let frame = this.#frames[++this.#top]
    if (frame === undefined) {
      frame = new DecodingFrame()
      this.#frames[this.#top] = frame
    }
    frame.kind = kind
    frame.container = container
    frame.length = length
    frame.key = undefined
    frame.tag = tag
    const graph = this.#graph
    frame.refsBefore = graph?.table.size ?? 0
    if (kind === TAG && tag === TAGS.expressionGraph) {
      if (graph !== undefined) throw undecodable("an expression table inside another")
      this.#graph = { tag: frame, table: new ExpressionTable() }
    } else if (graph !== undefined && kind === ARRAY && parent !== undefined) {
      if (parent === graph.tag && graph.content === undefined) graph.content = container as unknown[]
      else if (parent.container === graph.content && graph.content.length === 1) graph.entries = container as unknown[]
    }
  }

  /** The value a tag stands for, given its decoded content. */
  #tagged(frame: DecodingFrame, content: unknown): unknown {
    const tag = frame.tag
    const graph = this.#graph
    const refsInside = graph !== undefined && graph.table.size > frame.refsBefore
    switch (tag) {
      case TAGS.expressionRef:
        return this.#reference(content)
      case TAGS.expressionGraph:
        return this.#graphOf(content)
      case TAGS.map:
        return this.#map(content, refsInside)
      case TAGS.set: {
        if (!Array.isArray(content)) throw undecodable("a Set that is not a list")
        if (refsInside && content.some((item) => item instanceof ExpressionRef)) throw undecodable("a lazy value as a Set member")
        return new Set(content)
      }
      case TAGS.expression:
        return this.#expression(content)
      case TAGS.callNode:
        return this.#callNode(content)
    }
    // A task value's bound arguments may be lazy: its codec keeps their list, filled in place later.
    if (refsInside && tag !== TAGS.task) throw undecodable(`a lazy value inside tag ${tag}`)
    switch (tag) {
      case TAGS.date:
        if (typeof content !== "number") throw undecodable("a Date that is not a number")
        return new Date(content)
      case TAGS.bigint:
        if (typeof content !== "string" || !/^-?[0-9]+$/.test(content)) throw undecodable("a BigInt that is not decimal digits")
        return BigInt(content)
      case TAGS.error: {
        const record = asErrorRecord(content)
        if (record === undefined) throw undecodable("an error that is not an error record")
        return fromErrorRecord(record)
      }
    }
    const codec = codecs.byTag.get(tag)
    if (codec === undefined) throw undecodable(`unknown tag ${tag} (written by a codec not registered here?)`)
    let value: unknown
    try {
      value = codec.decode(content)
    } catch (error) {
      throw undecodable(`a ${codec.name} that does not decode: ${(error as Error)?.message ?? String(error)}`, error)
    }
    this.#visit?.(value, codec)
    return value
  }

  #reference(content: unknown): ExpressionRef {
    const graph = this.#graph
    if (graph === undefined) throw undecodable("a reference outside an expression table")
    if (typeof content !== "number" || !Number.isSafeInteger(content) || content < 0) throw undecodable("a reference that is not an index")
    const parent = this.#top < 0 ? undefined : (this.#frames[this.#top] as DecodingFrame)
    if (parent === undefined || parent.kind === TAG) throw undecodable("a reference directly inside a tag")
    // The ref is stored next, at the end of the parent array or under the parent map's key.
    const key = parent.kind === ARRAY ? (parent.container as unknown[]).length : parent.key
    if (key === undefined) throw undecodable("a reference as an object key")
    // Once the entries list opened, everything read until the table ends is inside an entry.
    const owner = graph.entries === undefined ? -1 : graph.entries.length
    return graph.table.reference(content, owner, parent.container, key)
  }

  #graphOf(content: unknown): unknown {
    const graph = this.#graph as GraphState
    this.#graph = undefined
    const entries = graph.entries
    if (!Array.isArray(content) || content.length !== 2 || graph.content !== content || entries === undefined || content[1] !== entries) {
      throw undecodable("an expression table that is not [root, entries]")
    }
    for (const entry of entries) {
      if (!(entry instanceof PendingEntry)) throw undecodable("an expression table entry that is not an expression")
    }
    return graph.table.build(content, this.#visit)
  }

  #map(content: unknown, refsInside: boolean): Map<unknown, unknown> {
    if (!Array.isArray(content)) throw undecodable("a Map that is not a list of pairs")
    const map = new Map<unknown, unknown>()
    for (const pair of content) {
      if (!Array.isArray(pair) || pair.length !== 2) throw undecodable("a Map entry that is not a [key, value] pair")
      const [key, item] = pair as [unknown, unknown]
      map.set(key, item)
      if (!refsInside) continue
      if (key instanceof ExpressionRef) throw undecodable("a lazy value as a Map key")
      if (item instanceof ExpressionRef) this.#graph?.table.movedToMap(item, map, key)
    }
    return map
  }

  /** A call node `[task, args]` of an expression table: its args array stays the one its refs sit in. */
  #callNode(content: unknown): unknown {
    const graph = this.#graph
    const parent = this.#top < 0 ? undefined : (this.#frames[this.#top] as DecodingFrame)
    if (graph === undefined || parent === undefined || parent.container !== graph.entries)
      throw undecodable("a call node outside its table")
    if (!Array.isArray(content) || content.length !== 2 || typeof content[0] !== "string" || !Array.isArray(content[1])) {
      throw undecodable("a call node that is not [task, args]")
    }
    return new PendingEntry({ kind: "call", task: content[0], args: content[1] })
  }

  #expression(content: unknown): unknown {
    if (typeof content !== "object" || content === null || Array.isArray(content)) throw undecodable("an expression that is not an object")
    const graph = this.#graph
    const parent = this.#top < 0 ? undefined : (this.#frames[this.#top] as DecodingFrame)
    if (graph !== undefined) {
      if (parent === undefined || parent.container !== graph.entries) throw undecodable("an expression outside its table")
      return new PendingEntry(content as Record<string, unknown>)
    }
    // Written before expressions were tabled: nested in place, no refs.
    const codec = codecs.byTag.get(TAGS.expression) as Codec<unknown>
    let value: unknown
    try {
      value = codec.decode(content)
    } catch (error) {
      throw undecodable(`an expression that does not decode: ${(error as Error).message}`, error)
    }
    this.#visit?.(value, codec)
    return value
  }
}

/** An IEEE 754 half-precision float (cborg's encoder wrote the shortest float that kept a value). */
function halfFloat(half: number): number {
  const exponent = (half >> 10) & 0x1f
  const mantissa = half & 0x3ff
  const sign = half & 0x8000 ? -1 : 1
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024)
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024)
}
