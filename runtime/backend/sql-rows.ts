/**
 * @module sql-rows
 * The one place where records become SQL rows and back: hex hashes ↔ 32-byte buffers, booleans ↔
 * 0/1, bigint times ↔ numbers. Rows are positional arrays in the column order of {@link TABLES},
 * so the same rows feed kysely (Postgres) and prepared statements (SQLite).
 */
import { ReductioError } from "../errors.js"
import { evalHashOf, valueHashOf } from "../hashing.js"
import { CALL_VALUE_BYTES, type EvaluationRecord, type WriteBatch } from "./backend.js"
import { CHILDREN_PER_ROW, SMALL_VALUE_BYTES } from "./migrations.js"
import type { Database } from "./schema.js"

/** How one table is written: its columns in row order, its key, and what a conflict does. */
export interface TableSpec {
  readonly table: keyof Database
  readonly columns: readonly string[]
  readonly key: readonly string[]
  /** True: the latest row wins (upsert). False: insert if absent (content-addressed rows). */
  readonly upsert: boolean
}

/**
 * Every written table, in the fixed order writes apply. One order for every writer means two
 * concurrent Postgres transactions take row locks in the same order and cannot deadlock.
 */
export const TABLES: readonly TableSpec[] = [
  { table: "task", columns: ["hash", "name", "source", "version"], key: ["hash"], upsert: false },
  { table: "value", columns: ["hash", "bytes"], key: ["hash"], upsert: false },
  { table: "small_value", columns: ["hash", "bytes"], key: ["hash"], upsert: false },
  {
    table: "call_node",
    columns: ["call_hash", "task_hash", "args_hash", "value_hash", "checked", "args_bytes", "value_bytes"],
    key: ["call_hash"],
    upsert: false,
  },
  { table: "call_children", columns: ["parent_hash", "position", "children"], key: ["parent_hash", "position"], upsert: false },
  {
    table: "file_use",
    columns: ["path", "role", "call_hash", "file_hash", "execution_id", "started_at"],
    key: ["path", "call_hash", "role", "file_hash"],
    upsert: false,
  },
  // A rerun after a cached result was invalidated (a File changed) records the new result.
  { table: "evaluation", columns: ["eval_hash", "value_hash", "call_hash", "replayable"], key: ["eval_hash"], upsert: true },
  {
    table: "execution",
    columns: ["id", "started_at", "ended_at", "status", "command", "root_call_hash", "error", "lease_expires_at", "call_leases"],
    key: ["id"],
    upsert: true,
  },
  {
    table: "job",
    columns: [
      "execution_id",
      "seq",
      "parent_seq",
      "task_hash",
      "eval_hash",
      "call_hash",
      "status",
      "cached",
      "created_at",
      "ended_at",
      "error",
      "reused_calls",
      "started_at",
      "body_ended_at",
      "args_hash",
      "name",
      "executor",
      "executor_job_id",
      "image",
    ],
    key: ["execution_id", "seq"],
    upsert: true,
  },
  { table: "tag", columns: ["execution_id", "key", "value"], key: ["execution_id", "key"], upsert: true },
]

export type Row = unknown[]
/** Rows per table, aligned with {@link TABLES}. */
export type BatchRows = ReadonlyMap<keyof Database, Row[]>

/** Where {@link checkHash} decodes: writing hex into bytes costs a third of matching a regex. */
const scratch = Buffer.allocUnsafe(32)

/** A lowercase hex SHA-256 as its 32 bytes. */
export function hashToBuffer(hash: string): Buffer {
  // Buffer.from stops at the first non-hex digit, so a short result means a malformed hash.
  const bytes = typeof hash === "string" && hash.length === 64 ? Buffer.from(hash, "hex") : undefined
  if (bytes === undefined || bytes.length !== 32) {
    throw new ReductioError("INVALID_ARGUMENT", `not a sha256 hash (64 hex digits): ${JSON.stringify(String(hash).slice(0, 80))}`)
  }
  return bytes
}

