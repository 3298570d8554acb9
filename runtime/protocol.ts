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

/** Agent exit codes. */
export const AGENT_EXIT = { done: 0, taskFailed: 1, infrastructure: 2 } as const

/** Joins a scratch root (a local directory or an `s3://` prefix) with a relative path. */
export function scratchPath(root: string, ...parts: string[]): string {
  return [root.replace(/\/+$/, ""), ...parts].join("/")
}

/** The paths of the scratch layout under `root`. */
export const scratch = {
  code: (root: string, sha256: string) => scratchPath(root, "code", `${sha256}.tar.gz`),
  arrayInput: (root: string, arrayId: string) => scratchPath(root, "arrays", arrayId, "input"),
  jobInput: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHash, "input"),
  output: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHash, "output"),
  error: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHash, "error"),
  log: (root: string, evalHash: string) => scratchPath(root, "jobs", evalHash, "log"),
} as const

/** Encodes one entry, or a list of entries for an array. */
export function encodeEntries(entries: JobEntry | readonly JobEntry[]): Uint8Array {
  return encode(entries, "job entry")
}

/** Decodes an entry file; with `index`, picks that element of an array input. */
export function decodeEntry(bytes: Uint8Array, index?: number): JobEntry {
  const decoded = decode(bytes)
  const entry = Array.isArray(decoded) ? decoded[index ?? -1] : decoded
  if (Array.isArray(decoded) && index === undefined) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      "this input holds an array of job entries: pass its index (AWS_BATCH_JOB_ARRAY_INDEX, JOB_COMPLETION_INDEX or --index)",
    )
  }
  if (entry === undefined) {
    throw new ReductioError("INVALID_ARGUMENT", `no job entry at index ${index} (the array holds ${(decoded as unknown[]).length})`)
  }
  const protocol = (entry as Partial<JobEntry>).protocol
  if (protocol !== PROTOCOL_VERSION) {
    throw new ReductioError(
      "PROTOCOL_MISMATCH",
      `job entry speaks protocol ${String(protocol)} but this side speaks ${PROTOCOL_VERSION}: use the same reductio version for the host and the agent image`,
    )
  }
  return entry as JobEntry
}
