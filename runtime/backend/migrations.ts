/**
 * @module migrations
 * The schema as code, for kysely's Migrator with a static provider (no migration files to find at
 * run time, so it works from a bundle). Migrations are append-only: a released one never changes;
 * a database holding a migration name this list lacks was written by a newer reductio.
 *
 * Column types depend on the dialect: hashes are BLOB (SQLite) / bytea (Postgres), times INTEGER /
 * bigint. In SQLite the hash-keyed tables are WITHOUT ROWID, so the key is stored once (no
 * separate rowid and primary-key index), which keeps a trivial job under 1 KB of database.
 */
import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely"
import type { SqlDialectName } from "./schema.js"

/** Builds the migrations for a dialect, keyed by name; names sort in the order they apply. */
export function migrationsFor(dialect: SqlDialectName): Record<string, Migration> {
  return {
    "0001_initial": { up: (db) => initialSchema(db, dialect) },
    "0002_file_use_origin": { up: (db) => fileUseOrigin(db, dialect) },
    "0003_evaluation_call": { up: (db) => evaluationCall(db, dialect) },
    "0004_call_replay": { up: (db) => callReplay(db) },
    "0005_execution_heartbeat_leases": { up: (db) => executionHeartbeatLeases(db, dialect) },
    "0006_job_times": { up: (db) => jobTimes(db, dialect) },
    "0009_job_executor_ids": { up: (db) => jobExecutorIds(db) },
  }
}

/** The migration names this version of reductio knows. */
export function knownMigrationNames(): readonly string[] {
  return Object.keys(migrationsFor("sqlite"))
}

/** A kysely MigrationProvider over {@link migrationsFor}. */
export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return { getMigrations: async () => migrationsFor(dialect) }
}

