/**
 * @module sqlite-backend
 * The embedded default backend: a SQLite file in WAL mode, through node:sqlite or better-sqlite3
 * (sqlite-driver.ts picks the one the runtime has). Reads go through kysely; writes use prepared
 * statements directly (the same rows and conflict rules as kysely's path), since compiling kysely
 * queries for thousands of rows every 50 ms costs more than the inserts themselves.
 */
import { mkdirSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { Kysely, SqliteDialect, sql } from "kysely"
import { isReductioError, ReductioError } from "../errors.js"
import { conflictSql, KyselyBackend, messageOf, type SqlDialectAdapter } from "./kysely-backend.js"
import type { Database } from "./schema.js"
import type { WriteBatch } from "./backend.js"
import { type BatchRows, batchRows, checkHash, hashToBuffer, isHashColumn, type Row, TABLES, type TableSpec } from "./sql-rows.js"
import { type SqliteConnection, type SqliteDriverName, type SqliteStatement, openSqliteConnection } from "./sqlite-driver.js"
import { sqliteLeases } from "./sqlite-leases.js"

/** Loaded with this module by `loadBackendModules` (open-backend.ts), which imports nothing else. */
export { preloadSqliteDriver } from "./sqlite-driver.js"

/**
 * @example
 * const backend = new SqliteBackend(".reductio/reductio.db")
 * await backend.open()
 */

/**
 * `keys(bytes)` and `i(n)`: the n-th 32-byte hash of one bound blob is `substr(bytes, n * 32 + 1,
 * 32)`. A blob of hashes is read in place; a JSON array of as many hex hashes takes SQLite about
 * four times as long to parse.
 */
const HASHES_OF_BLOB =
  "with recursive keys(bytes) as (select ?), " +
  "i(n) as (select 0 union all select n + 1 from i where n + 1 < length((select bytes from keys)) / 32) "

/**
 * The bytes of an evaluation's value that its call node `c` holds (migration 0012): when the value
 * is the node's (the evaluation names none of its own, or the node's), else null.
 */
const VALUE_IN_CALL = "(case when e.value_hash is null or e.value_hash = c.value_hash then c.value_bytes end)"
/**
 * One prepared statement answers any number of cache lookups, each row naming the index of the
 * hash it answers: the evaluation's own value hash, its call node's value hash and bytes, and the
 * bytes stored under the value hash, looked up only when the node does not hold the value; the
 * caller picks the value from them (evaluationValue).
 */
const LOOKUP_EVALUATIONS =
  `${HASHES_OF_BLOB}select n, lower(hex(e.value_hash)), lower(hex(c.value_hash)), c.value_bytes, coalesce(s.bytes, v.bytes), ` +
  "lower(hex(e.call_hash)), e.replayable " +
  "from i join evaluation e on e.eval_hash = substr((select bytes from keys), n * 32 + 1, 32) " +
  "left join call_node c on c.call_hash = e.call_hash " +
  `left join small_value s on ${VALUE_IN_CALL} is null and s.hash = coalesce(e.value_hash, c.value_hash) ` +
  `left join value v on ${VALUE_IN_CALL} is null and s.hash is null and v.hash = coalesce(e.value_hash, c.value_hash) ` +
  "where coalesce(c.value_bytes, s.bytes, v.bytes) is not null"
/**
 * The calls whose cache entry is missing, names another call, or does not allow replay, by index:
 * the blob holds each call's eval hash then its call hash (pair n at bytes 64n to 64n + 63).
 */
const UNREPLAYABLE_CALLS =
  "with recursive keys(bytes) as (select ?), " +
  // One row a pair, not one a hash: a cached 100,000-call fan-out's check 150 ms to 130 ms.
  "p(n) as (select 0 union all select n + 1 from p where n + 1 < length((select bytes from keys)) / 64) " +
  "select n from p left join evaluation e on e.eval_hash = substr((select bytes from keys), n * 64 + 1, 32) " +
  "where e.call_hash is not substr((select bytes from keys), n * 64 + 33, 32) or e.replayable is not 1"

export class SqliteBackend extends KyselyBackend {
  /** The absolute path of the database file. */
  readonly path: string

  readonly #connection: () => SqliteConnection | undefined

  constructor(path: string, options: { busyTimeoutMs?: number; driver?: SqliteDriverName } = {}) {
    const absolute = resolve(path)
    const adapter = sqliteAdapter(absolute, path, options.busyTimeoutMs ?? 10_000, options.driver)
    super(adapter)
    this.path = absolute
    this.#connection = adapter.connection
  }

  /** The SQLite binding the open database runs on (undefined before `open()`). */
  get driver(): SqliteDriverName | undefined {
    return this.#connection()?.driver
  }
}

/** Digit values of hex characters by char code (rows hold checked hashes, either case). */
const HEX_DIGITS = new Uint8Array(128)
for (let digit = 0; digit < 16; digit++) {
  const char = digit.toString(16)
  HEX_DIGITS[char.charCodeAt(0)] = digit
  HEX_DIGITS[char.toUpperCase().charCodeAt(0)] = digit
}

/** The first 16 bits of a hex hash (0 for anything else, which a later check refuses). */
function hashPrefix(hash: unknown): number {
  if (typeof hash !== "string") return 0
  let prefix = 0
  for (let i = 0; i < 4; i++) prefix = (prefix << 4) | (HEX_DIGITS[hash.charCodeAt(i) & 127] as number)
  return prefix
}

/** Fewer hashes than this are taken in the order given. */
const MIN_ORDERED = 512

/**
 * The indexes of `count` hashes in hash order, by their first 16 bits (a stable counting sort).
 * Random keys written or looked up in order walk a B-tree once from left to right: a batch reads
 * and dirties each page once rather than hopping between them, and lookups find the pages they
 * need in the CPU's caches.
 */
function hashOrder(count: number, hashAt: (index: number) => unknown): Uint32Array {
  // A few hashes gain nothing from an order, and the counts would cost 256 KB each time.
  if (count < MIN_ORDERED) return Uint32Array.from({ length: count }, (_, i) => i)
  // starts[p + 1] counts the hashes of prefix p, then (summed) where the ones after p's begin.
  const starts = new Uint32Array(65537)
  const prefixes = new Uint16Array(count)
  for (let i = 0; i < count; i++) {
    const prefix = hashPrefix(hashAt(i))
    prefixes[i] = prefix
    starts[prefix + 1] = (starts[prefix + 1] as number) + 1
  }
  for (let prefix = 1; prefix <= 65536; prefix++) starts[prefix] = (starts[prefix] as number) + (starts[prefix - 1] as number)
  const order = new Uint32Array(count)
  for (let i = 0; i < count; i++) {
    const prefix = prefixes[i] as number
    const at = starts[prefix] as number
    starts[prefix] = at + 1
    order[at] = i
  }
  return order
}

/**
 * A table's rows in the order of the hash that leads its key ({@link hashOrder}: edges of one
 * parent keep their order). Tables keyed by something else keep their rows as they are.
 */
function inKeyOrder(spec: TableSpec, rows: Row[]): Row[] {
  const column = spec.columns.indexOf(spec.key[0] as string)
  if (rows.length < MIN_ORDERED || !isHashColumn(spec.key[0] as string)) return rows
  return Array.from(
    hashOrder(rows.length, (i) => (rows[i] as Row)[column]),
    (i) => rows[i] as Row,
  )
}

/** Rows per multi-row INSERT: fewer statement runs, well under SQLite's 32,766 variables. */
const ROWS_PER_STATEMENT = 64

function sqliteAdapter(
  path: string,
  shownPath: string,
  busyTimeoutMs: number,
  driver: SqliteDriverName | undefined,
): SqlDialectAdapter & { connection: () => SqliteConnection | undefined } {
  let raw: SqliteConnection | undefined
  const leases = sqliteLeases(() => raw as SqliteConnection)
  const statements = new Map<string, SqliteStatement>()
  const unreadable = (error: unknown) =>
    new ReductioError("DB_UNREADABLE", `cannot open the SQLite database ${shownPath}: ${messageOf(error)}. ${recoveryHint(path)}`, {
      cause: error,
      details: { path },
    })

  // Multi-row INSERTs: fewer statement runs. Each needs a statement journal (to undo its earlier
  // rows if a later one fails), which temp_store = MEMORY keeps out of temp files.
  const statement = (spec: TableSpec, rowCount: number) => {
    const key = `${spec.table}:${rowCount}`
    let prepared = statements.get(key)
    if (prepared === undefined) {
      // Hashes are bound as their hex and decoded by SQLite: no Buffer per hash on the hot path.
      const placeholders = `(${spec.columns.map((column) => (isHashColumn(column) ? "unhex(?)" : "?")).join(", ")})`
      const text = `insert into "${spec.table}" (${spec.columns.map((c) => `"${c}"`).join(", ")}) values ${Array(rowCount).fill(placeholders).join(", ")} ${conflictSql(spec)}`
      statements.set(key, (prepared = (raw as SqliteConnection).prepare(text)))
    }
    return prepared
  }

  const insertAll = (rows: BatchRows, update: WriteBatch["leases"]) => {
    if (update !== undefined) leases.apply(update)
    for (const spec of TABLES) {
      const given = rows.get(spec.table)
      if (given === undefined) continue
      const tableRows = inKeyOrder(spec, given)
      let i = 0
      if (tableRows.length >= ROWS_PER_STATEMENT) {
        const many = statement(spec, ROWS_PER_STATEMENT)
        // One parameter array for every statement, filled by index (no iterator or growth per row).
        const width = spec.columns.length
        const values = new Array<unknown>(ROWS_PER_STATEMENT * width)
        for (; i + ROWS_PER_STATEMENT <= tableRows.length; i += ROWS_PER_STATEMENT) {
          for (let j = 0; j < ROWS_PER_STATEMENT; j++) {
            const row = tableRows[i + j] as Row
            for (let k = 0; k < width; k++) values[j * width + k] = row[k]
          }
          many.run(values)
        }
      }
      const one = statement(spec, 1)
      for (; i < tableRows.length; i++) one.run(tableRows[i] as Row)
    }
  }

  // One transaction per batch; a failed statement rolls the whole batch back.
  const writeTransaction = (rows: BatchRows, update: WriteBatch["leases"]) => {
    const database = raw as SqliteConnection
    database.exec("begin")
    try {
      insertAll(rows, update)
      database.exec("commit")
    } catch (error) {
      if (database.inTransaction) database.exec("rollback")
      throw error
    }
  }

  return {
    connection: () => raw,
    name: "sqlite",
    description: `sqlite:${shownPath}`,
    // SQLITE_MAX_VARIABLE_NUMBER defaults to 32,766 since SQLite 3.32.
    maxParameters: 32_000,
    async connect() {
      try {
        mkdirSync(dirname(path), { recursive: true })
        refuseEmptyFile(path)
        raw = await openSqliteConnection(path, { driver })
        raw.exec(`pragma busy_timeout = ${busyTimeoutMs}`)
        // Reading the journal mode reads the header: a file that is not a database fails here.
        raw.exec("pragma journal_mode = WAL")
        raw.exec("pragma synchronous = NORMAL")
        // Statement journals (one per multi-row INSERT) and sorts stay in memory, not temp files:
        // in temp files they tripled the bytes a batch wrote.
        raw.exec("pragma temp_store = MEMORY")
        // Checkpoint every 128 MiB of WAL rather than 4 MiB: each checkpoint copies pages and syncs
        // twice, and with hash keys nearly every batch rewrites the same pages, so fewer
        // checkpoints write less in all (a fan-out of 100,000 calls: a fifth fewer page writes
        // than at 16 MiB, a quarter of the page reads). The WAL file is removed when the last
        // connection closes.
        raw.exec("pragma wal_autocheckpoint = 32000")
        // 64 MiB of page cache: hash keys land on random pages of every b-tree.
        raw.exec("pragma cache_size = -65536")
      } catch (error) {
        if (raw?.isOpen === true) raw.close()
        raw = undefined
        // A driver that will not load says so itself, with its fix: it is not the file's fault.
        if (isReductioError(error)) throw error
        throw unreadable(error)
      }
      return new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) })
    },
    async migrationTableExists(db: Kysely<Database>) {
      const result = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(
        db,
      )
      return result.rows.length > 0
    },
    async guardMigration(_db, migrate) {
      // SQLite DDL is transactional but kysely's Migrator does not open a transaction for it:
      // one IMMEDIATE transaction on the same connection makes the upgrade all-or-nothing and
      // makes a second process wait for the first.
      const database = raw as SqliteConnection
      try {
        database.exec("begin immediate")
      } catch (error) {
        throw unreadable(error)
      }
      try {
        await migrate()
        database.exec("commit")
      } catch (error) {
        if (database.inTransaction) database.exec("rollback")
        throw error
      }
    },
    async selectArrays(query) {
      let prepared = statements.get(query.sql)
      if (prepared === undefined) statements.set(query.sql, (prepared = (raw as SqliteConnection).prepare(query.sql)))
      return prepared.arrays(query.parameters)
    },
    lookupEvaluations(evalHashes) {
      let prepared = statements.get(LOOKUP_EVALUATIONS)
      if (prepared === undefined) statements.set(LOOKUP_EVALUATIONS, (prepared = (raw as SqliteConnection).prepare(LOOKUP_EVALUATIONS)))
      // Probed in hash order: row n answers the hash at order[n].
      const order = hashOrder(evalHashes.length, (i) => evalHashes[i])
      const keys = Buffer.allocUnsafe(evalHashes.length * 32)
      order.forEach((index, n) => {
        const hash = evalHashes[index] as string
        // Hex decoding stops at the first pair that is not hex: a short write is a malformed hash.
        if (hash.length !== 64 || keys.write(hash, n * 32, 32, "hex") !== 32) hashToBuffer(hash)
      })
      const rows = prepared.arrays([keys]) as [
        number | string,
        string,
        string,
        Uint8Array | null,
        Uint8Array | null,
        string,
        number | null,
      ][]
      for (const row of rows) row[0] = evalHashes[order[row[0] as number] as number] as string
      return rows as [string, string, string, Uint8Array | null, Uint8Array | null, string, number | null][]
    },
    unreplayableCalls(calls) {
      let prepared = statements.get(UNREPLAYABLE_CALLS)
      if (prepared === undefined) statements.set(UNREPLAYABLE_CALLS, (prepared = (raw as SqliteConnection).prepare(UNREPLAYABLE_CALLS)))
      // Probed in eval hash order: pair n is the call at order[n].
      const order = hashOrder(calls.length, (i) => calls[i]?.evalHash)
      const keys = Buffer.alloc(calls.length * 64)
      // A malformed hash fails without asking (zero bytes in its place match no entry either).
      const failing: number[] = []
      order.forEach((index, n) => {
        const { evalHash, callHash } = calls[index] as { evalHash: string; callHash: string }
        const written = keys.write(evalHash, n * 64, 32, "hex") + keys.write(callHash, n * 64 + 32, 32, "hex")
        if (written !== 64 || evalHash.length !== 64 || callHash.length !== 64) failing.push(index)
      })
      for (const [n] of prepared.arrays([keys]) as [number][]) failing.push(order[n] as number)
      return failing
    },
    writeBatch(batch) {
      const rows = batchRows(batch, "hex")
      if (rows.size === 0 && batch.leases === undefined) return
      writeTransaction(rows, batch.leases)
    },
    async claimLeases(claim) {
      return leases.claim(claim)
    },
    // One JSON parameter, decoded by SQLite: no Buffer and no query node per hash.
    hashIn: (column, hashes) =>
      sql<boolean>`${sql.ref(column)} in (select unhex(value) from json_each(${JSON.stringify(hashes.map(checkHash))}))`,
    hex: (column) => sql<string>`lower(hex(${sql.ref(column)}))`,
    joinText: (text) => sql<string>`group_concat(${text}, ',')`,
    translateError(error) {
      return error instanceof ReductioError ? error : unreadable(error)
    },
    close() {
      statements.clear()
      leases.clear()
      if (raw?.isOpen === true) raw.close()
      raw = undefined
    },
  }
}

