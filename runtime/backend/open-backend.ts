/**
 * @module open-backend
 * Opens a backend from one string, as `--db` and `REDUCTIO_DB` give it. The SQL backends load
 * lazily here (dynamic import), so kysely, better-sqlite3 and pg load only when used and never
 * inside an agent's container.
 */
import { isAbsolute, resolve } from "node:path"
import type { Backend } from "./backend.js"
import { MemoryBackend } from "./memory-backend.js"

/** Options of {@link openBackend}. */
export interface OpenBackendOptions {
  /** The directory relative SQLite paths are resolved against (default: the process's cwd). */
  readonly cwd?: string
}

/**
 * Opens (creating or upgrading the schema) the backend a spec names:
 * `memory`; `postgres://…` or `postgresql://…`; otherwise a SQLite path, optionally `sqlite:`-prefixed,
 * relative to `cwd`.
 *
 * @example
 * const backend = await openBackend(".reductio/reductio.db")
 * const shared = await openBackend("postgres://ci@db.internal/reductio")
 */
export async function openBackend(spec: string, options: OpenBackendOptions = {}): Promise<Backend> {
  const backend = await createBackend(spec, options)
  await backend.open()
  return backend
}

/** Creates, without opening, the backend a spec names (see {@link openBackend}). */
export async function createBackend(spec: string, options: OpenBackendOptions = {}): Promise<Backend> {
  const kind = backendKind(spec)
  if (kind === "memory") return new MemoryBackend()
  if (kind === "postgres") {
    const { PostgresBackend } = await postgresModule()
    return new PostgresBackend(spec)
  }
  const path = spec.startsWith("sqlite:") ? spec.slice("sqlite:".length) : spec
  const { SqliteBackend } = await sqliteModule()
  return new SqliteBackend(isAbsolute(path) ? path : resolve(options.cwd ?? process.cwd(), path))
}

/**
 * Loads the modules (driver, query builder) of the backend a spec names, without creating it:
 * a host can load them before anything that would slow module loading down (the TypeScript
 * loader's hooks thread, which every later `import()` passes through). For SQLite that includes
 * the binding the environment picks; one that does not load fails later, at open.
 */
export async function loadBackendModules(spec: string): Promise<void> {
  const kind = backendKind(spec)
  if (kind === "postgres") await postgresModule()
  else if (kind === "sqlite") await (await sqliteModule()).preloadSqliteDriver()
}

let postgres: Promise<typeof import("./postgres-backend.js")> | undefined
let sqlite: Promise<typeof import("./sqlite-backend.js")> | undefined

/** The backend modules, imported once: each `import()` would be resolved again (through the hooks). */
function postgresModule(): Promise<typeof import("./postgres-backend.js")> {
  postgres ??= import("./postgres-backend.js")
  postgres.catch(() => (postgres = undefined))
  return postgres
}

function sqliteModule(): Promise<typeof import("./sqlite-backend.js")> {
  sqlite ??= import("./sqlite-backend.js")
  sqlite.catch(() => (sqlite = undefined))
  return sqlite
}

function backendKind(spec: string): "memory" | "postgres" | "sqlite" {
  if (spec === "memory") return "memory"
  return /^postgres(ql)?:\/\//i.test(spec) ? "postgres" : "sqlite"
}
