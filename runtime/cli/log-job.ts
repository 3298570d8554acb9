/**
 * @module log-job
 * `reductio log <job or eval-hash prefix>`: one job with its call, arguments, result, times,
 * error (with its stack and log tail) and children; `reductio log --task NAME` / `--status S`:
 * the jobs that match, newest first.
 */
import type { Backend, JobQuery, JobView } from "../backend/backend.js"
import type { CliIo } from "./io.js"
import {
  briefError,
  formatDuration,
  formatJobTimes,
  formatTime,
  jobLabel,
  parseErrorRecord,
  previewText,
  ValuePreviews,
} from "./log-format.js"

/** Children a job view lists before saying how to see the rest. */
const SHOWN_CHILDREN = 20
/** Lines of a stack or log tail a job view shows. */
const TAIL_LINES = 40

/** Prints one job. */
export async function printJob(io: CliIo, backend: Backend, job: JobView, others: readonly JobView[], json: boolean): Promise<void> {
  const parent = job.parentSeq === null ? undefined : (await backend.findJobs?.({ executionId: job.executionId, seq: job.parentSeq }))?.[0]
  const children = (await backend.findJobs?.({ executionId: job.executionId, parentSeq: job.seq })) ?? []
  const call = job.callHash === null ? undefined : await backend.getCall?.(job.callHash)
  const previews = new ValuePreviews(backend)
  await previews.load(
    [job.argsHash, call?.valueHash, ...children.slice(0, SHOWN_CHILDREN).map((child) => child.argsHash)],
    [call, ...children.slice(0, SHOWN_CHILDREN).map((child) => child.callHash)],
  )
  const error = job.error === null ? undefined : parseErrorRecord(job.error)
  if (json) {
    io.out(
      `${JSON.stringify({ job, parent: parent ?? null, children, valueHash: call?.valueHash ?? null, error: error ?? null, others }, null, 2)}\n`,
    )
    return
  }
  const lines = [
    `job ${job.executionId}/${job.seq}  ${job.status}${job.cached ? " (cached)" : ""}`,
    `  call      ${jobLabel(job, parent?.taskName)}   task ${job.taskName} ${job.taskHash.slice(0, 12)}`,
    `  args      ${previews.args(job, 200) || "(not recorded)"}`,
  ]
  if (call !== undefined) lines.push(`  result    ${previews.value(call.valueHash, 200) || "(not recorded)"}`)
  lines.push(`  eval      ${job.evalHash}`)
  if (job.callHash !== null) lines.push(`  call hash ${job.callHash}`)
  lines.push(
    `  times     created ${formatTime(job.createdAt)}  ${formatJobTimes(job)}  total ${formatDuration(job.createdAt, job.endedAt)}`,
  )
  if (job.executor !== null) lines.push(`  executor  ${job.executor}`)
  if (job.reusedCalls != null) lines.push(`  reused    ${job.reusedCalls} recorded calls below it (call replay)`)
  if (job.executorJobId != null) lines.push(`  ran as    ${job.executorJobId}${job.image == null ? "" : `  image ${job.image}`}`)
  if (parent !== undefined) lines.push(`  parent    ${job.executionId}/${parent.seq}  ${jobLabel(parent)}`)
  if (error !== undefined) lines.push(...errorLines(error))
  else if (job.error !== null) lines.push(`  error     ${briefError(job.error)}`)
  lines.push(...childLines(job, children, previews))
  if (others.length > 0) {
    lines.push(`  the same call in ${others.length} other job${others.length === 1 ? "" : "s"}:`)
    for (const other of others.slice(0, 5)) lines.push(`    ${other.executionId}/${other.seq}  ${other.status}`)
  }
  io.out(`${lines.join("\n")}\n`)
}

function errorLines(error: NonNullable<ReturnType<typeof parseErrorRecord>>): string[] {
  const [first = "", ...rest] = (error.message ?? "").split("\n")
  const lines = [
    `  error     ${previewText(`${error.name ?? "Error"}${error.code === undefined ? "" : ` [${error.code}]`}: ${first}`, 500)}`,
  ]
  const details = error.details ?? {}
  if (typeof details.exitCode === "number") lines.push(`  exit code ${details.exitCode}`)
  const stderr = typeof details.stderrTail === "string" ? details.stderrTail : rest.join("\n")
  if (stderr.trim() !== "") lines.push(typeof details.stderrTail === "string" ? "  stderr (tail):" : "  more:", ...tail(stderr))
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line))
  if (frames.length > 0) lines.push("  stack:", ...frames.slice(0, TAIL_LINES).map((frame) => `    ${previewText(frame.trim(), 500)}`))
  if (typeof details.logTail === "string" && details.logTail.trim() !== "") lines.push("  log tail:", ...tail(details.logTail))
  return lines
}

function tail(text: string): string[] {
  return text
    .trimEnd()
    .split("\n")
    .slice(-TAIL_LINES)
    .map((line) => `    ${previewText(line, 500)}`)
}

function childLines(job: JobView, children: readonly JobView[], previews: ValuePreviews): string[] {
  if (children.length === 0) return []
  const lines = [`  children  ${children.length}`]
  for (const child of children.slice(0, SHOWN_CHILDREN)) {
    const error = child.error === null ? "" : `  ${briefError(child.error)}`
    lines.push(
      `    ${child.status.padEnd(9)} ${job.executionId}/${child.seq}  ${jobLabel(child, job.taskName)} (${previews.args(child, 60)})${error}`,
    )
  }
  if (children.length > SHOWN_CHILDREN) {
    lines.push(`    … ${children.length - SHOWN_CHILDREN} more: reductio log ${job.executionId} --all`)
  }
  return lines
}

/** Prints the jobs a query finds (`--task`, `--status`), newest first, a page at a time. */
export async function printJobList(
  io: CliIo,
  backend: Backend,
  query: JobQuery & { limit: number; offset: number },
  json: boolean,
): Promise<void> {
  const found = (await backend.findJobs?.({ ...query, limit: query.limit + 1 })) ?? []
  const jobs = found.slice(0, query.limit)
  if (json) {
    io.out(`${JSON.stringify(jobs, null, 2)}\n`)
    return
  }
  const what = [query.taskName && `task ${query.taskName}`, query.status && `status ${query.status}`].filter(Boolean).join(" and ")
  if (jobs.length === 0) {
    io.out(`no job${query.executionId === undefined ? "" : ` of execution ${query.executionId}`} has ${what}\n`)
    return
  }
  const previews = new ValuePreviews(backend)
  await previews.load(
    jobs.map((job) => job.argsHash),
    jobs.map((job) => job.callHash),
  )
  const lines = jobs.map((job) => {
    const error = job.error === null ? "" : `  ${briefError(job.error)}`
    return `${job.status.padEnd(9)} ${job.executionId}/${job.seq}  ${jobLabel(job)} (${previews.args(job, 60)})  ${formatJobTimes(job)}  ${job.evalHash.slice(0, 12)}${error}`
  })
  if (found.length > query.limit) lines.push(`… more: reductio log ${flagsOf(query)} --offset ${query.offset + query.limit}`)
  io.out(`${lines.join("\n")}\n`)
}

function flagsOf(query: JobQuery & { limit: number }): string {
  return [
    query.executionId,
    query.taskName === undefined ? undefined : `--task ${query.taskName}`,
    query.status === undefined ? undefined : `--status ${query.status}`,
    `--limit ${query.limit}`,
  ]
    .filter(Boolean)
    .join(" ")
}
