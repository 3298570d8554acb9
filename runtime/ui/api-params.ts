/**
 * @module api-params
 * Validation of the UI API's path segments and query parameters: every one is hostile (a page
 * can be opened by anything that reaches the port), bounded, and refused with a coded error
 * (INVALID_ARGUMENT, answered as HTTP 400 with the code in JSON) that names the parameter.
 */
import type { ExecutionStatus, JobStatus } from "../backend/backend.js"
import { ReductioError } from "../errors.js"

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["RUNNING", "DONE", "FAILED", "CANCELLED", "ABANDONED"]
export const JOB_STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "WAITING", "DONE", "CACHED", "FAILED", "CANCELLED", "ABANDONED"]

/** Longest execution ref: an execution id (or prefix); `-` is the latest. */
const MAX_ID = 128
const MAX_NAME = 512
const MAX_PATH = 4096

function invalid(what: string, got: string, expected: string): never {
  throw new ReductioError("INVALID_ARGUMENT", `${what} must be ${expected} (got ${JSON.stringify(got.slice(0, 80))})`, {
    details: { parameter: what },
  })
}

/** An execution id, id prefix, or `-` (the latest). */
export function executionRef(text: string): string {
  if (text === "-" || /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(text)) {
    if (text.length <= MAX_ID) return text
  }
  return invalid("execution id", text, `an execution id or prefix (letters, digits, "-", "_", ".", ":"; at most ${MAX_ID}) or "-"`)
}

/** A job's sequence number within its execution. */
export function seqOf(text: string): number {
  const seq = Number(text)
  if (!/^[1-9]\d{0,9}$/.test(text) || !Number.isSafeInteger(seq)) return invalid("job seq", text, "a positive whole number")
  return seq
}

/** A whole number from `min` to `max`; the fallback when absent. */
export function countParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = params.get(name)
  if (text === null) return fallback
  const value = Number(text)
  if (!/^\d{1,10}$/.test(text) || value < min || value > max) return invalid(name, text, `a whole number from ${min} to ${max}`)
  return value
}

/** One of `choices` (case-insensitive), or undefined when absent. */
export function choiceParam<T extends string>(params: URLSearchParams, name: string, choices: readonly T[]): T | undefined {
  const text = params.get(name)
  if (text === null || text === "") return undefined
  const upper = text.toUpperCase()
  const found = choices.find((choice) => choice.toUpperCase() === upper)
  return found ?? invalid(name, text, `one of ${choices.join(", ")}`)
}

/** A free-text parameter (a task name, a tag): bounded, no control characters. */
export function textParam(params: URLSearchParams, name: string, max = MAX_NAME): string | undefined {
  const text = params.get(name)
  if (text === null || text === "") return undefined
  return checkedText(name, text, max)
}

/** A text required in a path segment or query: bounded, no control characters. */
export function checkedText(name: string, text: string, max = MAX_NAME): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (text.length > max || /[\u0000-\u001f\u007f]/.test(text))
    return invalid(name, text, `at most ${max} characters without control characters`)
  return text
}

/** A file path or URI for lineage. */
export function pathParam(params: URLSearchParams): string {
  const text = params.get("path")
  if (text === null || text === "") return invalid("path", "", "a file path or URI")
  return checkedText("path", text, MAX_PATH)
}

/** A full hash: 64 lowercase hex digits. */
export function hashOf(name: string, text: string): string {
  if (!/^[0-9a-f]{64}$/.test(text)) return invalid(name, text, "64 lowercase hex digits")
  return text
}

/** Path segments, percent-decoded; a malformed escape is INVALID_ARGUMENT. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return invalid("path segment", segment, "valid percent-encoding")
  }
}
