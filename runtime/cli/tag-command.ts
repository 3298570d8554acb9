/**
 * @module tag-command
 * `reductio tag <execution> [key=value…] [-d key…]` labels an execution (for `reductio log --tag`)
 * and prints its tags.
 */
import type { Backend } from "../backend/backend.js"
import { openBackend } from "../backend/open-backend.js"
import { loadConfig } from "../config/load-config.js"
import { exitCodeOf, ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"

interface TagFlags {
  delete?: string[]
  db?: string
  config?: string
  json?: boolean
}

export const registerTagCommand: CommandRegistration = (program, io, done) => {
  program
    .command("tag")
    .summary("set, remove or show an execution's tags")
    .argument("<execution>", "execution id or unique prefix")
    .argument("[tags...]", "tags to set, as key=value")
    .option("-d, --delete <key...>", "tag keys to remove")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
    .option("--config <path>", "configuration file")
    .option("--json", "print JSON")
    .action(async (execution: string, tags: string[], flags: TagFlags) => done(await tagCommand(io, execution, tags, flags)))
}

async function tagCommand(io: CliIo, executionId: string, tags: readonly string[], flags: TagFlags): Promise<number> {
  let backend: Backend | undefined
  try {
    const set = tags.map(parseTag)
    const loaded = await loadConfig(io.cwd, io.env, { configPath: flags.config, database: flags.db })
    backend = await openBackend(loaded.database, { cwd: loaded.projectDir })
    if (backend.getTags === undefined || backend.removeTags === undefined) {
      throw new ReductioError("INVALID_ARGUMENT", `${backend.description} does not store tags`)
    }
    const execution = await backend.getExecution(executionId)
    if (execution === undefined) throw new ReductioError("NOT_FOUND", `no execution ${executionId} (or the prefix is ambiguous)`)
    if (set.length > 0) await backend.write({ tags: set.map(([key, value]) => ({ executionId: execution.id, key, value })) })
    if (flags.delete !== undefined) await backend.removeTags(execution.id, flags.delete)
    const current = await backend.getTags(execution.id)
    if (flags.json === true) io.out(`${JSON.stringify({ execution: execution.id, tags: current })}\n`)
    else for (const [key, value] of Object.entries(current)) io.out(`${key}=${value}\n`)
    return 0
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    return exitCodeOf(error)
  } finally {
    await backend?.close().catch(() => undefined)
  }
}

function parseTag(tag: string): [string, string] {
  const at = tag.indexOf("=")
  if (at <= 0) throw new ReductioError("INVALID_ARGUMENT", `a tag is key=value (got ${JSON.stringify(tag)}); remove one with -d key`)
  return [tag.slice(0, at), tag.slice(at + 1)]
}
