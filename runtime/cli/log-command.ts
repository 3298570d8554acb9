/**
 * @module log-command
 * `reductio log` lists executions; `reductio log <execution-id>` prints one execution's job tree
 * with status and durations; `reductio log --file <uri>` shows a file's lineage; `--json` for all.
 */
import { resolve } from "node:path"
import type { Backend, ExecutionRecord, JobView } from "../backend/backend.js"
import { ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import { withProjectBackend } from "./project-backend.js"
import type { CommandRegistration } from "./main.js"

interface LogFlags {
  json?: boolean
  db?: string
  config?: string
  limit?: string
  file?: string
  tag?: string
}

export const registerLogCommand: CommandRegistration = (program, io, done) => {
  program
    .command("log")
    .summary("list executions, or show one execution's jobs")
    .description("Without an id: the latest executions. With an execution id (or a unique prefix): its job tree with status and durations.")
    .argument("[execution]", "execution id or unique prefix")
    .option("--json", "print JSON")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
    .option("--config <path>", "configuration file")
    .option("--limit <n>", "how many executions to list", "20")
    .option("--file <uri>", "show which call produced a file and which calls consumed it")
    .option("--tag <key=value>", "only executions with this tag")
    .action(async (execution: string | undefined, flags: LogFlags) => done(await logCommand(io, execution, flags)))
}

function logCommand(io: CliIo, executionId: string | undefined, flags: LogFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend) => {
    if (flags.file !== undefined) await printLineage(io, backend, flags.file, flags.json === true)
    else if (executionId === undefined) await printExecutions(io, backend, flags)
    else await printJobs(io, backend, executionId, flags.json === true)
  })
}

async function printExecutions(io: CliIo, backend: Backend, flags: LogFlags): Promise<void> {
  const limit = Number(flags.limit ?? 20)
  if (!Number.isInteger(limit) || limit < 1)
    throw new ReductioError("INVALID_ARGUMENT", `--limit must be a positive integer (got ${flags.limit})`)
  const executions = await backend.listExecutions({ limit, ...(flags.tag === undefined ? {} : { tag: flags.tag }) })
  if (flags.json === true) {
    io.out(`${JSON.stringify(executions, null, 2)}\n`)
    return
  }
  if (executions.length === 0) {
    io.out(`no executions recorded in ${backend.description}\n`)
    return
  }
  for (const e of executions) {
    io.out(
      `${e.id}  ${e.status.padEnd(9)}  ${formatTime(e.startedAt)}  ${formatDuration(e.startedAt, e.endedAt).padStart(8)}  ${e.command}\n`,
    )
  }
}

async function printJobs(io: CliIo, backend: Backend, idOrPrefix: string, json: boolean): Promise<void> {
  const execution = await findExecution(backend, idOrPrefix)
  const jobs = await backend.listJobs(execution.id)
  if (json) {
    io.out(`${JSON.stringify({ execution, jobs }, null, 2)}\n`)
    return
  }
  const counts = new Map<string, number>()
  for (const job of jobs) counts.set(job.status, (counts.get(job.status) ?? 0) + 1)
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(", ")
  const lines = [
    `execution ${execution.id}  ${execution.status}  ${formatTime(execution.startedAt)}  ${formatDuration(execution.startedAt, execution.endedAt)}`,
    `  ${execution.command}`,
    `  ${jobs.length} jobs: ${summary || "none"}`,
  ]
  if (execution.error !== null) lines.push(`  error: ${execution.error}`)
  for (const line of jobTree(jobs)) lines.push(line)
  io.out(`${lines.join("\n")}\n`)
}

/** Job lines indented by depth in the call tree; siblings with many entries are elided. */
function jobTree(jobs: readonly JobView[]): string[] {
  const children = new Map<number | null, JobView[]>()
  for (const job of jobs) {
    const list = children.get(job.parentSeq)
    if (list === undefined) children.set(job.parentSeq, [job])
    else list.push(job)
  }
  const lines: string[] = []
  const maxSiblings = 50
  const stack: { job: JobView; depth: number }[] = (children.get(null) ?? []).map((job) => ({ job, depth: 1 })).reverse()
  while (stack.length > 0) {
    const { job, depth } = stack.pop() as { job: JobView; depth: number }
    if (job.seq < 0) {
      lines.push(`${indent(depth)}… ${-job.seq} more`)
      continue
    }
    const duration = formatDuration(job.startedAt, job.endedAt)
    const error = job.error === null ? "" : `  ${briefError(job.error)}`
    const reused = job.reusedCalls == null ? "" : `  (reused ${job.reusedCalls} recorded calls below)`
    lines.push(`${indent(depth)}${job.status.padEnd(9)} ${job.taskName}  ${duration}  ${job.evalHash.slice(0, 12)}${error}${reused}`)
    const kids = children.get(job.seq) ?? []
    const shown =
      kids.length > maxSiblings ? [...kids.slice(0, maxSiblings), { ...(kids[0] as JobView), seq: -(kids.length - maxSiblings) }] : kids
    for (let i = shown.length - 1; i >= 0; i--) stack.push({ job: shown[i] as JobView, depth: depth + 1 })
  }
  return lines
}

/** Indentation for a tree depth; past 24 levels (deep recursion) the depth is written as a number. */
function indent(depth: number): string {
  const maxDepth = 24
  return depth <= maxDepth ? "  ".repeat(depth) : `${"  ".repeat(maxDepth)}[${depth}] `
}

async function printLineage(io: CliIo, backend: Backend, uri: string, json: boolean): Promise<void> {
  if (backend.fileUses === undefined) throw new ReductioError("INVALID_ARGUMENT", `${backend.description} does not record file lineage`)
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : resolve(io.cwd, uri)
  const uses = await backend.fileUses(path)
  if (json) {
    io.out(`${JSON.stringify({ path, uses }, null, 2)}\n`)
    return
  }
  if (uses.length === 0) {
    io.out(`no call recorded ${path}\n`)
    return
  }
  const producers = uses.filter((use) => use.role === "output")
  const consumers = uses.filter((use) => use.role === "input")
  const line = (use: (typeof uses)[number]) =>
    `  ${use.taskName}  call ${use.callHash.slice(0, 12)}  file ${use.fileHash.slice(0, 12)}${use.executionId === null ? "" : `  execution ${use.executionId}`}${use.at === null ? "" : `  ${formatTime(use.at)}`}`
  io.out(
    `${path}\nproduced by:\n${producers.map(line).join("\n") || "  (no recorded call)"}\nconsumed by:\n${consumers.map(line).join("\n") || "  (no recorded call)"}\n`,
  )
}

async function findExecution(backend: Backend, idOrPrefix: string): Promise<ExecutionRecord> {
  const execution = await backend.getExecution(idOrPrefix)
  if (execution === undefined) {
    throw new ReductioError(
      "NOT_FOUND",
      `no execution matches "${idOrPrefix}" in ${backend.description} (or the prefix is ambiguous); run reductio log to list them`,
    )
  }
  return execution
}

function briefError(json: string): string {
  try {
    const record = JSON.parse(json) as { name?: string; message?: string }
    return `${record.name ?? "Error"}: ${(record.message ?? "").split("\n")[0]}`
  } catch {
    return json.slice(0, 120)
  }
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19)
}

function formatDuration(start: number, end: number | null): string {
  if (end === null) return "-"
  const seconds = (end - start) / 1000
  return seconds < 60
    ? `${seconds.toFixed(seconds < 10 ? 3 : 1)}s`
    : `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`
}
