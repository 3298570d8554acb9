/**
 * @module log-execution
 * `reductio log`: the latest executions; `reductio log <execution>`: one execution with its tags,
 * counts (the run summary's) and job tree, truncated with a word on how to see the rest;
 * `--all` shows the whole tree, `--limit/--offset` a flat page of jobs in sequence order.
 */
import type { Backend, ExecutionView, JobCounts, JobParent, JobView } from "../backend/backend.js"
import type { CliIo } from "./io.js"
import {
  briefError,
  countsOf,
  formatDuration,
  formatJobTimes,
  formatTime,
  formatTotals,
  jobLabel,
  previewText,
  totalsOf,
  ValuePreviews,
} from "./log-format.js"
import { AUTO_TAG_KEYS } from "./run-tags.js"

/** How one execution is shown: the tree (truncated or whole) or a page of jobs. */
export type ExecutionLayout =
  | { readonly mode: "tree"; readonly all: boolean }
  | { readonly mode: "page"; readonly limit: number; readonly offset: number }

/** Siblings shown per parent, and lines in all, before a truncated tree says how to see the rest. */
const MAX_SIBLINGS = 50
const MAX_LINES = 200
/** Deeper than this, a tree line writes its depth as a number. */
const MAX_INDENT = 24
/** Jobs one query asks for by seq. */
const SEQS_PER_QUERY = 1000

export async function printExecutions(
  io: CliIo,
  backend: Backend,
  executions: readonly ExecutionView[],
  tag: string | undefined,
): Promise<void> {
  if (executions.length === 0) {
    io.out(tag === undefined ? `no executions recorded in ${backend.description}\n` : `no execution has tag ${tag}\n`)
    return
  }
  for (const e of executions) {
    const own = Object.entries(e.tags).filter(([key]) => !AUTO_TAG_KEYS.has(key))
    const tags = own.length === 0 ? "" : `  [${previewText(own.map(([key, value]) => `${key}=${value}`).join(" "), 200)}]`
    const command = previewText(e.command, 200)
    io.out(
      `${e.id}  ${e.status.padEnd(9)}  ${formatTime(e.startedAt)}  ${formatDuration(e.startedAt, e.endedAt).padStart(8)}  ${command}${tags}\n`,
    )
  }
}

export async function printExecution(
  io: CliIo,
  backend: Backend,
  execution: ExecutionView,
  view: ExecutionLayout,
  json: boolean,
): Promise<void> {
  // A truncated tree reads the tree's shape, then only the jobs it shows.
  if (view.mode === "tree" && !view.all && !json && backend.jobParents !== undefined && backend.findJobs !== undefined) {
    const counts = (await backend.countJobs?.(execution.id)) ?? countsOf(await backend.listJobs(execution.id))
    const tree = jobTree(await backend.jobParents(execution.id), false)
    const shown = await jobsBySeq(
      backend,
      execution.id,
      tree.shown.map(({ job }) => job.seq),
    )
    const lines = headerLines(execution, counts)
    const previews = new ValuePreviews(backend)
    await previews.load(
      [...shown.values()].map((job) => job.argsHash),
      [...shown.values()].map((job) => job.callHash),
    )
    for (const { job, depth, parent } of tree.shown) {
      const full = shown.get(job.seq)
      if (full !== undefined) lines.push(jobLine(full, depth, parent === undefined ? undefined : shown.get(parent.seq), previews))
    }
    if (tree.hidden > 0) lines.push(moreLine(execution, tree.hidden))
    io.out(`${lines.join("\n")}\n`)
    return
  }
  const page = view.mode === "page" && backend.findJobs !== undefined
  const jobs = page
    ? ((await backend.findJobs?.({ executionId: execution.id, limit: view.limit, offset: view.offset })) ?? [])
    : await backend.listJobs(execution.id)
  const counts = (await backend.countJobs?.(execution.id)) ?? countsOf(page ? await backend.listJobs(execution.id) : jobs)
  if (json) {
    io.out(`${JSON.stringify({ execution, counts, totals: totalsOf(counts), jobs }, null, 2)}\n`)
    return
  }
  const lines = headerLines(execution, counts)
  const previews = new ValuePreviews(backend)
  if (view.mode === "page") {
    await previews.load(
      jobs.map((job) => job.argsHash),
      jobs.map((job) => job.callHash),
    )
    lines.push(...pageLines(execution, jobs, counts.jobs, view, previews))
  } else {
    const tree = jobTree(jobs, view.all)
    const argsHashes = await argsHashesOf(backend, execution.id, tree.shown)
    await previews.load(
      argsHashes.values(),
      tree.shown.map(({ job }) => job.callHash),
    )
    lines.push(
      ...tree.shown.map(({ job, depth, parent }) =>
        jobLine({ ...job, argsHash: argsHashes.get(job.seq) ?? null }, depth, parent, previews),
      ),
    )
    if (tree.hidden > 0) lines.push(moreLine(execution, tree.hidden))
  }
  io.out(`${lines.join("\n")}\n`)
}

