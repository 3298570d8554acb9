/**
 * @module postgres-backend
 * A team-shared cache on Postgres (pg Pool through kysely's PostgresDialect), with the schema and
 * migrations of SQLite.
 *
 * Concurrency guarantee: any number of processes may open and write one Postgres database at
 * once. Migrations run under kysely's migration lock (an advisory lock, in one transaction), so
 * exactly one process applies them and the others wait and then find nothing to do. Every write
 * batch is one statement (one round trip, one transaction) and every cache lookup batch one
 * query; content-addressed rows (tasks, values, calls, edges, file uses) are
 * `INSERT … ON CONFLICT DO NOTHING`, and jobs, executions, evaluations and tags are upserts, so
 * overlapping writes never fail on a duplicate key. Rows are written in one fixed table order and
 * sorted by key, so two writers lock rows in the same order; a deadlock or serialization failure
 * the server still reports is retried.
 */
import { Kysely, PostgresDialect, sql } from "kysely"
import pg from "pg"
import { ReductioError } from "../errors.js"
import { conflictSql, KyselyBackend, messageOf, retryConflicts, type SqlDialectAdapter } from "./kysely-backend.js"
import type { Database } from "./schema.js"
import type { LeaseUpdate } from "./backend.js"
import { claimPostgresLeases, leaseCtes } from "./postgres-leases.js"
import { type BatchRows, batchRows, checkHash, isHashColumn, sortByKey, TABLES, type TableSpec } from "./sql-rows.js"

/** Options of a {@link PostgresBackend}. */
export interface PostgresBackendOptions {
  /** Most connections in the pool. */
  readonly maxConnections?: number
  /** How long to wait for a connection before DB_UNREACHABLE. */
  readonly connectTimeoutMs?: number
}

/**
 * @example
 * const backend = new PostgresBackend("postgres://ci@db.internal:5432/reductio")
 * await backend.open()
 */
export class PostgresBackend extends KyselyBackend {
  constructor(url: string, options: PostgresBackendOptions = {}) {
    super(postgresAdapter(url, options))
  }
}

/** The URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "postgres://(unparseable url)"
  }
}

function postgresAdapter(url: string, options: PostgresBackendOptions): SqlDialectAdapter {
  const shown = redactUrl(url)
  let pool: pg.Pool | undefined
  return {
    name: "postgres",
    description: shown,
    // The wire protocol numbers parameters with 16 bits.
    maxParameters: 65_535,
    async connect() {
      pool = new pg.Pool({
        connectionString: url,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      })
      // An idle client losing its server must not crash the process; the next query reports it.
      pool.on("error", () => {})
      try {
        const client = await pool.connect()
        client.release()
      } catch (error) {
        await pool.end().catch(() => {})
        pool = undefined
        throw connectError(error, shown)
      }
      return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    },
    async migrationTableExists(db) {
      const result = await sql<{ present: boolean }>`select to_regclass('kysely_migration') is not null as present`.execute(db)
      return result.rows[0]?.present === true
    },
    async guardMigration(_db, migrate) {
      // kysely's Migrator takes an advisory lock and runs the migrations in one transaction.
      await migrate()
    },
    hex: (column) => sql<string | null>`encode(${sql.ref(column)}, 'hex')`,
    joinText: (text) => sql<string>`string_agg(${text}, ',')`,
    async writeBatch(batch) {
      const rows = batchRows(batch, "hex")
      if (rows.size === 0 && batch.leases === undefined) return
      const statement = batchStatement(rows, batch.leases)
      const client = pool as pg.Pool
      await retryConflicts(() => client.query(statement.text, statement.values))
    },
    claimLeases: (claim) => claimPostgresLeases(pool as pg.Pool, claim, retryConflicts),
    // One array parameter, however many hashes.
    hashIn: (column, hashes) => sql<boolean>`${sql.ref(column)} = any(${byteaArray(hashes)}::bytea[])`,
    translateError(error) {
      return error instanceof ReductioError ? error : connectError(error, shown)
    },
  }
}

/**
 * A whole batch as one statement, so one round trip and one implicit transaction: each table's
 * rows go in as one array parameter per column (`unnest($1::bytea[], $2::text[], …)`), so the
 * statement's text and parameter count do not grow with the rows (no 65,535-parameter chunking,
 * no SQL to build or parse per row). The inserts are data-modifying CTEs, which Postgres runs one
 * after another in an order set by their position; with tables always in the order of TABLES and
 * rows sorted by key, two writers still take row locks in one order.
 */
