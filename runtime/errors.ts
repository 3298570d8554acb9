/**
 * @module errors
 * One error class with a stable `code` from one const list. Identity is checked by code, never by
 * `instanceof`, because a user bundle and the host (or the agent) may each load a copy of the
 * kernel in one process.
 */

/** Every stable error code reductio raises, with the CLI exit code it maps to. */
export const ERROR_CODES = {
  /** A task body threw; `cause` holds the original error (rebuilt with its stack when remote). */
  TASK_FAILED: 1,
  /** `throwError()` in a workflow. */
  WORKFLOW_ERROR: 1,
  /** A job was cancelled (Ctrl-C, or the execution was aborted). */
  CANCELLED: 130,
  /** A job failed for reasons outside the task code: killed, out of memory, timeout, lost host. */
  INFRASTRUCTURE_FAILURE: 1,
  /** The workflow file does not exist. */
  WORKFLOW_NOT_FOUND: 2,
  /** The workflow file failed to compile or threw while loading. */
  WORKFLOW_LOAD_FAILED: 2,
  /** No task of that name is registered. */
  TASK_NOT_FOUND: 2,
  /** Two different tasks were registered under one name. */
  DUPLICATE_TASK: 2,
  /** A bad argument on the command line or to an API call. */
  INVALID_ARGUMENT: 2,
  /** An argument or result the codec cannot encode; the message names the path in the value. */
  UNENCODABLE_VALUE: 2,
  /** Bytes that are not a valid encoding (corrupt or from an incompatible version). */
  UNDECODABLE_VALUE: 2,
  /** reductio.config.ts (or an environment variable) is invalid; the message names the key. */
  CONFIG_INVALID: 2,
  /** A task names an executor the configuration does not define. */
  UNKNOWN_EXECUTOR: 2,
  /** The database cannot be opened or read. */
  DB_UNREADABLE: 3,
  /**
   * No SQLite driver loads in this runtime (node:sqlite missing or too old, better-sqlite3 not
   * installed or built for another runtime); the message names each cause and the fix.
   */
  DB_DRIVER_UNAVAILABLE: 3,
  /** The database was written by a newer reductio (its schema has migrations this code lacks). */
  DB_SCHEMA_NEWER: 3,
  /** The database server cannot be reached. */
  DB_UNREACHABLE: 3,
  /** The database server refused the credentials. */
  DB_AUTH_FAILED: 3,
  /** No execution, job or value matches the id given. */
  NOT_FOUND: 4,
  /** An id or hash prefix matches several executions or calls; `details.candidates` lists them. */
  AMBIGUOUS_PREFIX: 2,
  /** Host and agent speak different protocol versions. */
  PROTOCOL_MISMATCH: 5,
  /**
   * A malformed message between the host and a reusable agent worker (`agent.js --serve`): a line
   * too long, not JSON, or other keys or values than the protocol's. The worker (or the host's
   * side) is ended and replaced; the message names what was wrong.
   */
  AGENT_REQUEST_INVALID: 5,
  /** A code bundle whose bytes do not match its sha256 name. */
  BUNDLE_TAMPERED: 5,
  /** An archive entry that would escape its directory (absolute path, `..`, outward link). */
  UNSAFE_ARCHIVE: 5,
  /** A file does not exist. */
  FILE_NOT_FOUND: 6,
  /** Permission to read or write a file or bucket was denied. */
  PERMISSION_DENIED: 6,
  /** A storage operation failed (bucket missing, service error after retries). */
  STORAGE_ERROR: 6,
  /** A transfer wrote bytes that do not match its source (size or MD5/ETag), even after retries. */
  TRANSFER_CORRUPT: 6,
  /** A script task exited non-zero. */
  SCRIPT_FAILED: 1,
  /** A script did not produce an output it declared. */
  OUTPUT_MISSING: 1,
  /** A cloud service call failed (after retries). */
  SERVICE_ERROR: 7,
  /**
   * A CloudFormation stack operation failed or left the stack unusable; `details` name the stack,
   * its status and the first resource that failed with CloudFormation's reason.
   */
  STACK_FAILED: 7,
  /** No CloudFormation stack of that name exists (in that region). */
  STACK_NOT_FOUND: 4,
  /** `reductio aws teardown` without `--force`: the stack's bucket holds objects or its repository holds images. */
  STACK_NOT_EMPTY: 2,
  /** `reductio aws check` found missing permissions or resources; `details.missing` lists each. */
  SETUP_INCOMPLETE: 7,
  // The agent's inputs.
  /**
   * A job entry that is not what a host writes (not an object, an eval hash that is not a
   * lowercase sha256, args that are not an array): the scratch file is corrupt or foreign; rerun
   * the call from the host.
   */
  INVALID_JOB_ENTRY: 5,
  /**
   * A code bundle over the agent's extraction limits (compressed or uncompressed bytes, entries,
   * bytes of one entry): shrink the bundle or raise the limit (agent/README.md names the flags).
   */
  ARCHIVE_TOO_LARGE: 5,
  /** A secret environment variable a script names (`secretEnv`) is not set where the script runs. */
  SECRET_MISSING: 2,
  /**
   * The local container engine (docker, podman) is missing, has no daemon answering, or failed a
   * build or push: a local problem, not a cloud service's; the message names the command and a fix.
   */
  CONTAINER_ENGINE_FAILED: 2,
  /**
   * AWS Batch settings (the executor's, a task's or a call's `batch`, or a routing rule's) that
   * AWS would refuse: the message names the key and what it must be.
   */
  BATCH_OPTIONS_INVALID: 2,
} as const

