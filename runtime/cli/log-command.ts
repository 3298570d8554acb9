/**
 * @module log-command
 * `reductio log`: the latest executions; `reductio log <ref>`: one execution (`-` the latest), one
 * job (`<execution>/<seq>`) or the newest job of a call (an eval-hash prefix); `--task` and
 * `--status` list matching jobs; `--file <uri>` shows a file's lineage; `--json` for all.
 */
import type { Backend, JobStatus } from "../backend/backend.js"
import { ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import { type ExecutionLayout, printExecution, printExecutions } from "./log-execution.js"
import { printJob, printJobList } from "./log-job.js"
import { printLineage } from "./log-lineage.js"
import { resolveExecution, resolveRef } from "./log-resolve.js"
import type { CommandRegistration } from "./main.js"
import { withProjectBackend } from "./project-backend.js"

interface LogFlags {
  json?: boolean
  db?: string
  config?: string
  limit?: string
  offset?: string
  all?: boolean
  file?: string
  tag?: string
  task?: string
  status?: string
}

const STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "WAITING", "DONE", "CACHED", "FAILED", "CANCELLED"]
const MAX_LIMIT = 1_000_000

export const registerLogCommand: CommandRegistration = (program, io, done) => {
  program
    .command("log")
    .summary("list executions, or show one execution, job or call")
    .description(
      "Without a ref: the latest executions. With one: an execution id or unique prefix (- for the latest) shows its job tree;\n" +
        "<execution>/<seq> or an eval-hash prefix shows one job: arguments, result, times, error, log tail and children.",
    )
    .argument("[ref]", "execution id or prefix, -, <execution>/<seq>, or eval-hash prefix")
    .option("--json", "print JSON")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
    .option("--config <path>", "configuration file")
    .option("--limit <n>", "how many executions (default 20) or jobs (default 50) to list; with an execution: a page of its jobs")
    .option("--offset <n>", "skip this many jobs (with --limit, --task or --status)")
    .option("--all", "with an execution: its whole job tree, untruncated")
    .option("--file <uri>", "which calls produced a file (and upstream, their inputs' producers) and which consumed it")
    .option("--tag <key=value>", "only executions with this tag")
    .option("--task <name>", "jobs of this task (in the execution given, else in all, newest first)")
    .option("--status <status>", `jobs with this status: ${STATUSES.join(", ")}`)
    .action(async (ref: string | undefined, flags: LogFlags) => done(await logCommand(io, ref, flags)))
}

function logCommand(io: CliIo, ref: string | undefined, flags: LogFlags): Promise<number> {
  return withProjectBackend(
    io,
    flags,
    async (backend) => {
      // An execution whose host died shows as ABANDONED, not RUNNING forever.
      await backend.abandonStaleExecutions?.(Date.now())
      const json = flags.json === true
      if (flags.file !== undefined) return printLineage(io, backend, flags.file, json)
      if (flags.task !== undefined || flags.status !== undefined) return listJobs(io, backend, ref, flags)
      if (ref === undefined) {
        const executions = await backend.listExecutions({
          limit: count(flags.limit, "--limit", 20),
          ...(flags.tag === undefined ? {} : { tag: flags.tag }),
        })
        if (json) io.out(`${JSON.stringify(executions, null, 2)}\n`)
        else await printExecutions(io, backend, executions, flags.tag)
        return
      }
      const found = await resolveRef(backend, ref)
      if (found.kind === "job") return printJob(io, backend, found.job, found.others, json)
      await printExecution(io, backend, found.execution, layoutOf(flags), json)
    },
    { existing: true },
  )
}

function layoutOf(flags: LogFlags): ExecutionLayout {
  if (flags.limit === undefined && flags.offset === undefined) return { mode: "tree", all: flags.all === true }
  if (flags.all === true) throw new ReductioError("INVALID_ARGUMENT", "--all shows the whole tree; --limit and --offset a page: choose one")
  return { mode: "page", limit: count(flags.limit, "--limit", 100), offset: count(flags.offset, "--offset", 0, 0) }
}

async function listJobs(io: CliIo, backend: Backend, ref: string | undefined, flags: LogFlags): Promise<void> {
  if (backend.findJobs === undefined) throw new ReductioError("INVALID_ARGUMENT", `${backend.description} cannot search jobs`)
  const status = flags.status?.toUpperCase()
  if (status !== undefined && !STATUSES.includes(status as JobStatus)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `--status is one of ${STATUSES.join(", ")} (got ${JSON.stringify(flags.status?.slice(0, 40))})`,
    )
  }
  const execution = ref === undefined ? undefined : await resolveExecution(backend, ref)
  await printJobList(
    io,
    backend,
    {
      ...(execution === undefined ? {} : { executionId: execution.id }),
      ...(flags.task === undefined ? {} : { taskName: flags.task }),
      ...(status === undefined ? {} : { status: status as JobStatus }),
      limit: count(flags.limit, "--limit", 50),
      offset: count(flags.offset, "--offset", 0, 0),
    },
    flags.json === true,
  )
}

/** A count flag: a whole number from `min`, at most a million. */
function count(text: string | undefined, flag: string, fallback: number, min = 1): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d{1,7}$/.test(text) || value < min || value > MAX_LIMIT) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `${flag} must be a whole number from ${min} to ${MAX_LIMIT} (got ${JSON.stringify(text.slice(0, 40))})`,
    )
  }
  return value
}
