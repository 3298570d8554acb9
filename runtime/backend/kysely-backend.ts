/**
 * @module kysely-backend
 * The Backend over SQL, shared by SQLite and Postgres: one schema (see migrations.ts), one set of
 * queries through kysely. What differs per database (connecting, guarding a migration, a faster
 * write path, mapping driver errors) sits behind {@link SqlDialectAdapter}.
 */
import { type CompiledQuery, type Kysely, Migrator, type RawBuilder, sql } from "kysely"
import { isReductioError, ReductioError } from "../errors.js"
import type {
  Backend,
  CachedEvaluation,
  CallRecord,
  CallTree,
  ContentRequest,
  ExecutionQuery,
  ExecutionRecord,
  ExecutionStatus,
  FileUseRecord,
  JobStatus,
  JobView,
  TaskRecord,
  WriteBatch,
} from "./backend.js"
import { knownMigrationNames, migrationProvider } from "./migrations.js"
import type { Database, SqlDialectName } from "./schema.js"
import {
  type BatchRows,
  batchRows,
  bufferToHash,
  chunks,
  hashFromNullable,
  hashToBuffer,
  plainBytes,
  type Row,
  sortByKey,
  TABLES,
  type TableSpec,
  toTime,
  toTimeOrNull,
} from "./sql-rows.js"

/** What one SQL database contributes to a {@link KyselyBackend}. */
export interface SqlDialectAdapter {
  readonly name: SqlDialectName
  /** For messages; never holds a password. */
  readonly description: string
  /** The most bound parameters one statement may carry. */
  readonly maxParameters: number
  /** Connects (and checks the database can be read); fails with a DB_* ReductioError. */
  connect(): Promise<Kysely<Database>>
  /** True when the kysely migration table exists. */
  migrationTableExists(db: Kysely<Database>): Promise<boolean>
  /** Runs the migration step so it applies whole or not at all, excluding other migrators. */
  guardMigration(db: Kysely<Database>, migrate: () => Promise<void>): Promise<void>
  /**
   * Runs a compiled query and returns its rows as arrays in select order, where the driver does
   * that faster than objects (10,000 jobs for `reductio log`); else kysely runs it.
   */
  selectArrays?(query: CompiledQuery): Promise<unknown[][]>
  /** Writes a batch in one transaction, faster than kysely could; else kysely writes. */
  writeBatch?(batch: WriteBatch): void | Promise<void>
  /**
   * Answers a batch of cache lookups without the query builder: `[evalHash, valueHash, bytes,
   * callHash, replayable]` rows (hex hashes). Deep recursions look up one hash at a time, so per-query cost matters.
   */
  lookupEvaluations?(evalHashes: readonly string[]): [string, string, Uint8Array, string | null, number | null][]
  /** Every hash in `hashes` as a condition on a hash column (one parameter where the database allows). */
  hashIn(column: string, hashes: readonly string[]): RawBuilder<boolean>
  /**
   * A hash column as lowercase hex, computed by the database: reading 10,000 jobs then makes no
   * Buffer per hash. A null hash may come back as null or "".
   */
  hex(column: string): RawBuilder<string | null>
  /** A driver error during normal use as a ReductioError (or as it is). */
  translateError(error: unknown): unknown
  /** Releases what `connect` made beyond the kysely instance. */
  close?(): void
}

/** A result row of a file-use lineage query. */
export type FileUseView = FileUseRecord & { taskName: string; executionId: string | null; at: number | null }

const MIGRATION_TABLE = "kysely_migration"

/**
 * A Backend on a SQL database through kysely.
 *
 * @example
 * const backend = new SqliteBackend(".reductio/reductio.db") // a KyselyBackend
 * await backend.open()
 */
export class KyselyBackend implements Backend {
  readonly description: string
  readonly #adapter: SqlDialectAdapter
  #db: Kysely<Database> | undefined

  constructor(adapter: SqlDialectAdapter) {
    this.#adapter = adapter
    this.description = adapter.description
  }