export type ErrorCode = keyof typeof ERROR_CODES

const REDUCTIO_ERROR = Symbol.for("reductio.error")

/** Options of a {@link ReductioError}. */
export interface ReductioErrorOptions {
  /** The underlying error, kept as `error.cause`. */
  readonly cause?: unknown
  /** Machine-readable details for tools (`--json` output, tests). */
  readonly details?: Readonly<Record<string, unknown>>
}

/**
 * The one error class of reductio. Its `code` is stable: tests and callers check it, not the text.
 *
 * @example
 * throw new ReductioError("TASK_NOT_FOUND", `no task "mian"; known tasks: main, inc`)
 */
export class ReductioError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: ErrorCode, message: string, options: ReductioErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = "ReductioError"
    this.code = code
    this.details = options.details
    Object.defineProperty(this, REDUCTIO_ERROR, { value: true })
  }
}

/**
 * True when `error` is a ReductioError from any copy of the kernel, optionally with one of `codes`.
 *
 * @example
 * if (isReductioError(err, "DB_SCHEMA_NEWER")) console.error("upgrade reductio")
 */
export function isReductioError(error: unknown, ...codes: ErrorCode[]): error is ReductioError {
  if (typeof error !== "object" || error === null) return false
  const marked = (error as Record<symbol, unknown>)[REDUCTIO_ERROR] === true
  if (!marked) return false
  return codes.length === 0 || codes.includes((error as ReductioError).code)
}

/** The CLI exit code for an error: its code's, or 1 for anything else. */
export function exitCodeOf(error: unknown): number {
  return isReductioError(error) && isErrorCode(error.code) ? ERROR_CODES[error.code] : 1
}

/**
 * An error as plain data: what crosses a process or container boundary and what the backend stores.
 */
export interface ErrorRecord {
  readonly name: string
  readonly message: string
  readonly stack?: string | undefined
  readonly code?: string | undefined
  readonly details?: Readonly<Record<string, unknown>> | undefined
  readonly cause?: ErrorRecord | undefined
  /**
   * The names of the error's classes, its own first (`["ParseError", "ValidationError", "Error"]`):
   * `catchError(..., { classes })` matches a class or a subclass by them in any process.
   */
  readonly chain?: readonly string[] | undefined
}

const CHAIN = Symbol.for("reductio.errorChain")

/** The class names of an error, its own first; a rebuilt error keeps the chain it was recorded with. */
export function errorClassChain(error: object): readonly string[] {
  const recorded = (error as Record<symbol, unknown>)[CHAIN]
  if (Array.isArray(recorded)) return recorded as string[]
  const chain: string[] = []
  for (
    let proto = Object.getPrototypeOf(error) as object | null;
    proto !== null && proto !== Object.prototype && chain.length < 32;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name
    if (typeof name === "string" && name !== "" && Object.hasOwn(proto, "constructor")) chain.push(name)
  }
  return chain
}

/** Turns any thrown value into an {@link ErrorRecord}, keeping the stack and the cause chain. */
export function toErrorRecord(error: unknown, depth = 0): ErrorRecord {
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const e = error as Error & { code?: unknown; details?: unknown }
    const code = typeof e.code === "string" ? e.code : undefined
    const details = typeof e.details === "object" && e.details !== null ? plainDetails(e.details) : undefined
    const cause = e.cause !== undefined && depth < 8 ? toErrorRecord(e.cause, depth + 1) : undefined
    const chain = errorClassChain(e)
    return {
      name: typeof e.name === "string" ? e.name : "Error",
      message: String(e.message),
      stack: typeof e.stack === "string" ? e.stack : undefined,
      ...(code === undefined ? {} : { code }),
      ...(details === undefined ? {} : { details }),
      ...(cause === undefined ? {} : { cause }),
      ...(chain.length === 0 ? {} : { chain }),
    }
  }
  return { name: "Error", message: `non-error value thrown: ${describeThrown(error)}` }
}

/**
 * `data` as an {@link ErrorRecord} when it has the record's shape (text name and message, optional
 * text stack and code, an object of details, a cause of the same shape), else undefined. For
 * records read from outside: a stored value, an agent's error file.
 */
