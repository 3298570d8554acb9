/**
 * @module db-command
 * `reductio db migrate` creates or upgrades the database's schema; `reductio db info` shows which
 * database is in use and its schema state.
 */
import type { Backend } from "../backend/backend.js"
import { knownMigrationNames } from "../backend/migrations.js"
import type { CliIo } from "./io.js"
import { withProjectBackend } from "./project-backend.js"
import type { CommandRegistration } from "./main.js"

interface DbFlags {
  db?: string
  config?: string
  json?: boolean
}

export const registerDbCommand: CommandRegistration = (program, io, done) => {
  const db = program.command("db").summary("manage the database (schema migrations, info)")
  for (const [name, summary] of [
    ["migrate", "create or upgrade the database schema"],
    ["info", "show the database in use, its schema version and size"],
  ] as const) {
    db.command(name)
      .summary(summary)
      .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
      .option("--config <path>", "configuration file")
      .option("--json", "print JSON")
      .action(async (flags: DbFlags) => done(await dbCommand(io, name, flags)))
  }
}

function dbCommand(io: CliIo, action: "migrate" | "info", flags: DbFlags): Promise<number> {
  // Opening applies any missing migration (or refuses a newer schema).
  return withProjectBackend(io, flags, async (backend) => {
    const applied = await appliedMigrations(backend)
    const known = knownMigrationNames()
    const info = {
      database: backend.description,
      migrations: applied,
      upToDate: applied === undefined || known.every((name) => applied.includes(name)),
      executions: action === "info" ? (await backend.listExecutions()).length : undefined,
    }
    if (flags.json === true) io.out(`${JSON.stringify(info)}\n`)
    else if (action === "migrate") io.out(`${info.database}: schema up to date (${(applied ?? known).join(", ")})\n`)
    else {
      io.out(`database    ${info.database}\n`)
      io.out(`migrations  ${applied === undefined ? "(none: in memory)" : applied.join(", ")}\n`)
      io.out(`executions  ${info.executions}\n`)
    }
  })
}

async function appliedMigrations(backend: Backend): Promise<string[] | undefined> {
  const withMigrations = backend as Backend & { appliedMigrations?: () => Promise<string[]> }
  return withMigrations.appliedMigrations?.()
}