/** The hash itself when it is 64 hex digits; else INVALID_ARGUMENT as from {@link hashToBuffer}. */
export function checkHash(hash: string): string {
  // Hex decoding stops at the first pair that is not hex: a short write is a malformed hash.
  if (typeof hash !== "string" || hash.length !== 64 || scratch.write(hash, 0, 32, "hex") !== 32) hashToBuffer(hash)
  return hash
}

export function hashOrNull(hash: string | null): Buffer | null {
  return hash === null ? null : hashToBuffer(hash)
}

/** 32 bytes from the database as lowercase hex. */
export function bufferToHash(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
}

export function hashFromNullable(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : bufferToHash(bytes)
}

/** A driver's Buffer as a plain Uint8Array view (no copy), so callers see one byte type. */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A time column (number in SQLite, string for a Postgres bigint) as milliseconds. */
export function toTime(value: number | string | bigint): number {
  return Number(value)
}

export function toTimeOrNull(value: number | string | bigint | null): number | null {
  return value === null ? null : Number(value)
}

/** Keeps the last row per key (upserted tables), so one statement never touches a row twice. */
function lastPerKey<T, K>(records: readonly T[], keyOf: (record: T) => K): T[] {
  if (records.length < 2) return [...records]
  const byKey = new Map<K, T>()
  for (const record of records) byKey.set(keyOf(record), record)
  return [...byKey.values()]
}

/** The last row per job; keyed by seq alone when the batch is one execution's (as a run's are). */
function lastJobs<T extends { executionId: string; seq: number }>(jobs: readonly T[]): T[] {
  const executionId = jobs[0]?.executionId
  if (jobs.some((job) => job.executionId !== executionId)) return lastPerKey(jobs, (j) => `${j.executionId}\u0000${j.seq}`)
  return lastPerKey(jobs, (j) => j.seq)
}

/**
 * How a writer wants hashes in its rows: `bytes` (32-byte Buffers, bound as BLOBs by SQLite) or
 * `hex` (the validated hex itself, for a database that decodes it in SQL, as Postgres does).
 */
export type HashEncoding = "bytes" | "hex"

/**
 * Encodes each distinct hash of a batch once: a call's hashes recur across its rows (the eval
 * hash in its evaluation and job, the value hash in value, evaluation and call), and Buffer.from
 * costs more than a Map lookup. Drivers copy bound bytes, so rows may share one Buffer.
 */
function hashEncoder(encoding: HashEncoding): {
  one: (hash: string) => Buffer | string
  nullable: (hash: string | null) => Buffer | string | null
  /** Hashes one after another: their bytes, or their hex. */
  many: (hashes: readonly string[]) => Buffer | string
} {
  const seen = new Map<string, Buffer>()
  const one =
    encoding === "hex"
      ? checkHash
      : (hash: string) => {
          let bytes = seen.get(hash)
          if (bytes === undefined) seen.set(hash, (bytes = hashToBuffer(hash)))
          return bytes
        }
  return {
    one,
    nullable: (hash) => (hash === null ? null : one(hash)),
    many: encoding === "hex" ? (hashes) => hashes.map(checkHash).join("") : (hashes) => Buffer.concat(hashes.map(hashToBuffer)),
  }
}

/**
 * Whether a column holds hashes, sent as hex by a writer that asks for `hex` (see
 * {@link HashEncoding}): the `*_hash` columns and `call_children.children`.
 */
export function isHashColumn(column: string): boolean {
  return column === "children" || /(^|_)hash$/.test(column)
}

/** The earliest job of each call hash in a batch: where a file use without an origin came from. */
function jobsByCall(batch: WriteBatch): Map<string, { executionId: string; startedAt: number | null }> {
  const origins = new Map<string, { executionId: string; startedAt: number | null }>()
  for (const job of batch.jobs ?? []) {
    if (job.callHash === null) continue
    const seen = origins.get(job.callHash)
    if (seen === undefined || (seen.startedAt ?? Infinity) > job.createdAt) {
      origins.set(job.callHash, { executionId: job.executionId, startedAt: job.createdAt })
    }
  }
  return origins
}