  /** The kysely instance, for tools and tests. */
  get db(): Kysely<Database> {
    if (this.#db === undefined) throw new ReductioError("DB_UNREADABLE", `${this.description} is not open`)
    return this.#db
  }

  async open(): Promise<void> {
    if (this.#db !== undefined) return
    const db = await this.#adapter.connect()
    try {
      await this.#adapter.guardMigration(db, () => this.#migrate(db))
    } catch (error) {
      await db.destroy().catch(() => {})
      this.#adapter.close?.()
      if (isReductioError(error)) throw error
      throw new ReductioError("DB_UNREADABLE", `cannot prepare the schema of ${this.description}: ${messageOf(error)}`, { cause: error })
    }
    this.#db = db
  }

  /** The migrations applied to the database, in order (for `reductio db info`). */
  async appliedMigrations(): Promise<string[]> {
    return appliedMigrationNames(this.db, this.#adapter)
  }

  async #migrate(db: Kysely<Database>): Promise<void> {
    const known = new Set(knownMigrationNames())
    const applied = await appliedMigrationNames(db, this.#adapter)
    const unknown = applied.filter((name) => !known.has(name))
    if (unknown.length > 0) {
      throw new ReductioError(
        "DB_SCHEMA_NEWER",
        `${this.description} was written by a newer reductio (unknown migrations: ${unknown.join(", ")}); upgrade reductio to use it`,
        { details: { unknownMigrations: unknown } },
      )
    }
    // Up to date (the usual case): skip the Migrator and its lock table.
    if (unknown.length === 0 && applied.length === known.size) return
    const { error } = await new Migrator({ db, provider: migrationProvider(this.#adapter.name) }).migrateToLatest()
    if (error !== undefined) throw error
  }

  async close(): Promise<void> {
    const db = this.#db
    this.#db = undefined
    await db?.destroy()
    this.#adapter.close?.()
  }

  async write(batch: WriteBatch): Promise<void> {
    try {
      if (this.#adapter.writeBatch !== undefined) return await this.#adapter.writeBatch(batch)
      const rows = batchRows(batch)
      if (rows.size === 0) return
      await retryConflicts(() => this.db.transaction().execute((trx) => insertRows(trx, rows, this.#adapter.maxParameters)))
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async loadEvaluations(evalHashes: readonly string[]): Promise<Map<string, CachedEvaluation>> {
    const found = new Map<string, CachedEvaluation>()
    if (this.#adapter.lookupEvaluations !== undefined) {
      try {
        for (const [evalHash, valueHash, bytes, callHash, replayable] of this.#adapter.lookupEvaluations(evalHashes)) {
          found.set(evalHash, { valueHash, bytes: plainBytes(bytes), callHash: callHash || null, replayable: replayable === 1 })
        }
      } catch (error) {
        throw this.#adapter.translateError(error)
      }
      return found
    }
    for (const chunk of chunks(evalHashes, this.#adapter.maxParameters)) {
      const rows = await this.db
        .selectFrom("evaluation")
        .innerJoin("value", "value.hash", "evaluation.value_hash")
        .select([
          this.#adapter.hex("evaluation.eval_hash").as("eval_hash"),
          this.#adapter.hex("evaluation.value_hash").as("value_hash"),
          this.#adapter.hex("evaluation.call_hash").as("call_hash"),
          "evaluation.replayable",
          "value.bytes",
        ])
        .where(this.#adapter.hashIn("evaluation.eval_hash", chunk))
        .execute()
      for (const row of rows) {
        if (row.eval_hash !== null && row.value_hash !== null) {
          found.set(row.eval_hash, {
            valueHash: row.value_hash,
            bytes: plainBytes(row.bytes),
            callHash: row.call_hash || null,
            replayable: row.replayable === 1,
          })
        }
      }
    }
    return found
  }

  async getValue(hash: string): Promise<Uint8Array | undefined> {
    const row = await this.db.selectFrom("value").select("bytes").where("hash", "=", hashToBuffer(hash)).executeTakeFirst()
    return row === undefined ? undefined : plainBytes(row.bytes)
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<ExecutionRecord[]> {
    let select = this.db.selectFrom("execution").selectAll().orderBy("id", "desc")
    if (query.tag !== undefined) {
      const [key, value] = splitTag(query.tag)
      select = select.where((eb) =>
        eb.exists(
          eb
            .selectFrom("tag")
            .select("tag.key")
            .whereRef("tag.execution_id", "=", "execution.id")
            .where("tag.key", "=", key)
            .$if(value !== undefined, (q) => q.where("tag.value", "=", value ?? "")),
        ),
      )
    }
    if (query.limit !== undefined) select = select.limit(query.limit)
    return (await select.execute()).map(toExecution)
  }

  async getExecution(idOrPrefix: string): Promise<ExecutionRecord | undefined> {
    const exact = await this.db.selectFrom("execution").selectAll().where("id", "=", idOrPrefix).executeTakeFirst()
    if (exact !== undefined) return toExecution(exact)
    if (idOrPrefix === "") return undefined
    const matches = await this.db
      .selectFrom("execution")
      .selectAll()
      .where(sql<string>`substr(${sql.ref("id")}, 1, ${sql.lit(idOrPrefix.length)})`, "=", idOrPrefix)
      .limit(2)
      .execute()
    return matches.length === 1 && matches[0] !== undefined ? toExecution(matches[0]) : undefined
  }

  async listJobs(executionId: string): Promise<JobView[]> {
    const hex = (column: string) => this.#adapter.hex(column)
    const query = this.db
      .selectFrom("job")
      .select([
        "seq",
        "parent_seq",
        hex("task_hash").as("task_hash"),
        hex("eval_hash").as("eval_hash"),
        hex("call_hash").as("call_hash"),
        "status",
        "cached",
        "started_at",
        "ended_at",
        "error",
        "reused_calls",
      ])
      .where("execution_id", "=", executionId)
      .orderBy("seq")
    type JobTuple = [
      number,
      number | null,
      string,
      string,
      string | null,
      string,
      number,
      number | string,
      number | string | null,
      string | null,
      number | null,
    ]
    const rows = (
      this.#adapter.selectArrays === undefined
        ? (await query.execute()).map((row) => Object.values(row))
        : await this.#adapter.selectArrays(query.compile())
    ) as JobTuple[]
    // A few distinct tasks: their names in one small query rather than a join on every row.
    const taskNames = await this.#taskNames(new Set(rows.map((row) => row[2])))
    return rows.map(([seq, parentSeq, taskHash, evalHash, callHash, status, cached, startedAt, endedAt, error, reusedCalls]) => ({
      executionId,
      seq,
      parentSeq,
      taskHash,
      evalHash,
      callHash: callHash || null,
      status: status as JobStatus,
      cached: cached !== 0,
      startedAt: toTime(startedAt),
      endedAt: toTimeOrNull(endedAt),
      error,
      ...(reusedCalls === null ? {} : { reusedCalls: Number(reusedCalls) }),
      taskName: taskNames.get(taskHash) ?? "?",
    }))
  }

  async #taskNames(hashes: ReadonlySet<string>): Promise<Map<string, string>> {
    const names = new Map<string, string>()
    const valid = [...hashes].filter((hash) => hash.length === 64)
    const rows = await this.#chunked(valid, (chunk) =>
      this.db.selectFrom("task").select(["hash", "name"]).where("hash", "in", chunk).execute(),
    )
    for (const row of rows) names.set(bufferToHash(row.hash), row.name)
    return names
  }

  async getTask(hash: string): Promise<TaskRecord | undefined> {
    const row = await this.db.selectFrom("task").selectAll().where("hash", "=", hashToBuffer(hash)).executeTakeFirst()
    return row === undefined ? undefined : { hash, name: row.name, source: row.source, version: row.version }
  }

  async loadCallTree(callHash: string): Promise<CallTree | undefined> {
    const hex = (column: string) => this.#adapter.hex(column)
    const root = hashToBuffer(callHash)
    try {
      const node = await this.db
        .selectFrom("call_node")
        .innerJoin("value", "value.hash", "call_node.value_hash")
        .select([hex("call_node.value_hash").as("value_hash"), "value.bytes"])
        .where("call_node.call_hash", "=", root)
        .executeTakeFirst()
      if (node?.value_hash == null) return undefined
      // UNION (not UNION ALL) visits a call shared by several parents once.
      const { rows } = await sql<{ task_hash: string | null; calls: number | string }>`
        with recursive tree(hash) as (
          select child_hash from call_edge where parent_hash = ${root}
          union
          select e.child_hash from call_edge e join tree t on e.parent_hash = t.hash
        )
        select ${hex("c.task_hash")} as task_hash, count(*) as calls
        from tree t left join call_node c on c.call_hash = t.hash
        group by c.task_hash`.execute(this.db)
      const callsByTask = new Map<string, number>()
      for (const row of rows) {
        // A child without its node (a partial copy) cannot be checked: no replay.
        if (!row.task_hash) return undefined
        callsByTask.set(row.task_hash, Number(row.calls))
      }
      return { valueHash: node.value_hash, bytes: plainBytes(node.bytes), callsByTask }
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async getCall(callHash: string): Promise<CallRecord | undefined> {
    const [call] = await this.#readCalls([callHash])
    return call
  }

  async fileUses(path: string): Promise<FileUseView[]> {
    const rows = await this.db
      .selectFrom("file_use")
      .leftJoin("call_node", "call_node.call_hash", "file_use.call_hash")
      .leftJoin("task", "task.hash", "call_node.task_hash")
      .select([
        "file_use.path",
        "file_use.role",
        "file_use.call_hash",
        "file_use.file_hash",
        "file_use.execution_id",
        "file_use.started_at",
        "task.name",
      ])
      .where("file_use.path", "=", path)
      .execute()
    return rows
      .map((row) => ({
        path: row.path,
        role: row.role as FileUseRecord["role"],
        callHash: bufferToHash(row.call_hash),
        fileHash: bufferToHash(row.file_hash),
        taskName: row.name ?? "?",
        executionId: row.execution_id,
        at: toTimeOrNull(row.started_at),
      }))
      .sort((a, b) => (b.at ?? -1) - (a.at ?? -1))
  }

  async getTags(executionId: string): Promise<Record<string, string>> {
    const rows = await this.db.selectFrom("tag").select(["key", "value"]).where("execution_id", "=", executionId).orderBy("key").execute()
    return Object.fromEntries(rows.map((row) => [row.key, row.value]))
  }

  async removeTags(executionId: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.db
      .deleteFrom("tag")
      .where("execution_id", "=", executionId)
      .where("key", "in", [...keys])
      .execute()
  }

  async readContent(request: ContentRequest): Promise<WriteBatch> {
    const [tasks, values, evaluations, calls, files] = [
      await this.#chunked(request.tasks, (hashes) => this.db.selectFrom("task").selectAll().where("hash", "in", hashes).execute()),
      await this.#chunked(request.values, (hashes) => this.db.selectFrom("value").selectAll().where("hash", "in", hashes).execute()),
      await this.#chunked(request.evaluations, (hashes) =>
        this.db.selectFrom("evaluation").selectAll().where("eval_hash", "in", hashes).execute(),
      ),
      await this.#readCalls(request.calls ?? []),
      await this.#chunked(request.filesOfCalls, (hashes) =>
        this.db.selectFrom("file_use").selectAll().where("call_hash", "in", hashes).execute(),
      ),
    ]
    return {
      tasks: tasks.map((t) => ({ hash: bufferToHash(t.hash), name: t.name, source: t.source, version: t.version })),
      values: values.map((v) => ({ hash: bufferToHash(v.hash), bytes: plainBytes(v.bytes) })),
      // Copied without their call hash: the target records the call again on its next rerun.
      evaluations: evaluations.map((e) => ({ evalHash: bufferToHash(e.eval_hash), valueHash: bufferToHash(e.value_hash) })),
      calls,
      files: files.map((f) => ({
        path: f.path,
        role: f.role as FileUseRecord["role"],
        callHash: bufferToHash(f.call_hash),
        fileHash: bufferToHash(f.file_hash),
        ...(f.execution_id === null ? {} : { executionId: f.execution_id, at: toTimeOrNull(f.started_at) }),
      })),
    }
  }

  async #readCalls(callHashes: readonly string[]): Promise<CallRecord[]> {
    const nodes = await this.#chunked(callHashes, (hashes) =>
      this.db.selectFrom("call_node").selectAll().where("call_hash", "in", hashes).execute(),
    )
    const edges = await this.#chunked(callHashes, (hashes) =>
      this.db.selectFrom("call_edge").selectAll().where("parent_hash", "in", hashes).execute(),
    )
    const children = new Map<string, string[]>()
    for (const edge of edges.sort((a, b) => a.position - b.position)) {
      const parent = bufferToHash(edge.parent_hash)
      let list = children.get(parent)
      if (list === undefined) children.set(parent, (list = []))
      list.push(bufferToHash(edge.child_hash))
    }
    return nodes.map((node) => {
      const callHash = bufferToHash(node.call_hash)
      return {
        callHash,
        taskHash: bufferToHash(node.task_hash),
        argsHash: bufferToHash(node.args_hash),
        valueHash: bufferToHash(node.value_hash),
        children: children.get(callHash) ?? [],
      }
    })
  }

  async #chunked<T>(hashes: readonly string[] | undefined, query: (chunk: Buffer[]) => Promise<T[]>): Promise<T[]> {
    const out: T[] = []
    for (const chunk of chunks([...new Set(hashes ?? [])], this.#adapter.maxParameters)) out.push(...(await query(chunk.map(hashToBuffer))))
    return out
  }
}

/** Splits `key=value` (or a bare `key`). */
export function splitTag(tag: string): [string, string | undefined] {
  const at = tag.indexOf("=")
  return at < 0 ? [tag, undefined] : [tag.slice(0, at), tag.slice(at + 1)]
}

async function appliedMigrationNames(db: Kysely<Database>, adapter: SqlDialectAdapter): Promise<string[]> {
  if (!(await adapter.migrationTableExists(db))) return []
  const result = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db)
  return result.rows.map((row) => row.name)
}

/** Multi-row inserts per table, in the fixed table order, rows sorted by key, chunked by parameters. */
async function insertRows(db: Kysely<Database>, rows: BatchRows, maxParameters: number): Promise<void> {
  for (const spec of TABLES) {
    const tableRows = rows.get(spec.table)
    if (tableRows === undefined) continue
    for (const chunk of chunks(sortByKey(spec, tableRows), Math.floor(maxParameters / spec.columns.length))) {
      await insertStatement(spec, chunk).execute(db)
    }
  }
}

function insertStatement(spec: TableSpec, rows: Row[]) {
  const columns = sql.join(spec.columns.map((column) => sql.ref(column)))
  const values = sql.join(rows.map((row) => sql`(${sql.join(row)})`))
  return sql`insert into ${sql.table(spec.table)} (${columns}) values ${values} ${conflictClause(spec)}`
}

/** The ON CONFLICT clause of a table, as SQL text (shared with the SQLite fast path). */
export function conflictSql(spec: TableSpec): string {
  if (!spec.upsert) return "on conflict do nothing"
  const updates = spec.columns.filter((column) => !spec.key.includes(column)).map((column) => `"${column}" = excluded."${column}"`)
  return `on conflict (${spec.key.map((column) => `"${column}"`).join(", ")}) do update set ${updates.join(", ")}`
}

function conflictClause(spec: TableSpec) {
  return sql.raw(conflictSql(spec))
}

/** Postgres may still report a deadlock or serialization failure under load: retry a few times. */
export async function retryConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (attempt >= 5 || (code !== "40P01" && code !== "40001")) throw error
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt * Math.random()))
    }
  }
}

function toExecution(row: {
  id: string
  started_at: number | string
  ended_at: number | string | null
  status: string
  command: string
  root_call_hash: Buffer | null
  error: string | null
}): ExecutionRecord {
  return {
    id: row.id,
    startedAt: toTime(row.started_at),
    endedAt: toTimeOrNull(row.ended_at),
    status: row.status as ExecutionStatus,
    command: row.command,
    rootCallHash: hashFromNullable(row.root_call_hash),
    error: row.error,
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
