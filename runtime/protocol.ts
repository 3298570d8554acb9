/**
 * @module protocol
 * The contract between the host and the agent that runs task code elsewhere (a local process, a
 * Batch container, a Glue job): the scratch layout and the job entry. Both sides check
 * {@link PROTOCOL_VERSION} and refuse a mismatch with PROTOCOL_MISMATCH.
 *
 * ```
 * <scratch>/code/<sha256>.tar.gz      deterministic code bundle (uploaded once)
 * <scratch>/arrays/<array-id>/input   encoded list of job entries, one per array index
 * <scratch>/jobs/<eval-hash>/input    single job entry
 * <scratch>/jobs/<eval-hash>/output   encoded result (may hold expressions)
 * <scratch>/jobs/<eval-hash>/error    encoded error record
 * <scratch>/jobs/<eval-hash>/log      the job's stdout and stderr
 * ```
 */
import { decode, encode } from "./codec.js"
import { ReductioError } from "./errors.js"
import type { TaskContext } from "./context.js"
import type { CallOptions } from "./expression.js"

/** Bumped on any incompatible change of the entry or the scratch layout. */
export const PROTOCOL_VERSION = 1

/** What the agent needs to run one call. */
export interface JobEntry {
  readonly protocol: number
  readonly evalHash: string
  /** Full task name, looked up in the registry after the bundle is imported. */
  readonly task: string
  /** Fully reduced arguments. */
  readonly args: readonly unknown[]
  readonly options: CallOptions
  /** The context values the task reads, when it declares keys (see context.ts). */
  readonly context?: TaskContext
}

/**
 * Agent exit codes: 0 done (or already done); 1 the user's code failed and an error record is
 * written; 2 the job could not run; 143 (128 + SIGTERM) the agent was told to stop (SIGTERM or
 * SIGINT) and wrote a CANCELLED error record when it had read its entry.
 */
export const AGENT_EXIT = { done: 0, taskFailed: 1, infrastructure: 2, cancelled: 143 } as const

/** A lowercase hex sha256: eval hashes and code bundle names. */
const SHA256_HEX = /^[0-9a-f]{64}$/
/** An array input's id: the first 32 hex digits of its bytes' sha256. */
const ARRAY_ID = /^[0-9a-f]{32}$/
/** A file name inside a job's or an array's directory. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** True for a lowercase hex sha256, the only form an eval hash (a scratch directory name) takes. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && SHA256_HEX.test(value)
}

/** Joins a scratch root (a local directory or an `s3://` prefix) with a relative path. */
export function scratchPath(root: string, ...parts: string[]): string {
  return [root.replace(/\/+$/, ""), ...parts].join("/")
}

/**
 * A path component built from data that crossed a process boundary: only hashes (and fixed file
 * names) ever name scratch directories, so `..`, `/` or anything else is refused before a path is built.
 */
function component(what: string, value: unknown, pattern: RegExp, form: string): string {
  if (typeof value === "string" && pattern.test(value)) return value
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : String(value)
  throw new ReductioError("INVALID_ARGUMENT", `${what} ${shown} is not ${form}, so no scratch path is built from it`, {
    details: { what },
  })
}

const evalHashPart = (evalHash: string) => component("eval hash", evalHash, SHA256_HEX, "a lowercase hex sha256")
const arrayIdPart = (arrayId: string) => component("array id", arrayId, ARRAY_ID, "32 lowercase hex digits")
const fileNamePart = (name: string) => component("scratch file name", name, FILE_NAME, "a plain file name")

