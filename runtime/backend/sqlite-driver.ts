/**
 * @module sqlite-driver
 * The seam between the SQLite backend and a SQLite binding: `node:sqlite` where the runtime has it
 * (Node 22.13+, Bun, Deno), better-sqlite3 (an optional dependency, a native addon) elsewhere, as
 * on Node 20. Both are wrapped into one small synchronous {@link SqliteConnection}, which also is
 * the subset of better-sqlite3's Database that kysely's own `SqliteDialect` needs, so queries go
 * through one dialect whichever binding runs underneath.
 */
import { ReductioError } from "../errors.js"

/** The SQLite bindings reductio can drive. */
export const SQLITE_DRIVERS = ["node:sqlite", "better-sqlite3"] as const
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number]

/** What a write statement reports. */
export interface SqliteRunResult {
  readonly changes: number | bigint
  readonly lastInsertRowid: number | bigint
}

/** One prepared statement; parameters bind by position. */
export interface SqliteStatement {
  /** True when the statement returns rows (a SELECT, or a write with RETURNING). */
  readonly reader: boolean
  /** Rows as objects keyed by column name (what kysely reads). */
  all(parameters: readonly unknown[]): unknown[]
  /** Rows as arrays in select order: no object per row. */
  arrays(parameters: readonly unknown[]): unknown[][]
  run(parameters: readonly unknown[]): SqliteRunResult
  iterate(parameters: readonly unknown[]): IterableIterator<unknown>
}

/** One open SQLite connection, whichever binding opened it. Every call is synchronous. */
export interface SqliteConnection {
  /** The binding underneath. */
  readonly driver: SqliteDriverName
  /** Runs one or more statements without results. */
  exec(sql: string): void
  prepare(sql: string): SqliteStatement
  /** True between BEGIN and COMMIT or ROLLBACK. */
  readonly inTransaction: boolean
  readonly isOpen: boolean
  close(): void
}

/** Options of {@link openSqliteConnection}. */
export interface SqliteConnectionOptions {
  /**
   * The binding to use; default: `REDUCTIO_SQLITE_DRIVER` when set, else `node:sqlite` when the
   * runtime has it, else better-sqlite3.
   */
  readonly driver?: SqliteDriverName
}

/**
 * Opens a SQLite file (created when missing) with the binding chosen by `options`.
 * Fails with DB_DRIVER_UNAVAILABLE, naming each binding's cause and the fix, when none loads;
 * errors of the database itself (not a database, locked, ...) pass through as the binding threw them.
 *
 * @example
 * const connection = await openSqliteConnection(".reductio/reductio.db")
 * connection.exec("pragma journal_mode = WAL")
 */
export async function openSqliteConnection(path: string, options: SqliteConnectionOptions = {}): Promise<SqliteConnection> {
  const open = await loadSqliteDriver(options.driver ?? driverFromEnvironment())
  return open(path)
}

type Opener = (path: string) => SqliteConnection

/**
 * Loads, ahead of the first open, the binding the environment picks (REDUCTIO_SQLITE_DRIVER, else
 * the first that loads). Never fails: a binding that will not load, or a bad variable, fails the
 * open that needs it, with its fix.
 */
export async function preloadSqliteDriver(): Promise<void> {
  try {
    await loadSqliteDriver(driverFromEnvironment())
  } catch {
    // Reported by the open.
  }
}

const loaded = new Map<string, Promise<Opener>>()

/**
 * Loads a binding (or the first that loads, for `undefined`) once per process.
 * Fails with DB_DRIVER_UNAVAILABLE naming every cause.
 */
export function loadSqliteDriver(driver: SqliteDriverName | undefined): Promise<Opener> {
  const key = driver ?? "auto"
  let opener = loaded.get(key)
  if (opener === undefined) {
    opener = loadFirst(driver === undefined ? SQLITE_DRIVERS : [driver])
    // A failure is not cached: an install between two attempts is seen.
    opener.catch(() => loaded.delete(key))
    loaded.set(key, opener)
  }
  return opener
}

async function loadFirst(drivers: readonly SqliteDriverName[]): Promise<Opener> {
  const causes: { driver: SqliteDriverName; error: unknown }[] = []
  for (const driver of drivers) {
    try {
      return driver === "node:sqlite" ? await loadNodeSqlite() : await loadBetterSqlite3()
    } catch (error) {
      causes.push({ driver, error })
    }
  }
  throw driverUnavailable(causes)
}

function driverFromEnvironment(): SqliteDriverName | undefined {
  const named = process.env.REDUCTIO_SQLITE_DRIVER
  if (named === undefined || named === "" || named === "auto") return undefined
  if ((SQLITE_DRIVERS as readonly string[]).includes(named)) return named as SqliteDriverName
  throw new ReductioError(
    "CONFIG_INVALID",
    `REDUCTIO_SQLITE_DRIVER is "${named}": set it to one of ${SQLITE_DRIVERS.join(", ")} or auto (or unset it)`,
    { details: { variable: "REDUCTIO_SQLITE_DRIVER", value: named } },
  )
}

function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>
  if (versions.bun !== undefined) return `Bun ${versions.bun}`
  if (versions.deno !== undefined) return `Deno ${versions.deno}`
  return `Node ${process.versions.node}`
}

