/**
 * @module project-backend
 * The shape every database command shares: load the project's configuration, open its backend,
 * do the work, print a failure as one clear line with its exit code, and always close.
 */
import { existsSync } from "node:fs"
import type { Backend } from "../backend/backend.js"
import { openBackend } from "../backend/open-backend.js"
import { type LoadedConfig, loadConfig } from "../config/load-config.js"
import { exitCodeOf, ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import { formatFailure } from "./output.js"

/** The flags that choose the database. */
export interface DatabaseFlags {
  readonly db?: string | undefined
  readonly config?: string | undefined
}

/**
 * Runs `action` with the project's backend open; resolves to the exit code. With `existing`, a
 * SQLite database that does not exist yet is NOT_FOUND rather than created (a command that only
 * reads, run in the wrong folder, should not leave an empty database there).
 */
export async function withProjectBackend(
  io: CliIo,
  flags: DatabaseFlags,
  action: (backend: Backend, loaded: LoadedConfig) => Promise<void>,
  options: { readonly existing?: boolean } = {},
): Promise<number> {
  let backend: Backend | undefined
  try {
    const loaded = await loadConfig(io.cwd, io.env, { configPath: flags.config, database: flags.db })
    if (options.existing === true && isSqlitePath(loaded.database) && !existsSync(loaded.database)) {
      throw new ReductioError(
        "NOT_FOUND",
        `no reductio database at ${loaded.database}: nothing has run in this project yet (run a workflow with \`reductio run\`), or name the database with --db or REDUCTIO_DB`,
        { details: { path: loaded.database } },
      )
    }
    backend = await openBackend(loaded.database, { cwd: loaded.projectDir })
    await action(backend, loaded)
    return 0
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    return exitCodeOf(error)
  } finally {
    await backend?.close().catch(() => undefined)
  }
}

function isSqlitePath(database: string): boolean {
  return database !== "memory" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(database)
}
