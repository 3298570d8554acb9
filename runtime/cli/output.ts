/**
 * @module output
 * How results and failures look on the terminal.
 */
import { inspect } from "node:util"
import { isReductioError, isTaskError, type TaskError } from "../errors.js"

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

/**
 * A failure for people: code and message; for a failed call also its exit code and stderr tail
 * (a script), its original (remote) stack, its log tail, and how to see the call in `reductio log`.
 */
export function formatFailure(error: unknown): string {
  if (isTaskError(error)) return formatTaskFailure(error)
  if (isReductioError(error)) return `error [${error.code}]: ${error.message}`
  if (error instanceof Error) return `error: ${error.stack ?? error.message}`
  return `error: ${String(error)}`
}

/** Lines of a stack or log a failure shows. */
const TAIL_LINES = 30

function formatTaskFailure(error: TaskError): string {
  const { record } = error
  const [first = "", ...more] = record.message.split("\n")
  const lines = [`error [${error.code}]: ${error.label} (args ${error.argsPreview}) failed: ${record.name}: ${first}`]
  const details = record.details ?? {}
  if (typeof details.exitCode === "number") lines.push(`  exit code: ${details.exitCode}`)
  if (typeof details.stderrTail === "string" && details.stderrTail.trim() !== "")
    lines.push("  stderr (tail):", indent(lastLines(details.stderrTail), "    "))
  else if (more.join("").trim() !== "") lines.push(indent(lastLines(more.join("\n")), "  "))
  const frames = (record.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line))
  if (frames.length > 0)
    lines.push(
      "  original stack:",
      indent(
        frames
          .slice(0, TAIL_LINES)
          .map((frame) => frame.trim())
          .join("\n"),
        "    ",
      ),
    )
  else if (record.stack !== undefined) lines.push("  original stack:", indent(lastLines(record.stack), "    "))
  const logTail = details.logTail
  if (typeof logTail === "string" && logTail.trim() !== "") lines.push("  log tail:", indent(lastLines(logTail), "    "))
  const prefix = error.evalHash.slice(0, 12)
  lines.push(`  call ${prefix}${error.jobId === undefined ? "" : ` (job ${error.jobId})`}: reductio log ${prefix} shows it`)
  return lines.join("\n")
}

function lastLines(text: string): string {
  return text.trimEnd().split("\n").slice(-TAIL_LINES).join("\n")
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => prefix + line)
    .join("\n")
}
