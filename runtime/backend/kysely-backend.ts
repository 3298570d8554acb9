/**
 * @module kysely-backend
 * The Backend over SQL, shared by SQLite and Postgres: one schema (see migrations.ts), one set of
 * queries through kysely. What differs per database (connecting, guarding a migration, a faster
 * write path, mapping driver errors) sits behind {@link SqlDialectAdapter}.
 */
import { type Kysely, Migrator, sql } from "kysely"
import { isReductioError, ReductioError } from "../errors.js"
import type {
  Backend,
  CachedEvaluation,
  CallRecord,
  CallTree,
  ContentRequest,
  ExpectedCall,
  ExecutionQuery,
  ExecutionRecord,
  ExecutionStatus,
  ExecutionView,
  FileUseRecord,
  JobCounts,
  JobParent,
  JobQuery,
  JobView,
  LeaseClaim,
  LeaseClaims,
  TaskRecord,
  WriteBatch,
} from "./backend.js"
import { evaluationValue, findValues, loadCallTree, readCalls, readContent, valueBytes } from "./kysely-call-graph.js"
import { abandonStaleExecutions, applyLeaseUpdate } from "./kysely-leases.js"
import { countJobs, findJobs, tasksNamed } from "./kysely-job-queries.js"
import type { SqlDialectAdapter } from "./sql-dialect-adapter.js"
import { knownMigrationNames, migrationProvider } from "./migrations.js"
import type { Database } from "./schema.js"
import {
  type BatchRows,
  batchRows,
  bufferToHash,
  checkHash,
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

export type { SqlDialectAdapter } from "./sql-dialect-adapter.js"

/** A result row of a file-use lineage query. */
export type FileUseView = FileUseRecord & { taskName: string; executionId: string | null; at: number | null }

/** A well-formed hash: 64 lowercase hex digits, as the runtime writes them. */
const HEX_HASH = /^[0-9a-f]{64}$/

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
      const leases = batch.leases
      if (rows.size === 0 && leases === undefined) return
      const { maxParameters } = this.#adapter
      await retryConflicts(() =>
        this.db.transaction().execute(async (trx) => {
          await insertRows(trx, rows, maxParameters)
          if (leases !== undefined) await applyLeaseUpdate(trx, leases, maxParameters)
        }),
      )
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async claimLeases(claim: LeaseClaim): Promise<LeaseClaims> {
    if (claim.evalHashes.length === 0) return { claimed: [], takenOver: new Map(), held: new Map() }
    try {
      return await this.#adapter.claimLeases(claim)
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async runningExecutions(now: number): Promise<ExecutionRecord[]> {
    try {
      const rows = await this.db
        .selectFrom("execution")
        .selectAll()
        .where("status", "=", "RUNNING")
        .where("lease_expires_at", ">=", now)
        .execute()
      return rows.map(toExecution)
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async abandonStaleExecutions(now: number): Promise<string[]> {
    try {
      return await abandonStaleExecutions(this.db, now)
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async unreplayableCalls(calls: readonly ExpectedCall[]): Promise<ReadonlySet<number>> {
    try {
      if (this.#adapter.unreplayableCalls !== undefined) return new Set(this.#adapter.unreplayableCalls(calls))
      const found = new Map<string, { callHash: string | null; replayable: boolean }>()
      // A malformed eval hash names no entry: it fails without asking.
      const wellFormed = new Set(calls.map((call) => call.evalHash).filter((hash) => HEX_HASH.test(hash)))
      for (const chunk of chunks([...wellFormed], this.#adapter.maxParameters)) {
        const rows = await this.db
          .selectFrom("evaluation")
          .select([this.#adapter.hex("eval_hash").as("eval_hash"), this.#adapter.hex("call_hash").as("call_hash"), "replayable"])
          .where(this.#adapter.hashIn("eval_hash", chunk))
          .execute()
        for (const row of rows) {
          if (row.eval_hash) found.set(row.eval_hash, { callHash: row.call_hash || null, replayable: row.replayable === 1 })
        }
      }
      const failing = new Set<number>()
      calls.forEach((call, i) => {
        const entry = found.get(call.evalHash)
        if (entry?.callHash !== call.callHash || !entry.replayable) failing.add(i)
      })
      return failing
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async loadEvaluations(evalHashes: readonly string[]): Promise<Map<string, CachedEvaluation>> {
    const found = new Map<string, CachedEvaluation>()
    if (this.#adapter.lookupEvaluations !== undefined) {
      try {
        for (const [evalHash, own, node, nodeBytes, stored, callHash, replayable] of this.#adapter.lookupEvaluations(evalHashes)) {
          // SQLite's hex of null is empty.
          const value = evaluationValue(own || null, node || null, nodeBytes, stored)
          if (value === undefined) continue
          found.set(evalHash, {
            valueHash: value.valueHash,
            bytes: plainBytes(value.bytes),
            callHash: callHash || null,
            replayable: replayable === 1,
            ...(value.inCall ? { valueInCall: true } : {}),
          })
        }
      } catch (error) {
        throw this.#adapter.translateError(error)
      }
      return found
    }
    for (const chunk of chunks(evalHashes, this.#adapter.maxParameters)) {
      // The value hash is the evaluation's own, else (migration 0010) its call node's, else (0014)
      // that of the bytes the node holds (0012): see evaluationValue.
      const valueHash = sql<Buffer>`coalesce(evaluation.value_hash, call_node.value_hash)`
      const rows = await this.db
        .selectFrom("evaluation")
        .leftJoin("call_node", "call_node.call_hash", "evaluation.call_hash")
        .leftJoin("small_value", (join) => join.on("small_value.hash", "=", valueHash))
        .leftJoin("value", (join) => join.on("value.hash", "=", valueHash))
        .select([
          this.#adapter.hex("evaluation.eval_hash").as("eval_hash"),
          this.#adapter.hex("evaluation.value_hash").as("own_value_hash"),
          this.#adapter.hex("call_node.value_hash").as("call_value_hash"),
          this.#adapter.hex("evaluation.call_hash").as("call_hash"),
          "evaluation.replayable",
          "call_node.value_bytes",
          valueBytes().as("bytes"),
        ])
        .where(this.#adapter.hashIn("evaluation.eval_hash", chunk))
        .execute()
      for (const row of rows) {
        const value = evaluationValue(row.own_value_hash || null, row.call_value_hash || null, row.value_bytes, row.bytes)
        if (row.eval_hash && value !== undefined) {
          found.set(row.eval_hash, {
            valueHash: value.valueHash,
            bytes: plainBytes(value.bytes),
            callHash: row.call_hash || null,
            replayable: row.replayable === 1,
            ...(value.inCall ? { valueInCall: true } : {}),
          })
        }
      }
    }
    return found
  }

  async getValue(hash: string, ofCall?: string): Promise<Uint8Array | undefined> {
    return (await findValues(this.db, this.#adapter, [checkHash(hash)], ofCall === undefined ? [] : [ofCall])).get(hash)
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<ExecutionView[]> {
    let select = this.db.selectFrom("execution").selectAll().orderBy("id", "desc")
    if (query.idPrefix !== undefined) select = select.where(idStartsWith(query.idPrefix))
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
    if (query.status !== undefined) select = select.where("status", "=", query.status)
    if (query.taskName !== undefined) {
      const name = query.taskName
      select = select.where((eb) =>
        eb.exists(
          eb
            .selectFrom("job")
            // A finished job's task hash is its call node's (migration 0010).
            .leftJoin("call_node", "call_node.call_hash", "job.call_hash")
            .select("job.seq")
            .whereRef("job.execution_id", "=", "execution.id")
            .where(sql<Buffer>`coalesce(job.task_hash, call_node.task_hash)`, "in", (inner) =>
              inner.selectFrom("task").select("task.hash").where("task.name", "=", name),
            ),
        ),
      )
    }
    if (query.limit !== undefined) select = select.limit(query.limit)
    // SQLite takes an offset only after a limit.
    if (query.offset !== undefined)
      select = (query.limit === undefined ? select.limit(Number.MAX_SAFE_INTEGER) : select).offset(query.offset)
    return this.#withTags((await select.execute()).map(toExecution))
  }

  async getExecution(idOrPrefix: string): Promise<ExecutionView | undefined> {
    const exact = await this.db.selectFrom("execution").selectAll().where("id", "=", idOrPrefix).executeTakeFirst()
    if (exact !== undefined) return (await this.#withTags([toExecution(exact)]))[0]
    if (idOrPrefix === "") return undefined
    const matches = await this.db.selectFrom("execution").selectAll().where(idStartsWith(idOrPrefix)).limit(2).execute()
    return matches.length === 1 && matches[0] !== undefined ? (await this.#withTags([toExecution(matches[0])]))[0] : undefined
  }

  /** The executions with their tags, read in one query. */
  async #withTags(executions: ExecutionRecord[]): Promise<ExecutionView[]> {
    if (executions.length === 0) return []
    const rows = await this.db
      .selectFrom("tag")
      .select(["execution_id", "key", "value"])
      .where(
        "execution_id",
        "in",
        executions.map((e) => e.id),
      )
      .orderBy("key")
      .execute()
    const tags = new Map<string, Record<string, string>>()
    for (const row of rows) {
      let forExecution = tags.get(row.execution_id)
      if (forExecution === undefined) tags.set(row.execution_id, (forExecution = {}))
      forExecution[row.key] = row.value
    }
    return executions.map((e) => ({ ...e, tags: tags.get(e.id) ?? {} }))
  }

  listJobs(executionId: string): Promise<JobView[]> {
    return findJobs(this.db, this.#adapter, { executionId }, false)
  }

  findJobs(query: JobQuery): Promise<JobView[]> {
    return findJobs(this.db, this.#adapter, query)
  }

  async jobParents(executionId: string): Promise<JobParent[]> {
    const rows = await this.db
      .selectFrom("job")
      .select(["seq", "parent_seq"])
      .where("execution_id", "=", executionId)
      .orderBy("seq")
      .execute()
    return rows.map((row) => ({ seq: Number(row.seq), parentSeq: row.parent_seq === null ? null : Number(row.parent_seq) }))
  }

  countJobs(executionId: string): Promise<JobCounts> {
    return countJobs(this.db, executionId)
  }

  tasksNamed(name: string): Promise<TaskRecord[]> {
    return tasksNamed(this.db, name)
  }

  async getTask(hash: string): Promise<TaskRecord | undefined> {
    const row = await this.db.selectFrom("task").selectAll().where("hash", "=", hashToBuffer(hash)).executeTakeFirst()
    return row === undefined ? undefined : { hash, name: row.name, source: row.source, version: row.version }
  }

  async loadCallTree(callHash: string): Promise<CallTree | undefined> {
    try {
      return await loadCallTree(this.db, this.#adapter, callHash)
    } catch (error) {
      throw this.#adapter.translateError(error)
    }
  }

  async getCall(callHash: string): Promise<CallRecord | undefined> {
    const [call] = await readCalls(this.db, this.#adapter, [callHash])
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

  readContent(request: ContentRequest): Promise<WriteBatch> {
    return readContent(this.db, this.#adapter, request)
  }

  async removeTags(executionId: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.db
      .deleteFrom("tag")
      .where("execution_id", "=", executionId)
      .where("key", "in", [...keys])
      .execute()
  }
}

/** `id` starts with `prefix` (the same text comparison in both dialects, no LIKE escaping). */
function idStartsWith(prefix: string) {
  return sql<boolean>`substr(${sql.ref("id")}, 1, ${sql.lit(prefix.length)}) = ${prefix}`
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
  lease_expires_at: number | string | null
  call_leases: number | null
}): ExecutionRecord {
  return {
    id: row.id,
    startedAt: toTime(row.started_at),
    endedAt: toTimeOrNull(row.ended_at),
    status: row.status as ExecutionStatus,
    command: row.command,
    rootCallHash: hashFromNullable(row.root_call_hash),
    error: row.error,
    // As the other backends read it: absent unless the execution has a lease.
    ...(row.lease_expires_at === null ? {} : { leaseExpiresAt: toTime(row.lease_expires_at) }),
    ...(row.call_leases === null ? {} : { callLeases: row.call_leases === 1 }),
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