export function asErrorRecord(data: unknown): ErrorRecord | undefined {
  let depth = 0
  for (let at: unknown = data; at !== undefined; at = (at as ErrorRecord).cause) {
    if (typeof at !== "object" || at === null || Array.isArray(at) || ++depth > MAX_CAUSES) return undefined
    const { name, message, stack, code, details } = at as Record<string, unknown>
    if (typeof name !== "string" || typeof message !== "string") return undefined
    if ((stack !== undefined && typeof stack !== "string") || (code !== undefined && typeof code !== "string")) return undefined
    if (details !== undefined && (typeof details !== "object" || details === null)) return undefined
  }
  return data as ErrorRecord
}

/**
 * True when `code` is one of {@link ERROR_CODES}: an own key, so a record whose code is
 * `constructor` or `__proto__` (inherited names of every object) is not mistaken for one.
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code)
}

/** How many causes {@link fromErrorRecord} rebuilds (a record written here holds at most 9). */
const MAX_CAUSES = 32

/** Rebuilds an Error from a record, with the original (possibly remote) name, stack and code. */
export function fromErrorRecord(record: ErrorRecord): Error {
  // Iterative, innermost cause first: a record read from outside may nest causes without bound.
  const chain: ErrorRecord[] = []
  for (let at: ErrorRecord | undefined = record; at !== undefined && chain.length < MAX_CAUSES; at = at.cause) chain.push(at)
  let cause: Error | undefined
  for (let i = chain.length - 1; i >= 0; i--) cause = errorOf(chain[i] as ErrorRecord, cause)
  return cause as Error
}

function errorOf(record: ErrorRecord, cause: Error | undefined): Error {
  const known = isErrorCode(record.code)
  const error = known
    ? new ReductioError(record.code as ErrorCode, record.message, {
        cause,
        ...(record.details === undefined ? {} : { details: record.details }),
      })
    : new Error(record.message, cause === undefined ? undefined : { cause })
  error.name = record.name
  if (record.stack !== undefined) error.stack = record.stack
  if (Array.isArray(record.chain) && record.chain.every((name) => typeof name === "string")) {
    Object.defineProperty(error, CHAIN, { value: Object.freeze([...record.chain]) })
  }
  if (record.code !== undefined && !known) {
    Object.defineProperty(error, "code", { value: record.code, enumerable: true })
  }
  return error
}

function plainDetails(details: object): Record<string, unknown> | undefined {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>
  } catch {
    return undefined
  }
}

function describeThrown(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value)
  } catch {
    return typeof value
  }
}

/** What a {@link TaskError} knows of the failed call. */
export interface TaskErrorInit {
  readonly task: string
  readonly argsHash: string
  readonly evalHash: string
  readonly record: ErrorRecord
  /** How messages name the call (`task align`, `script in task align`); default `task <task>`. */
  readonly label?: string | undefined
  /** The call's arguments on one line (see previewArgs); default the args hash's first digits. */
  readonly argsPreview?: string | undefined
  /** The job that ran the call: `<execution id>/<seq>`. */
  readonly jobId?: string | undefined
}

/**
 * The error a failed task call raises on the host: names the call (its task, or for a script the
 * task that built it) and a preview of its arguments, and keeps the original error (with its
 * original, possibly remote, stack) as `cause`.
 */
export class TaskError extends ReductioError {
  /** Full name of the task that failed. */
  readonly task: string
  /** Args hash of the failing call. */
  readonly argsHash: string
  /** Eval hash of the failing call (the cache key and scratch directory name). */
  readonly evalHash: string
  /** The original error as plain data. */
  readonly record: ErrorRecord
  /** How messages name the call. */
  readonly label: string
  /** The call's arguments on one line. */
  readonly argsPreview: string
  /** The job that ran the call (`<execution id>/<seq>`), when known. */
  readonly jobId: string | undefined

  constructor(code: "TASK_FAILED" | "INFRASTRUCTURE_FAILURE" | "CANCELLED", init: TaskErrorInit) {
    const label = init.label ?? `task ${init.task}`
    const argsPreview = init.argsPreview ?? init.argsHash.slice(0, 12)
    const subject = `${label} (args ${argsPreview})`
    super(code, code === "CANCELLED" ? `${subject} was cancelled` : `${subject} failed: ${init.record.name}: ${init.record.message}`, {
      cause: fromErrorRecord(init.record),
    })
    this.name = "TaskError"
    this.task = init.task
    this.argsHash = init.argsHash
    this.evalHash = init.evalHash
    this.record = init.record
    this.label = label
    this.argsPreview = argsPreview
    this.jobId = init.jobId
    if (init.record.stack !== undefined) {
      this.stack = `${this.name}: ${this.message}\n--- original stack ---\n${init.record.stack}`
    }
  }
}

/** True when the error is a {@link TaskError} from any copy of the kernel. */
export function isTaskError(error: unknown): error is TaskError {
  return isReductioError(error) && (error as Partial<TaskError>).record !== undefined
}
