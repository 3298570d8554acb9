/**
 * @module json-output
 * A result as JSON text for `run --json`, written over an explicit stack: a result nested 100,000
 * deep prints (JSON.stringify gives up near 5,000 levels). Keys keep the value's own order, and
 * a Map's entries theirs. BigInts become strings, Maps objects (keys as text), Sets arrays; everything else is what
 * JSON.stringify makes of it (`toJSON`, null for what JSON lacks, no undefined members).
 */

interface Frame {
  readonly items: readonly unknown[]
  /** For an object: its keys (items are its values). */
  readonly keys: readonly string[] | undefined
  next: number
  wrote: boolean
}

/**
 * The JSON text of a task's result.
 *
 * @example
 * resultJson({ b: 1n, a: new Set([1]) }) // '{"b":"1","a":[1]}'
 */
export function resultJson(value: unknown): string {
  let text = ""
  const stack: Frame[] = []
  let item = jsonValue(value, "")
  for (;;) {
    if (Array.isArray(item)) {
      text += "["
      stack.push({ items: item, keys: undefined, next: 0, wrote: false })
    } else if (item instanceof Map) {
      text += "{"
      stack.push(mapFrame(item))
    } else if (typeof item === "object" && item !== null) {
      const keys = Object.keys(item)
      text += "{"
      stack.push({ items: keys.map((key) => (item as Record<string, unknown>)[key]), keys, next: 0, wrote: false })
    } else text += scalarJson(item)
    item = undefined
    let found = false
    while (!found && stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame
      while (frame.next < frame.items.length) {
        const index = frame.next++
        const key = frame.keys === undefined ? String(index) : (frame.keys[index] as string)
        const member = jsonValue(frame.items[index], key)
        // Members JSON has no value for: null in an array, left out of an object.
        if (frame.keys !== undefined && !hasJson(member)) continue
        text += `${frame.wrote ? "," : ""}${frame.keys === undefined ? "" : `${JSON.stringify(key)}:`}`
        frame.wrote = true
        item = member
        found = true
        break
      }
      if (!found) {
        text += frame.keys === undefined ? "]" : "}"
        stack.pop()
      }
    }
    if (!found) return text
  }
}

/** A value as JSON sees it: after `toJSON`, with BigInts, Maps and Sets made JSON-shaped. */
function jsonValue(value: unknown, key: string): unknown {
  let item = value
  if (typeof item === "object" && item !== null && typeof (item as { toJSON?: unknown }).toJSON === "function") {
    item = (item as { toJSON: (key: string) => unknown }).toJSON(key)
  }
  if (typeof item === "bigint") return item.toString()
  if (item instanceof Set) return Array.from(item)
  return item
}

/** A Map as an object in the Map's order; keys equal as text keep the first place and the last value. */
function mapFrame(map: Map<unknown, unknown>): Frame {
  const keys: string[] = []
  const items: unknown[] = []
  const placed = new Map<string, number>()
  for (const [key, value] of map) {
    const text = String(key)
    const at = placed.get(text)
    if (at === undefined) {
      placed.set(text, keys.length)
      keys.push(text)
      items.push(value)
    } else items[at] = value
  }
  return { items, keys, next: 0, wrote: false }
}

function hasJson(value: unknown): boolean {
  return value !== undefined && typeof value !== "function" && typeof value !== "symbol"
}

function scalarJson(value: unknown): string {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null"
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value)
  return "null"
}
