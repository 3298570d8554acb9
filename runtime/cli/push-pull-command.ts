/**
 * @module push-pull-command
 * `reductio push <db-url> [execution…]` copies executions (all, or those named) with their call
 * graph, values, tasks and tags from the project's database to another; `reductio pull <db-url>`
 * copies the other way. Both are idempotent: an interrupted copy leaves the target consistent,
 * and running it again completes it.
 */
import type { Backend } from "../backend/backend.js"
import { copyExecutions } from "../backend/copy-executions.js"
import { openBackend } from "../backend/open-backend.js"
import { loadConfig } from "../config/load-config.js"
import { exitCodeOf } from "../errors.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"

interface CopyFlags {
  db?: string
  config?: string
  json?: boolean
  quiet?: boolean
}

export const registerPushPullCommands: CommandRegistration = (program, io, done) => {
  for (const direction of ["push", "pull"] as const) {
    program
      .command(direction)
      .summary(direction === "push" ? "copy executions to another database" : "copy executions from another database")
      .argument("<db-url>", "the other database: a SQLite path or postgres:// URL")
      .argument("[executions...]", "execution ids or unique prefixes (default: all)")
      .option("--db <url>", "this project's database (env REDUCTIO_DB)")
      .option("--config <path>", "configuration file")
      .option("--json", "print JSON")
      .option("-q, --quiet", "print nothing but errors")
      .action(async (other: string, executions: string[], flags: CopyFlags) =>
        done(await copyCommand(io, direction, other, executions, flags)),
      )
  }
}

async function copyCommand(io: CliIo, direction: "push" | "pull", other: string, executions: string[], flags: CopyFlags): Promise<number> {
  let local: Backend | undefined
  let remote: Backend | undefined
  try {
    const loaded = await loadConfig(io.cwd, io.env, { configPath: flags.config, database: flags.db })
    local = await openBackend(loaded.database, { cwd: loaded.projectDir })
    remote = await openBackend(other, { cwd: io.cwd })
    const [source, target] = direction === "push" ? [local, remote] : [remote, local]
    // Copied once as ABANDONED: a dead host's RUNNING execution would be copied again every time.
    await source.abandonStaleExecutions?.(Date.now())
    const counts = await copyExecutions(source, target, {
      executions,
      onExecution: (execution, copied) => {
        if (flags.quiet !== true && flags.json !== true)
          io.err(
            `${direction === "push" ? "pushed" : "pulled"} ${execution.id} (${copied.jobs} jobs, ${copied.calls} calls, ${copied.values} values)\n`,
          )
      },
    })
    if (flags.json === true) io.out(`${JSON.stringify({ from: source.description, to: target.description, ...counts })}\n`)
    else if (flags.quiet !== true)
      io.out(
        `${counts.executions} execution(s) copied from ${source.description} to ${target.description}${counts.present > 0 ? `, ${counts.present} already there` : ""}\n`,
      )
    return 0
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    return exitCodeOf(error)
  } finally {
    await local?.close().catch(() => undefined)
    await remote?.close().catch(() => undefined)
  }
}
