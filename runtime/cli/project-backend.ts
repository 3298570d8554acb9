/**
 * @module project-backend
 * The shape every database command shares: load the project's configuration, open its backend,
 * do the work, print a failure as one clear line with its exit code, and always close.
 */
import type { Backend } from "../backend/backend.js"
import { openBackend } from "../backend/open-backend.js"
import { type LoadedConfig, loadConfig } from "../config/load-config.js"
import { exitCodeOf } from "../errors.js"
import type { CliIo } from "./io.js"
import { formatFailure } from "./output.js"

/** The flags that choose the database. */
export interface DatabaseFlags {
  readonly db?: string | undefined
  readonly config?: string | undefined
}

/** Runs `action` with the project's backend open; resolves to the exit code. */
export async function withProjectBackend(
  io: CliIo,
  flags: DatabaseFlags,
  action: (backend: Backend, loaded: LoadedConfig) => Promise<void>,
): Promise<number> {
  let backend: Backend | undefined
  try {
    const loaded = await loadConfig(io.cwd, io.env, { configPath: flags.config, database: flags.db })
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
