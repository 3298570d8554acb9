/**
 * @module kysely-job-queries
 * The SQL backends' reads of jobs: one query shape for listing an execution, finding jobs by
 * eval-hash prefix, task or status (`reductio log`), and counting an execution's jobs by status.
 */
import { type Kysely, type RawBuilder, sql } from "kysely"
import { ReductioError } from "../errors.js"
import { evalHashOf } from "../hashing.js"
import type { JobCounts, JobQuery, JobStatus, JobView, TaskRecord } from "./backend.js"
import { chunked } from "./kysely-call-graph.js"
import type { SqlDialectAdapter } from "./sql-dialect-adapter.js"
import type { Database } from "./schema.js"
import { bufferToHash, hashToBuffer, toTime } from "./sql-rows.js"

type Adapter = Pick<SqlDialectAdapter, "hex" | "maxParameters" | "name" | "selectArrays">

type JobTuple = [
  executionId: string,
  seq: number,
  parentSeq: number | null,
  taskHash: string,
  evalHash: string | null,
  callHash: string | null,
  status: string,
  cached: number,
  createdAt: number | string,
  startedAt: number | string | null,
  bodyEndedAt: number | string | null,
  endedAt: number | string | null,
  error: string | null,
  reusedCalls: number | null,
  ownArgsHash: string | null,
  callArgsHash: string | null,
  name: string | null,
  executor: string | null,
  executorJobId: string | null,
  image: string | null,
]

const HEX_PREFIX = /^[0-9a-f]{1,64}$/

/**
 * See {@link Backend.findJobs}. `callArgs: false` (listJobs) skips reading finished jobs' args
 * hashes from their call nodes: one random lookup per row saved on a 10,000-job execution.
 */
export async function findJobs(db: Kysely<Database>, adapter: Adapter, query: JobQuery, callArgs = true): Promise<JobView[]> {
  const hex = (column: string) => adapter.hex(column)
  const taskHash = jobTaskHash()
  let select = db
    .selectFrom("job")
    .leftJoin("call_node", "call_node.call_hash", "job.call_hash")
    .select([
      "job.execution_id",
      "job.seq",
      "job.parent_seq",
      sql<string>`${hexOf(adapter, taskHash)}`.as("task_hash"),
      hex("job.eval_hash").as("eval_hash"),
      hex("job.call_hash").as("call_hash"),
      "job.status",
      "job.cached",
      "job.created_at",
      "job.started_at",
      "job.body_ended_at",
      "job.ended_at",
      "job.error",
      "job.reused_calls",
      hex("job.args_hash").as("own_args_hash"),
      hex("call_node.args_hash").as("call_args_hash"),
      "job.name",
      "job.executor",
      "job.executor_job_id",
      "job.image",
    ])
  if (query.executionId !== undefined) select = select.where("job.execution_id", "=", query.executionId)
  if (query.seq !== undefined) select = select.where("job.seq", "=", query.seq)
  if (query.seqs !== undefined) {
    if (query.seqs.length === 0) return []
    select = select.where("job.seq", "in", [...query.seqs])
  }
  if (query.parentSeq !== undefined)
    select = query.parentSeq === null ? select.where("job.parent_seq", "is", null) : select.where("job.parent_seq", "=", query.parentSeq)
  if (query.status !== undefined) select = select.where("job.status", "=", query.status)
  if (query.callHash !== undefined) select = select.where("job.call_hash", "=", hashToBuffer(query.callHash))
  if (query.taskName !== undefined) {
    const name = query.taskName
    select = select.where(taskHash, "in", (eb) => eb.selectFrom("task").select("task.hash").where("task.name", "=", name))
  }
  if (query.evalHashPrefix !== undefined) {
    const prefix = query.evalHashPrefix
    if (!HEX_PREFIX.test(prefix))
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `an eval hash prefix is 1 to 64 lowercase hex digits (got ${JSON.stringify(prefix.slice(0, 80))})`,
      )
    const derived = await derivedEvalHashMatches(db, adapter, prefix, query.executionId)
    select = select.where((eb) =>
      eb.or([
        eb(sql<string>`substr(${hex("job.eval_hash")}, 1, ${sql.lit(prefix.length)})`, "=", prefix),
        // Seqs from the database, checked integers: literals, so no count of parameters to bound.
        ...[...derived].map(([executionId, seqs]) =>
          eb.and([eb("job.execution_id", "=", executionId), sql<boolean>`job.seq in (${sql.raw(seqs.join(", "))})`]),
        ),
      ]),
    )
  }
  select = query.executionId === undefined ? select.orderBy("job.execution_id", "desc").orderBy("job.seq") : select.orderBy("job.seq")
  if (query.limit !== undefined) select = select.limit(query.limit)
  // SQLite takes an offset only after a limit.
  if (query.offset !== undefined) select = (query.limit === undefined ? select.limit(Number.MAX_SAFE_INTEGER) : select).offset(query.offset)
  const rows = (
    adapter.selectArrays === undefined
      ? (await select.execute()).map((row) => Object.values(row))
      : await adapter.selectArrays(select.compile())
  ) as JobTuple[]
  // A few distinct tasks: their names in one small query rather than a join on every row.
  const taskNames = await taskNamesOf(db, adapter, new Set(rows.map((row) => row[3])))
  return rows.map((row) => toJobView(row, taskNames, callArgs))
}

/** Jobs {@link derivedEvalHashMatches} reads a page at a time. */
const DERIVED_PAGE = 20_000

