/**
 * @module api-executions
 * The UI API's views of executions: the list (with counts by status), one execution with its call
 * graph (one node per job, or per task when the execution is too big to draw job by job), a page
 * of its jobs, and its timeline.
 */
import type { Backend, ExecutionView, JobCounts, JobQuery, JobStatus, JobView } from "../backend/backend.js"
import { ReductioError } from "../errors.js"
import { briefError, type CallTotals, countsOf, jobLabel, totalsOf, ValuePreviews } from "../cli/log-format.js"
import { choiceParam, countParam, EXECUTION_STATUSES, JOB_STATUSES, seqOf, textParam } from "./api-params.js"

/** Above this many jobs the graph groups jobs per task (dagre lays out a few hundred nodes quickly). */
export const GROUP_THRESHOLD = 500
/** The most jobs a graph draws one by one, even when asked to. */
export const MAX_JOB_NODES = 2000
const MAX_EXECUTIONS_PAGE = 500
const MAX_JOBS_PAGE = 5000

/** An execution as the list and the header show it. */
export interface ExecutionSummary extends ExecutionView {
  readonly durationMs: number | null
  readonly counts: JobCounts
  readonly totals: CallTotals
}

/** A job as lists and the graph show it. */
export interface JobSummary {
  readonly seq: number
  readonly parentSeq: number | null
  readonly task: string
  readonly label: string
  readonly status: JobStatus
  readonly cached: boolean
  readonly createdAt: number
  readonly startedAt: number | null
  readonly bodyEndedAt: number | null
  readonly endedAt: number | null
  readonly args: string
  readonly error: string | null
  readonly reusedCalls: number | null
}

/** The call graph: one node per job, or per task. */
export type GraphData =
  | { readonly mode: "jobs"; readonly nodes: readonly JobSummary[]; readonly edges: readonly (readonly [number, number])[] }
  | {
      readonly mode: "tasks"
      readonly nodes: readonly { readonly task: string; readonly count: number; readonly byStatus: Partial<Record<JobStatus, number>> }[]
      readonly edges: readonly { readonly from: string; readonly to: string; readonly count: number }[]
    }

export async function listExecutionsView(backend: Backend, params: URLSearchParams) {
  const limit = countParam(params, "limit", 50, 1, MAX_EXECUTIONS_PAGE)
  const offset = countParam(params, "offset", 0, 0, 1_000_000_000)
  const status = choiceParam(params, "status", EXECUTION_STATUSES)
  const tag = textParam(params, "tag", 400)
  const taskName = textParam(params, "task")
  const found = await backend.listExecutions({
    limit: limit + 1,
    offset,
    ...(status === undefined ? {} : { status }),
    ...(tag === undefined ? {} : { tag }),
    ...(taskName === undefined ? {} : { taskName }),
  })
  const executions = await Promise.all(found.slice(0, limit).map((execution) => summaryOf(backend, execution)))
  return { executions, limit, offset, more: found.length > limit }
}

export async function summaryOf(backend: Backend, execution: ExecutionView): Promise<ExecutionSummary> {
  const counts = (await backend.countJobs?.(execution.id)) ?? countsOf(await backend.listJobs(execution.id))
  const end = execution.endedAt ?? (execution.status === "RUNNING" ? Date.now() : null)
  return { ...execution, durationMs: end === null ? null : Math.max(0, end - execution.startedAt), counts, totals: totalsOf(counts) }
}

/** An execution by id, unique prefix or `-` (the latest); NOT_FOUND or AMBIGUOUS_PREFIX otherwise. */
export async function findExecution(backend: Backend, ref: string): Promise<ExecutionView> {
  if (ref === "-") {
    const [latest] = await backend.listExecutions({ limit: 1 })
    if (latest === undefined) throw new ReductioError("NOT_FOUND", `no executions recorded in ${backend.description}`)
    return latest
  }
  const found = await backend.getExecution(ref)
  if (found !== undefined) return found
  const candidates = await backend.listExecutions({ idPrefix: ref, limit: 10 })
  if (candidates.length > 1) {
    throw new ReductioError("AMBIGUOUS_PREFIX", `"${ref}" matches several executions; give more of it`, {
      details: { candidates: candidates.map((e) => e.id) },
    })
  }
  throw new ReductioError("NOT_FOUND", `no execution matches "${ref}" in ${backend.description}`)
}

export async function executionView(backend: Backend, ref: string, params: URLSearchParams) {
  const execution = await findExecution(backend, ref)
  const graphMode = params.get("graph") ?? "auto"
  if (!["auto", "jobs", "tasks"].includes(graphMode)) {
    throw new ReductioError("INVALID_ARGUMENT", `graph must be auto, jobs or tasks (got ${JSON.stringify(graphMode.slice(0, 40))})`, {
      details: { parameter: "graph" },
    })
  }
  const summary = await summaryOf(backend, execution)
  const jobs = summary.counts.jobs
  const byJob = graphMode === "jobs" ? jobs <= MAX_JOB_NODES : graphMode === "auto" && jobs <= GROUP_THRESHOLD
  const graph = byJob ? await jobGraph(backend, execution.id) : await taskGraph(backend, execution.id)
  return { execution: summary, graph, groupThreshold: GROUP_THRESHOLD }
}

async function jobGraph(backend: Backend, executionId: string): Promise<GraphData> {
  const jobs = (await backend.findJobs?.({ executionId })) ?? (await backend.listJobs(executionId))
  const nodes = await summariesOf(backend, jobs, 48)
  const seqs = new Set(jobs.map((job) => job.seq))
  const edges = jobs
    .filter((job) => job.parentSeq !== null && seqs.has(job.parentSeq))
    .map((job) => [job.parentSeq as number, job.seq] as const)
  return { mode: "jobs", nodes, edges }
}

