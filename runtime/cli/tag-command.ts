import { ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import { withProjectBackend } from "./project-backend.js"
import type { CommandRegistration } from "./main.js"

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

function tagCommand(io: CliIo, executionId: string, tags: readonly string[], flags: TagFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend) => {
    const set = tags.map(parseTag)
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
  })
}

function parseTag(tag: string): [string, string] {
  const at = tag.indexOf("=")
  if (at <= 0) throw new ReductioError("INVALID_ARGUMENT", `a tag is key=value (got ${JSON.stringify(tag)}); remove one with -d key`)
  return [tag.slice(0, at), tag.slice(at + 1)]
}