export function batchStatement(rows: BatchRows, leases?: LeaseUpdate): { text: string; values: unknown[] } {
  const values: unknown[] = []
  const inserts: string[] = []
  for (const spec of TABLES) {
    const tableRows = rows.get(spec.table)
    if (tableRows === undefined) continue
    const sorted = sortByKey(spec, tableRows)
    const params: string[] = []
    const selected: string[] = []
    spec.columns.forEach((column, index) => {
      const type = postgresType(column)
      const cells = sorted.map((row) => row[index] ?? null)
      // Hashes arrive as validated hex: one array literal, decoded by the server.
      values.push(type === "hash" ? hexArray(cells as (string | null)[]) : cells)
      params.push(`$${values.length}::${type === "hash" ? "text" : type}[]`)
      selected.push(type === "hash" ? `decode(c${index}, 'hex')` : `c${index}`)
    })
    const names = spec.columns.map((_, index) => `c${index}`).join(", ")
    inserts.push(
      `${spec.table} as (insert into "${spec.table}" (${quoted(spec)}) select ${selected.join(", ")} from unnest(${params.join(", ")}) as u(${names}) ${conflictSql(spec)})`,
    )
  }
  // The evaluations a batch records and the leases it releases commit together.
  if (leases !== undefined) inserts.push(...leaseCtes(leases, values))
  if (inserts.length === 0) return { text: "select 1", values }
  return { text: `with ${inserts.join(",\n")}\nselect 1`, values }
}

/** A Postgres array literal of hex hashes (hex needs no quoting), NULL for null. */
function hexArray(hashes: readonly (string | null)[]): string {
  return `{${hashes.map((hash) => hash ?? "NULL").join(",")}}`
}

/** A Postgres bytea[] literal of hashes: `\\x<hex>` elements (the backslash escaped for the array). */
function byteaArray(hashes: readonly string[]): string {
  for (const hash of hashes) checkHash(hash)
  return `{${hashes.map((hash) => `\\\\x${hash}`).join(",")}}`
}

const COLUMN_TYPES: Readonly<Record<string, string>> = {
  bytes: "bytea",
  args_bytes: "bytea",
  value_bytes: "bytea",
  seq: "int4",
  parent_seq: "int4",
  position: "int4",
  cached: "int4",
  replayable: "int4",
  checked: "int4",
  reused_calls: "int4",
  started_at: "int8",
  ended_at: "int8",
  lease_expires_at: "int8",
  call_leases: "int4",
  created_at: "int8",
  body_ended_at: "int8",
}

/** `hash` for the hash columns ({@link isHashColumn}, sent as hex); else the column's array element type. */
function postgresType(column: string): string {
  return COLUMN_TYPES[column] ?? (isHashColumn(column) ? "hash" : "text")
}

function quoted(spec: TableSpec): string {
  return spec.columns.map((column) => `"${column}"`).join(", ")
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EAI_AGAIN"])
// SQLSTATE: invalid_authorization_specification, invalid_password.
const AUTH_FAILED = new Set(["28000", "28P01"])

function connectError(error: unknown, shown: string): unknown {
  const code = (error as { code?: unknown }).code
  const message = messageOf(error)
  if (typeof code === "string" && UNREACHABLE.has(code)) {
    return new ReductioError("DB_UNREACHABLE", `cannot reach the Postgres server of ${shown} (${code}): ${message}`, { cause: error })
  }
  if (/timeout/i.test(message) && code === undefined) {
    return new ReductioError("DB_UNREACHABLE", `timed out connecting to ${shown}: ${message}`, { cause: error })
  }
  if (typeof code === "string" && AUTH_FAILED.has(code)) {
    return new ReductioError("DB_AUTH_FAILED", `the Postgres server refused the credentials for ${shown}: ${message}`, { cause: error })
  }
  if (code === "3D000") {
    return new ReductioError("DB_UNREADABLE", `no such Postgres database: ${shown} (create it first): ${message}`, { cause: error })
  }
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
    return new ReductioError("DB_UNREADABLE", `Postgres error ${code} on ${shown}: ${message}`, { cause: error })
  }
  return error
}