async function initialSchema(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const hash = dialect === "sqlite" ? "blob" : "bytea"
  const bytes = hash
  const time = dialect === "sqlite" ? "integer" : "bigint"
  // SQLite stores a WITHOUT ROWID table as one b-tree keyed by its primary key.
  const compact = dialect === "sqlite" ? sql`without rowid` : sql``

  await db.schema
    .createTable("execution")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("started_at", time, (c) => c.notNull())
    .addColumn("ended_at", time)
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("command", "text", (c) => c.notNull())
    .addColumn("root_call_hash", hash)
    .addColumn("error", "text")
    .execute()

  await db.schema
    .createTable("job")
    .addColumn("execution_id", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("parent_seq", "integer")
    .addColumn("task_hash", hash, (c) => c.notNull())
    .addColumn("eval_hash", hash, (c) => c.notNull())
    .addColumn("call_hash", hash)
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("cached", "integer", (c) => c.notNull())
    .addColumn("started_at", time, (c) => c.notNull())
    .addColumn("ended_at", time)
    .addColumn("error", "text")
    .addPrimaryKeyConstraint("job_pk", ["execution_id", "seq"])
    .modifyEnd(compact)
    .execute()
  // Lineage: which job (execution, time) made a call.
  await db.schema.createIndex("job_call_hash").on("job").column("call_hash").execute()

  await db.schema
    .createTable("task")
    .addColumn("hash", hash, (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("version", "text")
    .execute()

  // A rowid table: values may be large, and WITHOUT ROWID suits only small rows.
  await db.schema
    .createTable("value")
    .addColumn("hash", hash, (c) => c.primaryKey())
    .addColumn("bytes", bytes, (c) => c.notNull())
    .execute()

  await db.schema
    .createTable("evaluation")
    .addColumn("eval_hash", hash, (c) => c.primaryKey())
    .addColumn("value_hash", hash, (c) => c.notNull())
    .modifyEnd(compact)
    .execute()

  await db.schema
    .createTable("call_node")
    .addColumn("call_hash", hash, (c) => c.primaryKey())
    .addColumn("task_hash", hash, (c) => c.notNull())
    .addColumn("args_hash", hash, (c) => c.notNull())
    .addColumn("value_hash", hash, (c) => c.notNull())
    .modifyEnd(compact)
    .execute()

  await db.schema
    .createTable("call_edge")
    .addColumn("parent_hash", hash, (c) => c.notNull())
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("child_hash", hash, (c) => c.notNull())
    .addPrimaryKeyConstraint("call_edge_pk", ["parent_hash", "position"])
    .modifyEnd(compact)
    .execute()

  await db.schema
    .createTable("file_use")
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("call_hash", hash, (c) => c.notNull())
    .addColumn("file_hash", hash, (c) => c.notNull())
    .addPrimaryKeyConstraint("file_use_pk", ["path", "call_hash", "role", "file_hash"])
    .modifyEnd(compact)
    .execute()

  await db.schema
    .createTable("tag")
    .addColumn("execution_id", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("value", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("tag_pk", ["execution_id", "key"])
    .modifyEnd(compact)
    .execute()
}

/** The call hash an evaluation reduced to: cached reruns skip rewriting that call's node and edges. */
async function evaluationCall(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  await db.schema
    .alterTable("evaluation")
    .addColumn("call_hash", dialect === "sqlite" ? "blob" : "bytea")
    .execute()
}

/**
 * Lineage without an index on job(call_hash): a file use carries the execution and start time of
 * the job that first recorded it, so writing 10,000 jobs no longer maintains a random-order index
 * (about a sixth of the pages each batch dirtied) for a query that runs only on `reductio log --file`.
 */
async function fileUseOrigin(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const time = dialect === "sqlite" ? "integer" : "bigint"
  await db.schema.alterTable("file_use").addColumn("execution_id", "text").execute()
  await db.schema.alterTable("file_use").addColumn("started_at", time).execute()
  await sql`
    update file_use set (execution_id, started_at) = (
      select job.execution_id, job.started_at from job
      where job.call_hash = file_use.call_hash
      order by job.started_at, job.execution_id, job.seq
      limit 1
    )`.execute(db)
  await db.schema.dropIndex("job_call_hash").execute()
}

/**
 * Call replay: `evaluation.replayable` is 1 when the whole call tree the evaluation reduced to can
 * be reused as it was recorded (no call in it skips the cache or recovered from an error), so a
 * cached rerun takes the tree's final value without visiting its calls; `call_node.checked` is 1
 * when a call's value holds something a replay must check first (a File), 0 when it holds nothing
 * of the kind; `job.reused_calls` counts the recorded calls a job reused. Rows from before stay
 * NULL: an evaluation reads as not replayable until a rerun records it again, and a call node as
 * possibly holding Files (a replay decodes and checks its value).
 */
async function callReplay(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("evaluation").addColumn("replayable", "integer").execute()
  await db.schema.alterTable("call_node").addColumn("checked", "integer").execute()
  await db.schema.alterTable("job").addColumn("reused_calls", "integer").execute()
}

/**
 * Killed hosts and overlapping runs: `execution.lease_expires_at` is how long a RUNNING
 * execution's host vouches for it (renewed every heartbeat; past it the execution is ABANDONED),
 * indexed only over RUNNING rows; `execution.call_leases` whether it takes call leases (1), will
 * once another run appears (0, running alone), or takes none (null); `call_lease` holds, per eval hash, the execution running that
 * call and until when (and whom it took the call over from), so another host waits for the result
 * instead of running it too. Rows from
 * before have no lease (see LEGACY_EXECUTION_LEASE_MS).
 */
async function executionHeartbeatLeases(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const time = dialect === "sqlite" ? "integer" : "bigint"
  await db.schema.alterTable("execution").addColumn("lease_expires_at", time).execute()
  await db.schema.alterTable("execution").addColumn("call_leases", "integer").execute()
  await sql`create index execution_running on execution (lease_expires_at) where status = 'RUNNING'`.execute(db)
  await db.schema
    .createTable("call_lease")
    .addColumn("eval_hash", dialect === "sqlite" ? "blob" : "bytea", (c) => c.primaryKey())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("expires_at", time, (c) => c.notNull())
    // The holder it was taken over from, when its lease had expired (what the taker reports).
    .addColumn("taken_from", "text")
    .modifyEnd(dialect === "sqlite" ? sql`without rowid` : sql``)
    .execute()
}

/**
 * A job's own times: the column that held when the job was created is renamed `created_at`, and
 * `started_at` / `body_ended_at` say when its body ran on its executor (null when no body ran; on
 * rows from before: unknown). `args_hash` names the arguments of a job with no call hash (failed,
 * cancelled or still running: a finished job's are its call node's), `name` a call site's name for
 * the call. A rename, not a copy: no row is rewritten.
 */
async function jobTimes(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const time = dialect === "sqlite" ? "integer" : "bigint"
  await db.schema.alterTable("job").renameColumn("started_at", "created_at").execute()
  await db.schema.alterTable("job").addColumn("started_at", time).execute()
  await db.schema.alterTable("job").addColumn("body_ended_at", time).execute()
  await db.schema
    .alterTable("job")
    .addColumn("args_hash", dialect === "sqlite" ? "blob" : "bytea")
    .execute()
  await db.schema.alterTable("job").addColumn("name", "text").execute()
}

/**
 * Where a job ran: `executor_job_id` is the executor's own id for it (an AWS Batch job id, or
 * `<array parent id>:<index>` for an array child), `image` the container image it ran, pinned by
 * digest (`repo@sha256:…`). Null for jobs of executors without either, and on rows from before.
 */
async function jobExecutorIds(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("job").addColumn("executor_job_id", "text").execute()
  await db.schema.alterTable("job").addColumn("image", "text").execute()
}