/** The execution's own lines: id, status, times, command, tags, totals, error. */
function headerLines(execution: ExecutionView, counts: JobCounts): string[] {
  const lines = [
    `execution ${execution.id}  ${execution.status}  ${formatTime(execution.startedAt)}  ${formatDuration(execution.startedAt, execution.endedAt)}`,
    `  ${previewText(execution.command, 1000)}`,
  ]
  const tags = Object.entries(execution.tags)
  if (tags.length > 0) lines.push(`  tags: ${previewText(tags.map(([key, value]) => `${key}=${value}`).join(" "), 1000)}`)
  lines.push(`  ${formatTotals(totalsOf(counts))}`)
  if (execution.error !== null) lines.push(`  error: ${previewText(execution.error.split("\n")[0] ?? "", 300)}`)
  return lines
}

function moreLine(execution: ExecutionView, hidden: number): string {
  return `  … ${hidden} more jobs not shown: reductio log ${execution.id} --all (the whole tree), or --limit 100 --offset 0 (a page in sequence order)`
}

/** The jobs of `seqs`, with their args hashes, by seq. */
async function jobsBySeq(backend: Backend, executionId: string, seqs: readonly number[]): Promise<Map<number, JobView>> {
  const jobs = new Map<number, JobView>()
  for (let i = 0; i < seqs.length && backend.findJobs !== undefined; i += SEQS_PER_QUERY) {
    for (const job of await backend.findJobs({ executionId, seqs: seqs.slice(i, i + SEQS_PER_QUERY) })) jobs.set(job.seq, job)
  }
  return jobs
}

/** The args hashes of the jobs shown: listJobs leaves finished jobs' to their call nodes. */
async function argsHashesOf(backend: Backend, executionId: string, shown: readonly TreeLine[]): Promise<Map<number, string | null>> {
  const hashes = new Map(shown.map(({ job }) => [job.seq, job.argsHash]))
  const missing = shown.filter(({ job }) => job.argsHash === null && job.callHash !== null).map(({ job }) => job.seq)
  for (let i = 0; i < missing.length && backend.findJobs !== undefined; i += SEQS_PER_QUERY) {
    const found = await backend.findJobs({ executionId, seqs: missing.slice(i, i + SEQS_PER_QUERY) })
    for (const job of found) hashes.set(job.seq, job.argsHash)
  }
  return hashes
}

function pageLines(
  execution: ExecutionView,
  jobs: readonly JobView[],
  total: number,
  view: { limit: number; offset: number },
  previews: ValuePreviews,
): string[] {
  const lines = [`  jobs ${Math.min(view.offset + 1, total)}-${view.offset + jobs.length} of ${total} in sequence order`]
  for (const job of jobs) {
    const parent = job.parentSeq === null ? "" : ` ← ${job.parentSeq}`
    lines.push(`  ${String(job.seq).padStart(6)}${parent.padEnd(9)} ${lineBody(job, undefined, previews)}`)
  }
  if (view.offset + jobs.length < total)
    lines.push(`  … next: reductio log ${execution.id} --limit ${view.limit} --offset ${view.offset + jobs.length}`)
  return lines
}

function lineBody(job: JobView, parent: JobView | undefined, previews: ValuePreviews): string {
  const error = job.error === null ? "" : `  ${briefError(job.error)}`
  const reused = job.reusedCalls == null ? "" : `  (reused ${job.reusedCalls} recorded calls below)`
  const args = previews.args(job, 60)
  return `${job.status.padEnd(9)} ${jobLabel(job, parent?.taskName)} (${args})  ${formatJobTimes(job)}  ${job.evalHash.slice(0, 12)}${error}${reused}`
}

function jobLine(job: JobView, depth: number, parent: JobView | undefined, previews: ValuePreviews): string {
  const indent = depth <= MAX_INDENT ? "  ".repeat(depth) : `${"  ".repeat(MAX_INDENT)}[${depth}] `
  return `${indent}${lineBody(job, parent, previews)}`
}

interface TreeLine<J extends JobParent = JobView> {
  readonly job: J
  readonly depth: number
  readonly parent: J | undefined
}

/** The tree's lines, depth first; unless `all`, at most MAX_SIBLINGS per parent and MAX_LINES in all. */
function jobTree<J extends JobParent>(jobs: readonly J[], all: boolean): { shown: TreeLine<J>[]; hidden: number } {
  const children = new Map<number | null, J[]>()
  const bySeq = new Map<number, J>()
  for (const job of jobs) {
    bySeq.set(job.seq, job)
    const list = children.get(job.parentSeq)
    if (list === undefined) children.set(job.parentSeq, [job])
    else list.push(job)
  }
  // A job whose parent is not listed (a partial copy) is a root.
  const roots = jobs.filter((job) => job.parentSeq === null || !bySeq.has(job.parentSeq))
  const shown: TreeLine<J>[] = []
  const stack: TreeLine<J>[] = roots.map((job) => ({ job, depth: 1, parent: undefined })).reverse()
  while (stack.length > 0 && (all || shown.length < MAX_LINES)) {
    const line = stack.pop() as TreeLine<J>
    shown.push(line)
    const kids = children.get(line.job.seq) ?? []
    const visible = all ? kids : kids.slice(0, MAX_SIBLINGS)
    for (let i = visible.length - 1; i >= 0; i--) stack.push({ job: visible[i] as J, depth: line.depth + 1, parent: line.job })
  }
  return { shown, hidden: jobs.length - shown.length }
}
