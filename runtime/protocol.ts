/**
 * @module protocol
 * The contract between the host and the agent that runs task code elsewhere (a local process, a
 * Batch container, a Glue job): the scratch layout and the job entry. Both sides check
 * {@link PROTOCOL_VERSION} and refuse a mismatch with PROTOCOL_MISMATCH.
 *
 * ```
 * <scratch>/code/<sha256>.tar.gz      deterministic code bundle (uploaded once)
 * <scratch>/arrays/<array-id>/input   indexed array input (protocol 2, below; protocol 1: one encoded list)
 * <scratch>/jobs/<eval-hash>/input    single job entry
 * <scratch>/jobs/<eval-hash>/output   encoded result (may hold expressions)
 * <scratch>/jobs/<eval-hash>/error    encoded error record
 * <scratch>/jobs/<eval-hash>/log      the job's stdout and stderr
 * ```
 *
 * The indexed array input (protocol 2) lets child i read only its own entry, in two Range reads of
 * a few bytes and its entry: 16-byte slots, then the entries, each encoded as a single job input.
 *
 * ```
 * slot 0      "RDXA" u32 version (2) u32 count u32 0            (big-endian)
 * slot i + 1  "RDXE" u32 count u32 offset u32 length            entry i at [offset, offset + length)
 * ```
 */
import { decode, encode } from "./codec.js"
import { ReductioError } from "./errors.js"
import type { TaskContext } from "./context.js"
import type { CallOptions } from "./expression.js"

/**
 * Bumped on any incompatible change of the entry or the scratch layout. 2: the indexed array input.
 * The agent also reads protocol 1 (entries and the whole-list array input) from older hosts.
 */
export const PROTOCOL_VERSION = 2
/** Entry protocols the agent accepts. */
const READABLE_PROTOCOLS: readonly number[] = [1, 2]

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
  if (typeof protocol !== "number" || !READABLE_PROTOCOLS.includes(protocol)) {
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

/** Bytes of one slot of the indexed array input. */
export const ARRAY_SLOT_BYTES = 16
/** The largest entry an indexed array input may name (a guard against hostile lengths). */
export const MAX_ARRAY_ENTRY_BYTES = 64 * 1024 * 1024
const HEADER_MAGIC = 0x52445841 // "RDXA"
const SLOT_MAGIC = 0x52445845 // "RDXE"

/**
 * Encodes an array input in the indexed layout (module comment): child i reads slot i + 1, then
 * its entry, by Range.
 *
 * @example
 * await storage.writeBytes(scratch.arrayInput(root, id), encodeArrayInput(entries))
 */
export function encodeArrayInput(entries: readonly JobEntry[]): Uint8Array {
  const encoded = entries.map((entry) => encodeEntries(entry))
  const tableBytes = ARRAY_SLOT_BYTES * (entries.length + 1)
  const total = encoded.reduce((sum, bytes) => sum + bytes.length, tableBytes)
  if (total > 0xffffffff) throw new ReductioError("INVALID_ARGUMENT", `an array input of ${total} bytes exceeds the layout's 4 GiB`)
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  view.setUint32(0, HEADER_MAGIC)
  view.setUint32(4, PROTOCOL_VERSION)
  view.setUint32(8, entries.length)
  let offset = tableBytes
  encoded.forEach((bytes, index) => {
    const slot = ARRAY_SLOT_BYTES * (index + 1)
    view.setUint32(slot, SLOT_MAGIC)
    view.setUint32(slot + 4, entries.length)
    view.setUint32(slot + 8, offset)
    view.setUint32(slot + 12, bytes.length)
    out.set(bytes, offset)
    offset += bytes.length
  })
  return out
}

/** Where entry `index` lies in an indexed array input. */
export interface ArraySlot {
  readonly count: number
  readonly offset: number
  readonly length: number
}

/** The byte range (inclusive ends, as HTTP Range) of slot `index`. */
export function arraySlotRange(index: number): { start: number; end: number } {
  checkIndex(index)
  const start = ARRAY_SLOT_BYTES * (index + 1)
  return { start, end: start + ARRAY_SLOT_BYTES - 1 }
}

/**
 * Reads slot `index` from its 16 bytes, checked as hostile input: undefined when the bytes are not a
 * slot (a protocol 1 input: read it whole); INVALID_ARGUMENT for an index outside the array;
 * INVALID_JOB_ENTRY for offsets outside the entries or a length over {@link MAX_ARRAY_ENTRY_BYTES}.
 */
export function decodeArraySlot(bytes: Uint8Array, index: number): ArraySlot | undefined {
  checkIndex(index)
  if (bytes.length !== ARRAY_SLOT_BYTES) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== SLOT_MAGIC) return undefined
  const count = view.getUint32(4)
  const offset = view.getUint32(8)
  const length = view.getUint32(12)
  if (index >= count) {
    throw new ReductioError("INVALID_ARGUMENT", `no job entry at index ${index} (the array holds ${count})`, {
      details: { index, size: count },
    })
  }
  const where = `slot ${index} of the array input`
  if (offset < ARRAY_SLOT_BYTES * (count + 1)) throw invalidEntry(where, `points at byte ${offset}, inside the slot table`)
  if (length === 0 || length > MAX_ARRAY_ENTRY_BYTES) throw invalidEntry(where, `names an entry of ${length} bytes`)
  if (offset + length > 0xffffffff) throw invalidEntry(where, `names bytes past the layout's 4 GiB`)
  return { count, offset, length }
}

/** The entry a slot names, from the bytes read at its range; INVALID_JOB_ENTRY when they fall short. */
export function decodeArrayEntry(bytes: Uint8Array, slot: ArraySlot, index: number): JobEntry {
  if (bytes.length !== slot.length) {
    throw invalidEntry(
      `entry ${index} of the array input`,
      `is ${bytes.length} bytes where its slot says ${slot.length} (a truncated file)`,
    )
  }
  const entry = decodeEntry(bytes)
  return entry
}

/** Entry `index` of a whole array input in either layout (readers that hold the whole object). */
export function decodeArrayInput(bytes: Uint8Array, index: number): JobEntry {
  const range = arraySlotRange(index)
  const slot = bytes.length >= range.end + 1 ? decodeArraySlot(bytes.subarray(range.start, range.end + 1), index) : undefined
  if (slot === undefined) {
    const header = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0) : 0
    if (header === HEADER_MAGIC) {
      const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8)
      throw new ReductioError("INVALID_ARGUMENT", `no job entry at index ${index} (the array holds ${count})`, {
        details: { index, size: count },
      })
    }
    return decodeEntry(bytes, index)
  }
  return decodeArrayEntry(bytes.subarray(slot.offset, slot.offset + slot.length), slot, index)
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= 0xfffffff) {
    throw new ReductioError("INVALID_ARGUMENT", `array index ${index} is not a non-negative integer`, { details: { index } })
  }
}