/** The paths of the scratch layout under `root`; each throws INVALID_ARGUMENT for a malformed hash or id. */
export const scratch = {
  code: (root: string, sha256: string) =>
    scratchPath(root, "code", `${component("bundle hash", sha256, SHA256_HEX, "a lowercase hex sha256")}.tar.gz`),
  arrayInput: (root: string, arrayId: string) => scratchPath(root, "arrays", arrayIdPart(arrayId), "input"),
  /** Another file of an array's directory (e.g. the Batch executor's `manifest`). */
  arrayFile: (root: string, arrayId: string, name: string) => scratchPath(root, "arrays", arrayIdPart(arrayId), fileNamePart(name)),
  jobInput: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHashPart(evalHash), "input"),
  output: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHashPart(evalHash), "output"),
  error: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHashPart(evalHash), "error"),
  log: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHashPart(evalHash), "log"),
  /** Another file of a job's directory (e.g. `batch-job`, `glue-status.json`). */
  jobFile: (root: string, evalHash: string, name: string) => scratchPath(root, "jobs", evalHashPart(evalHash), fileNamePart(name)),
} as const

/** Encodes one entry, or a list of entries for an array. */
export function encodeEntries(entries: JobEntry | readonly JobEntry[]): Uint8Array {
  return encode(entries, "job entry")
}

/**
 * Decodes an entry file and checks the entry's shape; with `index`, picks that element of an array
 * input. INVALID_ARGUMENT for a missing or out-of-range index, PROTOCOL_MISMATCH for another
 * version, INVALID_JOB_ENTRY for anything else that is not an entry the host writes.
 *
 * @example
 * const entry = decodeEntry(await readFile(input), 3)
 */
export function decodeEntry(bytes: Uint8Array, index?: number): JobEntry {
  const decoded = decode(bytes)
  if (!Array.isArray(decoded)) return checkedEntry(decoded, "the job input")
  if (index === undefined) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      "this input holds an array of job entries: pass its index (AWS_BATCH_JOB_ARRAY_INDEX, JOB_COMPLETION_INDEX or --index)",
    )
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= decoded.length) {
    throw new ReductioError("INVALID_ARGUMENT", `no job entry at index ${index} (the array holds ${decoded.length})`, {
      details: { index, size: decoded.length },
    })
  }
  return checkedEntry(decoded[index], `entry ${index} of the job input`)
}

function checkedEntry(value: unknown, where: string): JobEntry {
  if (!isPlainObject(value)) throw invalidEntry(where, `is ${describeValue(value)}, not an object`)
  const { protocol, evalHash, task, args, options, context } = value as Record<string, unknown>
  if (protocol !== PROTOCOL_VERSION) {
    throw new ReductioError(
      "PROTOCOL_MISMATCH",
      `job entry speaks protocol ${String(protocol)} but this side speaks ${PROTOCOL_VERSION}: use the same reductio version for the host and the agent image`,
    )
  }
  if (!isSha256Hex(evalHash)) throw invalidEntry(where, `has evalHash ${describeValue(evalHash)}, not a lowercase hex sha256`)
  if (typeof task !== "string" || task === "") throw invalidEntry(where, `has task ${describeValue(task)}, not a task name`)
  if (!Array.isArray(args)) throw invalidEntry(where, `has args ${describeValue(args)}, not an array`)
  if (!isPlainObject(options)) throw invalidEntry(where, `has options ${describeValue(options)}, not an object`)
  if (context !== undefined && !isPlainObject(context)) throw invalidEntry(where, `has context ${describeValue(context)}, not an object`)
  // The context's own shape is checked where it is used (checkedTaskContext in the agent).
  return {
    protocol,
    evalHash,
    task,
    args,
    options: options as CallOptions,
    ...(context === undefined ? {} : { context: context as TaskContext }),
  }
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function describeValue(value: unknown): string {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === "object") return `a ${Object.getPrototypeOf(value)?.constructor?.name ?? "object"}`
  return `${typeof value} ${String(value)}`
}

function invalidEntry(where: string, problem: string): ReductioError {
  return new ReductioError(
    "INVALID_JOB_ENTRY",
    `${where} ${problem}: it was not written by a reductio host (a corrupt or foreign scratch file); rerun the call from the host`,
  )
}
