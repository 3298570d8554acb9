/**
 * @module schema
 * The tables of the SQL backends, as kysely types. Hashes are stored as 32 raw bytes (BLOB in
 * SQLite, bytea in Postgres) and converted to and from lowercase hex only at the backend boundary;
 * times are integer milliseconds since the epoch (bigint in Postgres, which the driver returns as a
 * string, so reads go through `Number`).
 */
import type { ColumnType } from "kysely"

/** 32 raw bytes of a SHA-256 hash. */
export type HashColumn = Buffer
/** Milliseconds since the epoch: a number in, a number (SQLite) or a string (Postgres bigint) out. */
export type TimeColumn = ColumnType<number | string, number, number>

export interface ExecutionTable {
  id: string
  started_at: TimeColumn
  ended_at: TimeColumn | null
  status: string
  command: string
  root_call_hash: HashColumn | null
  error: string | null
  /** While RUNNING: until when its host vouches for it (migration 0005); null before. */
  lease_expires_at: TimeColumn | null
  /** 1: takes call leases; 0: alone so far, takes them once another run appears; null: takes none. */
  call_leases: number | null
}

export interface JobTable {
  execution_id: string
  seq: number
  parent_seq: number | null
  /** Null on a finished job (migration 0010): its call node's. */
  task_hash: HashColumn | null
  /** Null on a finished job whose eval hash derives from its call node's task and args hashes (0010). */
  eval_hash: HashColumn | null
  call_hash: HashColumn | null
  status: string
  /** 0 or 1 (one integer type in both dialects). */
  cached: number
  /** When the job was created (named started_at before migration 0006). */
  created_at: TimeColumn
  /** Milliseconds after created_at, as are started_at and body_ended_at (migration 0013). */
  ended_at: TimeColumn | null
  error: string | null
  /** How many recorded calls below this job it reused whole (call replay), else null. */
  reused_calls: number | null
  /** When its body started and ended on its executor, after created_at; null when no body ran (see migration 0006). */
  started_at: TimeColumn | null
  body_ended_at: TimeColumn | null
  /** Only while call_hash is null (a failed, cancelled or live job): a finished job's is its call node's. */
  args_hash: HashColumn | null
  /** The call site's name for the call (a script's `name`), else null. */
  name: string | null
  /** The configured executor the body was submitted to (see migration 0007). */
  executor: string | null
  /** The executor's id for the job (an AWS Batch job id) and the image it ran, by digest (migration 0009). */
  executor_job_id: string | null
  image: string | null
}

export interface TaskTable {
  hash: HashColumn
  name: string
  source: string
  version: string | null
}

/** Values larger than SMALL_VALUE_BYTES (and every value written before migration 0010). */
export interface ValueTable {
  hash: HashColumn
  bytes: Buffer
}

/** Values of at most SMALL_VALUE_BYTES bytes, keyed by hash alone (migration 0010). */
export interface SmallValueTable {
  hash: HashColumn
  bytes: Buffer
}

export interface EvaluationTable {
  eval_hash: HashColumn
  /** Null when the value is the call node's under call_hash (migration 0010). */
  value_hash: HashColumn | null
  call_hash: HashColumn | null
  /** 1 when the call tree under call_hash can be reused whole (0 or null: it cannot). */
  replayable: number | null
}

export interface CallNodeTable {
  call_hash: HashColumn
  task_hash: HashColumn
  args_hash: HashColumn
  /**
   * Null when `value_bytes` holds the value and the call holds no File (migration 0014): the hash
   * is that of the bytes (valueHashOf).
   */
  value_hash: HashColumn | null
  /** 1 when the value holds something checked before reuse (a File), 0 when not, null: unknown. */
  checked: number | null
  /** The arguments' bytes when at most CALL_VALUE_BYTES (backend.ts; migration 0012), else null. */
  args_bytes: Buffer | null
  /**
   * The value's bytes when at most CALL_VALUE_BYTES (backend.ts; migration 0012), else null: then it is in
   * `small_value` or `value` under `value_hash` (as every value from before).
   */
  value_bytes: Buffer | null
}

/** A call's children, up to CHILDREN_PER_ROW to a row (migration 0011; one per row before, in `call_edge`). */
export interface CallChildrenTable {
  parent_hash: HashColumn
  /** The position among the parent's children of the first hash in `children`. */
  position: number
  /** The children's 32-byte hashes, one after another, in position order. */
  children: Buffer
}

export interface FileUseTable {
  path: string
  role: string
  call_hash: HashColumn
  file_hash: HashColumn
  /** The execution and start time of the job that first recorded the use (see migration 0002). */
  execution_id: string | null
  started_at: TimeColumn | null
}

export interface TagTable {
  execution_id: string
  key: string
  value: string
}

/** Who runs a call right now, across hosts (migration 0005): one row per leased eval hash. */
export interface CallLeaseTable {
  eval_hash: HashColumn
  /** The execution holding the lease. */
  holder: string
  expires_at: TimeColumn
  /** The holder whose expired lease this one took over, if any. */
  taken_from: string | null
}

/** Every table of the schema, as the latest migration leaves it. */
export interface Database {
  execution: ExecutionTable
  job: JobTable
  task: TaskTable
  value: ValueTable
  small_value: SmallValueTable
  evaluation: EvaluationTable
  call_node: CallNodeTable
  call_children: CallChildrenTable
  file_use: FileUseTable
  tag: TagTable
  call_lease: CallLeaseTable
}

/** The SQL dialects the kysely backends speak. */
export type SqlDialectName = "sqlite" | "postgres"