async function taskGraph(backend: Backend, executionId: string): Promise<GraphData> {
  const jobs = await backend.listJobs(executionId)
  const taskOf = new Map<number, string>()
  const groups = new Map<string, { task: string; count: number; byStatus: Partial<Record<JobStatus, number>> }>()
  for (const job of jobs) {
    taskOf.set(job.seq, job.taskName)
    let group = groups.get(job.taskName)
    if (group === undefined) groups.set(job.taskName, (group = { task: job.taskName, count: 0, byStatus: {} }))
    group.count++
    group.byStatus[job.status] = (group.byStatus[job.status] ?? 0) + 1
  }
  const edges = new Map<string, { from: string; to: string; count: number }>()
  for (const job of jobs) {
    const from = job.parentSeq === null ? undefined : taskOf.get(job.parentSeq)
    if (from === undefined) continue
    const key = `${from}\u0000${job.taskName}`
    const edge = edges.get(key)
    if (edge === undefined) edges.set(key, { from, to: job.taskName, count: 1 })
    else edge.count++
  }
  return { mode: "tasks", nodes: [...groups.values()], edges: [...edges.values()] }
}

/** Jobs as summaries, with their arguments previewed in `width` characters. */
export async function summariesOf(backend: Backend, jobs: readonly JobView[], width: number): Promise<JobSummary[]> {
  const previews = new ValuePreviews(backend)
  await previews.load(
    jobs.map((job) => job.argsHash),
    jobs.map((job) => job.callHash),
  )
  const taskOfSeq = new Map(jobs.map((job) => [job.seq, job.taskName]))
  return jobs.map((job) => ({
    seq: job.seq,
    parentSeq: job.parentSeq,
    task: job.taskName,
    label: jobLabel(job, job.parentSeq === null ? undefined : taskOfSeq.get(job.parentSeq)),
    status: job.status,
    cached: job.cached,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    bodyEndedAt: job.bodyEndedAt,
    endedAt: job.endedAt,
    args: previews.args(job, width),
    error: job.error === null ? null : briefError(job.error, 200),
    reusedCalls: job.reusedCalls ?? null,
  }))
}

/** A page of an execution's jobs in sequence order, filtered by task, status or parent. */
export async function executionJobsView(backend: Backend, ref: string, params: URLSearchParams) {
  const execution = await findExecution(backend, ref)
  const limit = countParam(params, "limit", 100, 1, MAX_JOBS_PAGE)
  const offset = countParam(params, "offset", 0, 0, 1_000_000_000)
  const status = choiceParam(params, "status", JOB_STATUSES)
  const taskName = textParam(params, "task")
  const parentText = params.get("parent")
  const query: JobQuery = {
    executionId: execution.id,
    limit: limit + 1,
    offset,
    ...(status === undefined ? {} : { status }),
    ...(taskName === undefined ? {} : { taskName }),
    ...(parentText === null || parentText === "" ? {} : { parentSeq: parentText === "root" ? null : seqOf(parentText) }),
  }
  if (backend.findJobs === undefined) throw new ReductioError("INVALID_ARGUMENT", `${backend.description} cannot search jobs`)
  const found = await backend.findJobs(query)
  return {
    executionId: execution.id,
    jobs: await summariesOf(backend, found.slice(0, limit), 80),
    limit,
    offset,
    more: found.length > limit,
  }
}

/**
 * The timeline, in columns (10,000 jobs are a few hundred KB): times in ms from the execution's
 * start, null where unknown; `task` indexes `tasks`, `executor` indexes `executors` (null: no
 * executor saw the job, e.g. cached).
 */
export async function timelineView(backend: Backend, ref: string) {
  const execution = await findExecution(backend, ref)
  const jobs = await backend.listJobs(execution.id)
  const tasks: string[] = []
  const taskIndex = new Map<string, number>()
  const executors: (string | null)[] = []
  const executorIndex = new Map<string | null, number>()
  const t0 = execution.startedAt
  const rel = (time: number | null) => (time === null ? null : time - t0)
  const columns = {
    seq: [] as number[],
    parentSeq: [] as (number | null)[],
    task: [] as number[],
    executor: [] as number[],
    status: [] as JobStatus[],
    cached: [] as boolean[],
    created: [] as number[],
    started: [] as (number | null)[],
    bodyEnded: [] as (number | null)[],
    ended: [] as (number | null)[],
  }
  for (const job of jobs) {
    let index = taskIndex.get(job.taskName)
    if (index === undefined) {
      index = tasks.length
      tasks.push(job.taskName)
      taskIndex.set(job.taskName, index)
    }
    let executor = executorIndex.get(job.executor)
    if (executor === undefined) {
      executor = executors.length
      executors.push(job.executor)
      executorIndex.set(job.executor, executor)
    }
    columns.executor.push(executor)
    columns.seq.push(job.seq)
    columns.parentSeq.push(job.parentSeq)
    columns.task.push(index)
    columns.status.push(job.status)
    columns.cached.push(job.cached)
    columns.created.push(job.createdAt - t0)
    columns.started.push(rel(job.startedAt))
    columns.bodyEnded.push(rel(job.bodyEndedAt))
    columns.ended.push(rel(job.endedAt))
  }
  const end = execution.endedAt ?? Date.now()
  return {
    executionId: execution.id,
    status: execution.status,
    startedAt: t0,
    durationMs: Math.max(0, end - t0),
    tasks,
    executors,
    jobs: columns,
  }
}