/** How long a 0-byte database file may be someone else's database being created. */
const CREATING_MS = 10_000

/**
 * SQLite takes a 0-byte file for a new, empty database and would write a fresh one over it:
 * one that has stayed empty is more likely a truncated database (a full disk, a bad copy) than a
 * database being created, so it is refused rather than silently replaced.
 */
function refuseEmptyFile(path: string): void {
  let stat: { size: number; mtimeMs: number; isFile(): boolean }
  try {
    stat = statSync(path)
  } catch {
    return
  }
  if (!stat.isFile() || stat.size > 0 || Date.now() - stat.mtimeMs < CREATING_MS) return
  throw new ReductioError(
    "DB_UNREADABLE",
    `the SQLite database ${path} is an empty (0-byte) file, not a database: it may have been truncated. If it held runs, restore it from a copy; to start a new database, remove it (\`rm ${path}\`)`,
    { details: { path, size: 0 } },
  )
}

/** What to do about a database file SQLite cannot read. */
function recoveryHint(path: string): string {
  return (
    `If the file is damaged: check it with \`sqlite3 ${path} "pragma integrity_check"\`, ` +
    `save what it holds into a new file with \`sqlite3 ${path} ".recover" | sqlite3 ${path}.recovered\` and move that in place, ` +
    `or move it aside (\`mv ${path} ${path}.broken\`) to start a new database (every call then runs once again)`
  )
}