function driverUnavailable(causes: readonly { driver: SqliteDriverName; error: unknown }[]): ReductioError {
  const reasons = causes.map(({ driver, error }) => `${driver}: ${error instanceof Error ? error.message : String(error)}`)
  return new ReductioError(
    "DB_DRIVER_UNAVAILABLE",
    `no SQLite driver loads under ${runtimeName()} (${reasons.join("; ")}). ` +
      "Fix: run on Node 22.16 or later, Bun or Deno (they have node:sqlite), or install the native driver with " +
      "`npm install better-sqlite3` (`npm rebuild better-sqlite3` when it was built for another Node); or use `--db memory` or a postgres:// database",
    { cause: causes[causes.length - 1]?.error, details: { runtime: runtimeName(), drivers: causes.map((c) => c.driver) } },
  )
}

// --- node:sqlite -------------------------------------------------------------------------------

/** The subset of node:sqlite's StatementSync used here (Node 22.16+, Bun 1.3+, Deno 2.2+). */
interface NodeStatementSync {
  all(...parameters: unknown[]): unknown[]
  run(...parameters: unknown[]): SqliteRunResult
  iterate(...parameters: unknown[]): IterableIterator<unknown>
  columns(): unknown[]
  setReturnArrays(enabled: boolean): void
}

/** The subset of node:sqlite's DatabaseSync used here. */
interface NodeDatabaseSync {
  exec(sql: string): void
  prepare(sql: string): NodeStatementSync
  close(): void
  readonly isOpen: boolean
  readonly isTransaction: boolean
}

type NodeSqliteModule = { DatabaseSync: new (path: string, options?: { timeout?: number }) => NodeDatabaseSync }

async function loadNodeSqlite(): Promise<Opener> {
  const module = await importQuietly()
  const probe = new module.DatabaseSync(":memory:")
  try {
    const statement = probe.prepare("select 1")
    if (typeof statement.setReturnArrays !== "function" || typeof statement.columns !== "function" || !("isTransaction" in probe))
      throw new Error("this node:sqlite is too old (it lacks StatementSync.setReturnArrays; Node 22.16 or later has it)")
  } finally {
    probe.close()
  }
  return (path) => nodeConnection(new module.DatabaseSync(path))
}

/**
 * Imports node:sqlite without Node's one-time "SQLite is an experimental feature" warning, which
 * would otherwise land in the middle of the CLI's output. Other warnings pass.
 */
async function importQuietly(): Promise<NodeSqliteModule> {
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message
    if (/SQLite is an experimental feature/.test(text)) return
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    // A variable specifier keeps bundlers and type checkers for older runtimes out of it.
    const specifier = "node:sqlite"
    return (await import(specifier)) as NodeSqliteModule
  } finally {
    process.emitWarning = emitWarning
  }
}

function nodeConnection(database: NodeDatabaseSync): SqliteConnection {
  return {
    driver: "node:sqlite",
    exec: (sql) => database.exec(sql),
    prepare(sql) {
      const statement = database.prepare(sql)
      const reader = statement.columns().length > 0
      let arraysMode = false
      const mode = (arrays: boolean) => {
        if (arraysMode !== arrays) statement.setReturnArrays((arraysMode = arrays))
      }
      return {
        reader,
        all(parameters) {
          mode(false)
          return statement.all(...parameters)
        },
        arrays(parameters) {
          mode(true)
          return statement.all(...parameters) as unknown[][]
        },
        run: (parameters) => statement.run(...parameters),
        iterate(parameters) {
          mode(false)
          return statement.iterate(...parameters)
        },
      }
    },
    get inTransaction() {
      return database.isTransaction
    },
    get isOpen() {
      return database.isOpen
    },
    close: () => database.close(),
  }
}

// --- better-sqlite3 ----------------------------------------------------------------------------

/** The subset of better-sqlite3's Statement used here. */
interface BetterStatement {
  readonly reader: boolean
  all(...parameters: unknown[]): unknown[]
  run(...parameters: unknown[]): SqliteRunResult
  iterate(...parameters: unknown[]): IterableIterator<unknown>
  raw(enabled: boolean): BetterStatement
}

/** The subset of better-sqlite3's Database used here. */
interface BetterDatabase {
  exec(sql: string): void
  prepare(sql: string): BetterStatement
  close(): void
  readonly open: boolean
  readonly inTransaction: boolean
}

async function loadBetterSqlite3(): Promise<Opener> {
  const specifier = "better-sqlite3"
  const module = (await import(specifier)) as { default: new (path: string) => BetterDatabase }
  const BetterSqlite3 = module.default
  // The addon itself loads on first use: open one in memory so a missing or foreign build fails here.
  new BetterSqlite3(":memory:").close()
  return (path) => betterConnection(new BetterSqlite3(path))
}

function betterConnection(database: BetterDatabase): SqliteConnection {
  return {
    driver: "better-sqlite3",
    exec: (sql) => database.exec(sql),
    prepare(sql) {
      const statement = database.prepare(sql)
      let rawMode = false
      const mode = (raw: boolean) => {
        if (rawMode !== raw) statement.raw((rawMode = raw))
      }
      return {
        reader: statement.reader,
        all(parameters) {
          mode(false)
          return statement.all(...parameters)
        },
        arrays(parameters) {
          mode(true)
          return statement.all(...parameters) as unknown[][]
        },
        run(parameters) {
          return statement.run(...parameters)
        },
        iterate(parameters) {
          mode(false)
          return statement.iterate(...parameters)
        },
      }
    },
    get inTransaction() {
      return database.inTransaction
    },
    get isOpen() {
      return database.open
    },
    close: () => database.close(),
  }
}
