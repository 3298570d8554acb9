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
    const { PostgresBackend } = await import("./postgres-backend.js")
    return new PostgresBackend(spec)
  }
  const path = spec.startsWith("sqlite:") ? spec.slice("sqlite:".length) : spec
  const { SqliteBackend } = await import("./sqlite-backend.js")
  return new SqliteBackend(isAbsolute(path) ? path : resolve(options.cwd ?? process.cwd(), path))
}

/**
 * Loads the modules (driver, query builder) of the backend a spec names, without creating it:
 * a host can load them before anything that would slow module loading down.
 */
export async function loadBackendModules(spec: string): Promise<void> {
  const kind = backendKind(spec)
  if (kind === "postgres") await import("./postgres-backend.js")
  else if (kind === "sqlite") await import("./sqlite-backend.js")
}

function backendKind(spec: string): "memory" | "postgres" | "sqlite" {
  if (spec === "memory") return "memory"
  return /^postgres(ql)?:\/\//i.test(spec) ? "postgres" : "sqlite"
}