/** The rows of a batch per table (upserted tables deduplicated, latest wins). */
export function batchRows(batch: WriteBatch, encoding: HashEncoding = "bytes"): BatchRows {
  const rows = new Map<keyof Database, Row[]>()
  const put = (table: keyof Database, tableRows: Row[]) => {
    if (tableRows.length > 0) rows.set(table, tableRows)
  }
  const { one: bytes, nullable, many: hashes } = hashEncoder(encoding)
  put(
    "task",
    (batch.tasks ?? []).map((t) => [bytes(t.hash), t.name, t.source, t.version]),
  )
  const calls = batch.calls ?? []
  const callsByHash = new Map(calls.map((c) => [c.callHash, c]))
  // A call's small arguments and value go in its own row.
  const inRow = (given: Uint8Array | undefined) => (given !== undefined && given.byteLength <= CALL_VALUE_BYTES ? given : null)
  const inCall = new Set<string>()
  for (const c of calls) {
    if (inRow(c.argsBytes) !== null) inCall.add(c.argsHash)
    if (inRow(c.valueBytes) !== null) inCall.add(c.valueHash)
  }
  put(
    "call_node",
    calls.map((c) => [
      bytes(c.callHash),
      bytes(c.taskHash),
      bytes(c.argsHash),
      // A small value in the row is named by its bytes' hash (migration 0014), checked here so a
      // reader never derives another; a call that may hold a File keeps its hash, which a call
      // tree names without reading the value.
      c.checked === false && c.valueBytes !== undefined && inRow(c.valueBytes) !== null && valueHashOf(c.valueBytes) === c.valueHash
        ? null
        : bytes(c.valueHash),
      c.checked === undefined ? null : c.checked ? 1 : 0,
      inRow(c.argsBytes),
      inRow(c.valueBytes),
    ]),
  )
  // What rows of the batch name by hash: an evaluation's value unless it is its call node's,
  // written with it; a call's arguments it does not hold; a job's without a call.
  const evaluations = lastPerKey(batch.evaluations ?? [], (e) => e.evalHash)
  const ownValue = (e: EvaluationRecord) => e.callHash == null || callsByHash.get(e.callHash)?.valueHash !== e.valueHash
  const byHash = new Set<string>()
  for (const e of evaluations) if (ownValue(e)) byHash.add(e.valueHash)
  const values = [...(batch.values ?? [])]
  const added = new Set<string>()
  const store = (hash: string, encoded: Uint8Array | undefined) => {
    byHash.add(hash)
    if (encoded !== undefined && !added.has(hash)) {
      added.add(hash)
      values.push({ hash, bytes: encoded })
    }
  }
  for (const c of calls) if (inRow(c.argsBytes) === null) store(c.argsHash, c.argsBytes)
  for (const j of batch.jobs ?? []) if (j.callHash === null && j.argsHash != null) store(j.argsHash, j.argsBytes)
  const [small, large] = [[] as Row[], [] as Row[]]
  for (const v of values) {
    // Kept by call nodes alone: not stored again under its hash.
    if (inCall.has(v.hash) && !byHash.has(v.hash)) continue
    // Bytes as they are: both SQLite bindings and pg bind any Uint8Array (a view at its offset).
    ;(v.bytes.byteLength <= SMALL_VALUE_BYTES ? small : large).push([bytes(v.hash), v.bytes])
  }
  put("value", large)
  put("small_value", small)
  const packed: Row[] = []
  for (const call of calls) {
    if (call.children.length === 0) continue
    const parent = bytes(call.callHash)
    for (let position = 0; position < call.children.length; position += CHILDREN_PER_ROW) {
      packed.push([parent, position, hashes(call.children.slice(position, position + CHILDREN_PER_ROW))])
    }
  }
  put("call_children", packed)
  const files = batch.files ?? []
  const origins = files.length === 0 ? undefined : jobsByCall(batch)
  put(
    "file_use",
    files.map((f) => {
      const origin = f.executionId == null ? origins?.get(f.callHash) : { executionId: f.executionId, startedAt: f.at ?? null }
      return [f.path, f.role, bytes(f.callHash), bytes(f.fileHash), origin?.executionId ?? null, origin?.startedAt ?? null]
    }),
  )
  // A row leaves out a hash its call node holds only when the node is written with it, so a row
  // never depends on a node that may be missing.
  put(
    "evaluation",
    evaluations.map((e) => [
      bytes(e.evalHash),
      ownValue(e) ? bytes(e.valueHash) : null,
      nullable(e.callHash ?? null),
      e.replayable === undefined ? null : e.replayable ? 1 : 0,
    ]),
  )
  put(
    "execution",
    lastPerKey(batch.executions ?? [], (e) => e.id).map((e) => [
      e.id,
      e.startedAt,
      e.endedAt,
      e.status,
      e.command,
      nullable(e.rootCallHash),
      e.error,
      e.leaseExpiresAt ?? null,
      e.callLeases == null ? null : e.callLeases ? 1 : 0,
    ]),
  )
  put(
    "job",
    lastJobs(batch.jobs ?? []).map((j) => {
      const call = j.callHash === null ? undefined : callsByHash.get(j.callHash)
      return [
        j.executionId,
        j.seq,
        j.parentSeq,
        // A finished job's task hash is its call node's, and so is its eval hash when the node's
        // task and args hashes derive it (a call that reads no context): readers derive it, and
        // `log <prefix>` hashes those jobs as it searches.
        call?.taskHash === j.taskHash ? null : bytes(j.taskHash),
        call?.taskHash === j.taskHash && evalHashOf(call.taskHash, call.argsHash) === j.evalHash ? null : bytes(j.evalHash),
        nullable(j.callHash),
        j.status,
        j.cached ? 1 : 0,
        j.createdAt,
        // Times after the job's creation (migration 0013): a byte or two each in SQLite, not six.
        after(j.endedAt, j.createdAt),
        j.error,
        j.reusedCalls ?? null,
        after(j.startedAt, j.createdAt),
        after(j.bodyEndedAt, j.createdAt),
        // A finished job's args hash is its call node's: one hash less per row.
        j.callHash === null ? nullable(j.argsHash ?? null) : null,
        j.name ?? null,
        j.executor ?? null,
        j.executorJobId ?? null,
        j.image ?? null,
      ]
    }),
  )
  put(
    "tag",
    lastPerKey(batch.tags ?? [], (t) => `${t.executionId}\u0000${t.key}`).map((t) => [t.executionId, t.key, t.value]),
  )
  return rows
}

/** Milliseconds from `from` to `at`, or null without a time. */
function after(at: number | null | undefined, from: number): number | null {
  return at == null ? null : at - from
}

/** Sorts rows by their key columns, so concurrent writers lock rows in one order. */
export function sortByKey(spec: TableSpec, rows: Row[]): Row[] {
  const keyIndexes = spec.key.map((column) => spec.columns.indexOf(column))
  return [...rows].sort((a, b) => {
    for (const i of keyIndexes) {
      const order = compareValues(a[i], b[i])
      if (order !== 0) return order
    }
    return 0
  })
}

/** Byte order for Buffers; hex strings sort the same way, as does any other text. */
function compareValues(x: unknown, y: unknown): number {
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return Buffer.compare(x, y)
  if (typeof x === "number" && typeof y === "number") return x - y
  const [a, b] = [String(x), String(y)]
  return a < b ? -1 : a > b ? 1 : 0
}

/** Splits `items` into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
