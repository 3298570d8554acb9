/**
 * @module output
 * How results and failures look on the terminal.
 */
import { inspect } from "node:util"
import { isReductioError, isTaskError } from "../errors.js"

/**
 * A result for people: strings as they are, JSON when the value is JSON, else Node's inspection.
 * Object keys print in the value's own order, which the cache keeps: a result prints the same
 * whether it was computed or read back.
 */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return value
  try {
    const json = JSON.stringify(value, jsonOnly, 2)
    if (json !== undefined) return json
  } catch {
    // not plain JSON (Map, Set, Date, File, bigint, ...): inspect it instead
  }
  return inspect(value, { depth: 8, colors: false, maxArrayLength: 200, breakLength: 100 })
}

function jsonOnly(this: unknown, _key: string, value: unknown): unknown {
  if (value === undefined || typeof value === "bigint" || typeof value === "function") throw new Error("not JSON")
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value) as unknown
    if (proto !== Object.prototype && proto !== null) throw new Error("not JSON")
  }
  return value
}

/** A failure for people: code, message, and for a failed task its original (remote) stack. */
export function formatFailure(error: unknown): string {
  if (isTaskError(error)) {
    const lines = [`error [${error.code}]: ${error.message}`]
    if (error.record.stack !== undefined) lines.push("  original stack:", indent(error.record.stack, "    "))
    const logTail = error.record.details?.logTail
    if (typeof logTail === "string" && logTail !== "") lines.push("  log tail:", indent(logTail, "    "))
    return lines.join("\n")
  }
  if (isReductioError(error)) return `error [${error.code}]: ${error.message}`
  if (error instanceof Error) return `error: ${error.stack ?? error.message}`
  return `error: ${String(error)}`
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => prefix + line)
    .join("\n")
}
