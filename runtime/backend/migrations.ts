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
    "0007_job_executor": { up: (db) => jobExecutor(db) },
    "0009_job_executor_ids": { up: (db) => jobExecutorIds(db) },
    "0010_compact_rows": { up: (db) => compactRows(db, dialect) },
    "0011_packed_children": { up: (db) => packedChildren(db, dialect) },
    "0012_call_bytes": { up: (db) => callBytes(db, dialect) },
    "0013_job_time_offsets": { up: (db) => jobTimeOffsets(db) },
    "0014_call_value_hash": { up: (db) => callValueHash(db, dialect) },
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
 * Where a job's body ran: `executor` is the configured executor it was submitted to, for the UI
 * and `log` (its own id for the job is 0009's `executor_job_id`). Null on rows from before, and for
 * jobs no executor saw (cached, cancelled before they started).
 */
async function jobExecutor(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("job").addColumn("executor", "text").execute()
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

/**
 * Fewer bytes per call (a trivial call took 793 bytes of SQLite, a third of them hashes stored
 * twice). `small_value` holds values of at most {@link SMALL_VALUE_BYTES} bytes in one b-tree
 * keyed by hash (WITHOUT ROWID in SQLite: the hash is stored once, not in a table and its
 * autoindex); larger values stay in `value`, a rowid table, where a lookup never reads the bytes
 * of a row it passes (in an index b-tree, a 10 MB row makes every probe that meets it read 10 MB).
 * Readers look in both, so values written before stay where they are.
 *
 * `evaluation.value_hash` is null when the evaluation's value is its call node's, and a finished
 * job's `task_hash` is null (its call node's), as is its `eval_hash` when it is the one
 * {@link evalHashOf} derives from the call node's task and args hashes (a call that reads no
 * context). Rows from before keep their hashes; readers take a stored hash first. SQLite cannot
 * drop a NOT NULL, so it copies those two tables into new ones.
 */
async function compactRows(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const hash = dialect === "sqlite" ? "blob" : "bytea"
  await db.schema
    .createTable("small_value")
    .addColumn("hash", hash, (c) => c.primaryKey())
    .addColumn("bytes", hash, (c) => c.notNull())
    .modifyEnd(dialect === "sqlite" ? sql`without rowid` : sql``)
    .execute()
  if (dialect === "postgres") {
    await db.schema
      .alterTable("evaluation")
      .alterColumn("value_hash", (c) => c.dropNotNull())
      .execute()
    await db.schema
      .alterTable("job")
      .alterColumn("task_hash", (c) => c.dropNotNull())
      .execute()
    await db.schema
      .alterTable("job")
      .alterColumn("eval_hash", (c) => c.dropNotNull())
      .execute()
    return
  }
  await sql`create table evaluation_0010 (
    eval_hash blob primary key, value_hash blob, call_hash blob, replayable integer
  ) without rowid`.execute(db)
  await sql`insert into evaluation_0010 select eval_hash, value_hash, call_hash, replayable from evaluation`.execute(db)
  await sql`drop table evaluation`.execute(db)
  await sql`alter table evaluation_0010 rename to evaluation`.execute(db)
  await sql`create table job_0010 (
    execution_id text not null, seq integer not null, parent_seq integer, task_hash blob, eval_hash blob,
    call_hash blob, status text not null, cached integer not null, created_at integer not null, ended_at integer,
    error text, reused_calls integer, started_at integer, body_ended_at integer, args_hash blob, name text,
    executor text, executor_job_id text, image text,
    constraint job_pk primary key (execution_id, seq)
  ) without rowid`.execute(db)
  await sql`insert into job_0010 select execution_id, seq, parent_seq, task_hash, eval_hash, call_hash, status, cached,
    created_at, ended_at, error, reused_calls, started_at, body_ended_at, args_hash, name, executor, executor_job_id, image
    from job`.execute(db)
  await sql`drop table job`.execute(db)
  await sql`alter table job_0010 rename to job`.execute(db)
}

/**
 * A call's children packed {@link CHILDREN_PER_ROW} to a row: `call_children.children` holds the
 * 32-byte hashes of the children at `position` to `position + length / 32 - 1`, one after another.
 * One row per child (`call_edge`) stored the parent's hash again with each and took 84 bytes of
 * SQLite per child, more than any other table of a fan-out; packed, a child takes about 35, and a
 * 100,000-call fan-out writes 2,500 rows for its edges, not 100,000. The rows are about 1.3 KB:
 * a rowid table in SQLite (three to a page; WITHOUT ROWID suits small rows), and under the size at
 * which Postgres moves a row out of line. Edges already recorded are packed the same way, a page of
 * them at a time.
 */
async function packedChildren(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const hash = dialect === "sqlite" ? "blob" : "bytea"
  await db.schema
    .createTable("call_children")
    .addColumn("parent_hash", hash, (c) => c.notNull())
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("children", hash, (c) => c.notNull())
    .addPrimaryKeyConstraint("call_children_pk", ["parent_hash", "position"])
    .execute()
  type Edge = { parent_hash: Uint8Array; position: number; child_hash: Uint8Array }
  const edges = db as unknown as Kysely<{
    call_edge: Edge
    call_children: { parent_hash: Uint8Array; position: number; children: Uint8Array }
  }>
  // Keyset pages in key order: a parent's edges arrive in position order, and a parent cut by a
  // page boundary carries on in the next page (its last row is written only once it is complete).
  let after: Edge | undefined
  let open: { parent: Buffer; position: number; children: Uint8Array[] } | undefined
  const flush = async () => {
    if (open === undefined) return
    const row = { parent_hash: open.parent, position: open.position, children: Buffer.concat(open.children) }
    open = undefined
    await edges.insertInto("call_children").values(row).execute()
  }
  for (;;) {
    let query = edges.selectFrom("call_edge").selectAll().orderBy("parent_hash").orderBy("position").limit(MIGRATION_PAGE)
    if (after !== undefined) {
      const { parent_hash, position } = after
      query = query.where((eb) =>
        eb.or([eb("parent_hash", ">", parent_hash), eb.and([eb("parent_hash", "=", parent_hash), eb("position", ">", position)])]),
      )
    }
    const page = await query.execute()
    for (const edge of page) {
      const parent = Buffer.from(edge.parent_hash)
      // A new row at each new parent, every CHILDREN_PER_ROW positions (as a write packs them),
      // and at a gap in the positions (so each child keeps its own).
      let row = open
      if (
        row === undefined ||
        !row.parent.equals(parent) ||
        edge.position !== row.position + row.children.length ||
        edge.position % CHILDREN_PER_ROW === 0
      ) {
        await flush()
        row = open = { parent, position: edge.position, children: [] }
      }
      row.children.push(edge.child_hash)
    }
    if (page.length < MIGRATION_PAGE) break
    after = page[page.length - 1]
  }
  await flush()
  await db.schema.dropTable("call_edge").execute()
}

/**
 * A call's arguments and value of at most CALL_VALUE_BYTES (backend.ts) each are kept in its own
 * `call_node` row (`args_bytes`, `value_bytes`) instead of in `small_value` under their hashes: a
 * trivial call's took two `small_value` rows of about 47 bytes of SQLite each (the hash again,
 * and a row) and two more inserts. One that some other row names by hash (an evaluation's own
 * value, the arguments of a job without a call) is still stored under it. Rows from before keep
 * their values where they are; readers take the node's bytes first.
 */
async function callBytes(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  const bytes = dialect === "sqlite" ? "blob" : "bytea"
  await db.schema.alterTable("call_node").addColumn("args_bytes", bytes).execute()
  await db.schema.alterTable("call_node").addColumn("value_bytes", bytes).execute()
}

/**
 * A job's `started_at`, `body_ended_at` and `ended_at` are milliseconds after its `created_at`,
 * not since the epoch: SQLite stores an integer in as few bytes as it needs, so a fan-out's job
 * times take one or two bytes each, not six (about 19 bytes of SQLite less per job). Postgres's bigint is
 * eight bytes either way; both keep one meaning for the columns.
 */
async function jobTimeOffsets(db: Kysely<unknown>): Promise<void> {
  await sql`update job set started_at = started_at - created_at, body_ended_at = body_ended_at - created_at,
    ended_at = ended_at - created_at`.execute(db)
}

/**
 * `call_node.value_hash` may be null when the row holds the value's bytes (`value_bytes`): the
 * hash is that of the bytes (`valueHashOf`, hashing.ts), which readers compute (under half a microsecond
 * a value), so a trivial call's node is 33 bytes smaller. A call that may hold a File keeps it: a
 * call tree names the values to check by hash without reading them. SQLite cannot drop a NOT NULL,
 * so it copies the table, as 0010 copied two; rows from before keep their hashes.
 */
async function callValueHash(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  if (dialect === "postgres") {
    await db.schema
      .alterTable("call_node")
      .alterColumn("value_hash", (c) => c.dropNotNull())
      .execute()
    return
  }
  await sql`create table call_node_0014 (
    call_hash blob primary key, task_hash blob not null, args_hash blob not null, value_hash blob, checked integer,
    args_bytes blob, value_bytes blob
  ) without rowid`.execute(db)
  await sql`insert into call_node_0014 select call_hash, task_hash, args_hash, value_hash, checked, args_bytes, value_bytes
    from call_node`.execute(db)
  await sql`drop table call_node`.execute(db)
  await sql`alter table call_node_0014 rename to call_node`.execute(db)
}

/** Edges read per query while {@link packedChildren} packs those already recorded. */
const MIGRATION_PAGE = 10_000

/**
 * Children per `call_children` row: 40 hashes are 1,280 bytes, so a row stays under Postgres's
 * 2 KB out-of-line threshold and three fit a 4 KiB SQLite page.
 */
export const CHILDREN_PER_ROW = 40

/**
 * The largest value `small_value` holds: SQLite advises rows of a WITHOUT ROWID table under a
 * twentieth of a page (204 bytes of a 4 KiB page); a trivial call's args and result take 5 to 30.
 */
export const SMALL_VALUE_BYTES = 200