/**
 * The jobs without an eval hash of their own (a finished call's that its node's task and args
 * hashes derive, migration 0010) whose derived eval hash starts with `prefix`: their seqs by
 * execution. Every such job is hashed, in key order a page at a time (about a microsecond a job):
 * the database cannot compute the hash, and an index by eval hash (the evaluation table) would
 * miss the jobs of a call that a later run of the same eval hash replaced.
 */
async function derivedEvalHashMatches(
  db: Kysely<Database>,
  adapter: Adapter,
  prefix: string,
  executionId: string | undefined,
): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>()
  let after: [string, number] | undefined
  for (;;) {
    let page = db
      .selectFrom("job")
      .innerJoin("call_node", "call_node.call_hash", "job.call_hash")
      .select([
        "job.execution_id",
        "job.seq",
        sql<string>`${hexOf(adapter, jobTaskHash())}`.as("task_hash"),
        adapter.hex("call_node.args_hash").as("args_hash"),
      ])
      .where("job.eval_hash", "is", null)
      .orderBy("job.execution_id")
      .orderBy("job.seq")
      .limit(DERIVED_PAGE)
    if (executionId !== undefined) page = page.where("job.execution_id", "=", executionId)
    if (after !== undefined) page = page.where(sql<boolean>`(job.execution_id, job.seq) > (${after[0]}, ${after[1]})`)
    const rows = (
      adapter.selectArrays === undefined
        ? (await page.execute()).map((row) => Object.values(row))
        : await adapter.selectArrays(page.compile())
    ) as [string, number, string, string][]
    for (const [execution, seq, taskHash, argsHash] of rows) {
      if (!Number.isSafeInteger(Number(seq)) || !evalHashOf(taskHash, argsHash).startsWith(prefix)) continue
      let seqs = found.get(execution)
      if (seqs === undefined) found.set(execution, (seqs = []))
      seqs.push(Number(seq))
    }
    const last = rows[rows.length - 1]
    if (last === undefined || rows.length < DERIVED_PAGE) break
    after = [last[0], Number(last[1])]
  }
  return found
}

/**
 * A job's task hash in a query joining its call node: a finished job's is its call node's
 * (migration 0010); jobs written before hold their own.
 */
function jobTaskHash(): RawBuilder<Buffer> {
  return sql<Buffer>`coalesce(job.task_hash, call_node.task_hash)`
}

/** A hash expression as lowercase hex, computed by the database. */
function hexOf(adapter: Adapter, expression: RawBuilder<Buffer>): RawBuilder<string> {
  return adapter.name === "postgres" ? sql<string>`encode(${expression}, 'hex')` : sql<string>`lower(hex(${expression}))`
}

/** A row as a view; indexed reads (no rest arrays, no spreads): 10,000 rows make little garbage. */
function toJobView(row: JobTuple, taskNames: ReadonlyMap<string, string>, callArgs: boolean): JobView {
  const createdAt = toTime(row[8])
  const view: { -readonly [K in keyof JobView]: JobView[K] } = {
    executionId: row[0],
    seq: row[1],
    parentSeq: row[2],
    taskHash: row[3],
    // A finished job's without one of its own derives from its call node (migration 0010); empty
    // only when that node is missing (a partial copy).
    evalHash: row[4] || (row[3] && row[15] ? evalHashOf(row[3], row[15]) : ""),
    callHash: row[5] || null,
    status: row[6] as JobStatus,
    cached: row[7] !== 0,
    createdAt,
    // Stored as milliseconds after the job's creation (migration 0013).
    startedAt: row[9] === null ? null : createdAt + Number(row[9]),
    bodyEndedAt: row[10] === null ? null : createdAt + Number(row[10]),
    endedAt: row[11] === null ? null : createdAt + Number(row[11]),
    error: row[12],
    argsHash: row[14] || (callArgs && row[15]) || null,
    name: row[16],
    executor: row[17],
    taskName: taskNames.get(row[3]) ?? "?",
  }
  // As before migration 0004: absent unless the job reused calls.
  if (row[13] !== null) view.reusedCalls = Number(row[13])
  // Absent unless the executor named them (migration 0009).
  if (row[18] !== null) view.executorJobId = row[18]
  if (row[19] !== null) view.image = row[19]
  return view
}

async function taskNamesOf(db: Kysely<Database>, adapter: Adapter, hashes: ReadonlySet<string>): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  const valid = [...hashes].filter((hash) => hash?.length === 64)
  const rows = await chunked(adapter, valid, (chunk) => db.selectFrom("task").select(["hash", "name"]).where("hash", "in", chunk).execute())
  for (const row of rows) names.set(bufferToHash(row.hash), row.name)
  return names
}

/** See {@link Backend.countJobs}. */
export async function countJobs(db: Kysely<Database>, executionId: string): Promise<JobCounts> {
  const rows = await db
    .selectFrom("job")
    .select(["status", sql<number | string>`count(*)`.as("n"), sql<number | string | null>`sum(reused_calls)`.as("reused")])
    .where("execution_id", "=", executionId)
    .groupBy("status")
    .execute()
  const byStatus: Partial<Record<JobStatus, number>> = {}
  let jobs = 0
  let reusedCalls = 0
  for (const row of rows) {
    byStatus[row.status as JobStatus] = Number(row.n)
    jobs += Number(row.n)
    reusedCalls += Number(row.reused ?? 0)
  }
  return { jobs, byStatus, reusedCalls }
}

/** See {@link Backend.tasksNamed}. */
export async function tasksNamed(db: Kysely<Database>, name: string): Promise<TaskRecord[]> {
  const rows = await db.selectFrom("task").selectAll().where("name", "=", name).execute()
  return rows.map((row) => ({ hash: bufferToHash(row.hash), name: row.name, source: row.source, version: row.version }))
}
