/**
 * @module copy-executions
 * Copies executions with everything they reference (jobs, the call graph, values, evaluations,
 * tasks, file uses, tags) from one backend to another: `reductio push` / `reductio pull`.
 *
 * Idempotent and restartable: every row is insert-if-absent or an upsert, so copying twice changes
 * nothing. Consistent when interrupted: content rows go first, in chunks that are each one
 * transaction, then the jobs, and the execution row (with its tags) last, so the target never
 * lists an execution whose content is missing; running the copy again completes it.
 */
import { ReductioError } from "../errors.js"
import { evalHashOf } from "../hashing.js"
import type { Backend, CallRecord, ExecutionRecord, FileUseRecord, TaskRecord, ValueRecord, WriteBatch } from "./backend.js"

/** Options of {@link copyExecutions}. */
export interface CopyOptions {
  /** Execution ids (or unique prefixes); all executions when absent. */
  readonly executions?: readonly string[]
  /** Rows per write (one transaction each). */
  readonly chunkRows?: number
  /** Called after each execution is copied. */
  readonly onExecution?: (execution: ExecutionRecord, counts: CopyCounts) => void
}

/** What one copy wrote (rows offered to the target, present before or not). */
export interface CopyCounts {
  executions: number
  /** Executions the target already held, finished and tagged alike: left as they are. */
  present: number
  jobs: number
  calls: number
  values: number
  tasks: number
}

const VALUE_CHUNK_BYTES = 8 * 1024 * 1024

/**
 * @example
 * const counts = await copyExecutions(local, shared, { executions: ["01J5…"] })
 */
export async function copyExecutions(source: Backend, target: Backend, options: CopyOptions = {}): Promise<CopyCounts> {
  const readContent = source.readContent?.bind(source)
  if (readContent === undefined) throw new ReductioError("INVALID_ARGUMENT", `${source.description} cannot export its content`)
  const executions = await selectExecutions(source, options.executions)
  const total: CopyCounts = { executions: 0, present: 0, jobs: 0, calls: 0, values: 0, tasks: 0 }
  const chunkRows = options.chunkRows ?? 1000
  for (const execution of executions) {
    if (await alreadyCopied(source, target, execution)) {
      total.present++
      continue
    }
    const counts = await copyOne(source, readContent, target, execution, chunkRows)
    for (const key of Object.keys(total) as (keyof CopyCounts)[]) total[key] += counts[key]
    options.onExecution?.(execution, counts)
  }
  return total
}

/**
 * True when the target holds this finished execution with the same end and tags. Its row is
 * written last, after everything it references, so its presence means the copy completed.
 */
async function alreadyCopied(source: Backend, target: Backend, execution: ExecutionRecord): Promise<boolean> {
  if (execution.status === "RUNNING") return false
  const existing = await target.getExecution(execution.id)
  if (existing?.id !== execution.id || existing.status !== execution.status || existing.endedAt !== execution.endedAt) return false
  if (source.getTags === undefined || target.getTags === undefined) return true
  const [mine, theirs] = await Promise.all([source.getTags(execution.id), target.getTags(execution.id)])
  return JSON.stringify(Object.entries(mine).sort()) === JSON.stringify(Object.entries(theirs).sort())
}

async function selectExecutions(source: Backend, ids: readonly string[] | undefined): Promise<ExecutionRecord[]> {
  if (ids === undefined || ids.length === 0) return (await source.listExecutions()).reverse()
  return Promise.all(
    ids.map(async (id) => {
      const execution = await source.getExecution(id)
      if (execution === undefined)
        throw new ReductioError("NOT_FOUND", `no execution ${id} (or the prefix is ambiguous) in ${source.description}`)
      return execution
    }),
  )
}

type ReadContent = NonNullable<Backend["readContent"]>

async function copyOne(
  source: Backend,
  readContent: ReadContent,
  target: Backend,
  execution: ExecutionRecord,
  chunkRows: number,
): Promise<CopyCounts> {
  const jobs = await source.listJobs(execution.id)
  const calls = await callGraph(readContent, [
    ...(execution.rootCallHash === null ? [] : [execution.rootCallHash]),
    ...jobs.flatMap((job) => (job.callHash === null ? [] : [job.callHash])),
  ])
  const callHashes = calls.map((call) => call.callHash)
  // The cache entries of every call in the graph, with or without a job here: a job that reused
  // a recorded call tree (call replay) has none for the calls below it.
  const evalHashes = new Set([...jobs.map((job) => job.evalHash), ...calls.map((call) => evalHashOf(call.taskHash, call.argsHash))])
  const { evaluations = [], files = [] } = await readContent({ evaluations: [...evalHashes], filesOfCalls: callHashes })
  const { tasks = [] } = await readContent({ tasks: [...jobs.map((job) => job.taskHash), ...calls.map((call) => call.taskHash)] })
  // A call's small arguments and value come with its record (its own row holds them); the rest by hash.
  const inCalls = new Set(
    calls.flatMap((call) => [
      ...(call.argsBytes === undefined ? [] : [call.argsHash]),
      ...(call.valueBytes === undefined ? [] : [call.valueHash]),
    ]),
  )
  const valueHashes = [
    ...calls.flatMap((call) => [
      ...(call.argsBytes === undefined ? [call.argsHash] : []),
      ...(call.valueBytes === undefined ? [call.valueHash] : []),
    ]),
    ...evaluations.map((e) => e.valueHash),
    // A job without a call (failed, cancelled, unfinished) names its arguments by hash.
    ...jobs.flatMap((job) => (job.callHash === null && job.argsHash !== null ? [job.argsHash] : [])),
  ]
  const copied = new Set<string>()
  for (const hashes of chunked([...new Set(valueHashes)], chunkRows)) {
    const { values: found = [] } = await readContent({ values: hashes })
    for (const part of byBytes(found)) await target.write({ values: part })
    for (const value of found) copied.add(value.hash)
  }
  await writeChunks(target, "tasks", tasks as TaskRecord[], chunkRows)
  await writeChunks(target, "calls", calls, chunkRows)
  // A cache entry keeps its call hash only when that call is copied too: the target then holds
  // the node and edges that a rerun reducing to the same call skips writing.
  const copiedCalls = new Set(callHashes)
  // An entry whose call is not copied names its value by hash, which that call's row may hold.
  for (const e of evaluations) {
    if (e.callHash == null || copiedCalls.has(e.callHash) || copied.has(e.valueHash)) continue
    const bytes = await source.getValue(e.valueHash, e.callHash)
    if (bytes === undefined) continue
    await target.write({ values: [{ hash: e.valueHash, bytes }] })
    copied.add(e.valueHash)
  }
  const values = new Set([...copied, ...inCalls]).size
  const entries = evaluations.map((e) =>
    e.callHash != null && copiedCalls.has(e.callHash) ? e : { evalHash: e.evalHash, valueHash: e.valueHash },
  )
  await writeChunks(target, "evaluations", entries, chunkRows)
  await writeChunks(target, "files", files as FileUseRecord[], chunkRows)
  await writeChunks(
    target,
    "jobs",
    jobs.map(({ taskName: _, ...job }) => job),
    chunkRows,
  )
  const tags = Object.entries((await source.getTags?.(execution.id)) ?? {}).map(([key, value]) => ({
    executionId: execution.id,
    key,
    value,
  }))
  // Whether it takes call leases is about the source's hosts: in the target, no run waits on it.
  await target.write({ executions: [{ ...execution, callLeases: null }], tags })
  return { executions: 1, present: 0, jobs: jobs.length, calls: calls.length, values, tasks: tasks.length }
}

/** Every call reachable from `roots` through child edges, read breadth first in chunks. */
async function callGraph(readContent: ReadContent, roots: readonly string[]): Promise<CallRecord[]> {
  const seen = new Set<string>(roots)
  const found: CallRecord[] = []
  let frontier = [...seen]
  while (frontier.length > 0) {
    const next: string[] = []
    for (const hashes of chunked(frontier, 1000)) {
      const { calls = [] } = await readContent({ calls: hashes })
      for (const call of calls) {
        found.push(call)
        for (const child of call.children) {
          if (!seen.has(child)) {
            seen.add(child)
            next.push(child)
          }
        }
      }
    }
    frontier = next
  }
  return found
}

async function writeChunks<K extends "tasks" | "calls" | "evaluations" | "files" | "jobs">(
  target: Backend,
  key: K,
  rows: NonNullable<WriteBatch[K]>[number][],
  chunkRows: number,
): Promise<void> {
  for (const chunk of chunked(rows, chunkRows)) await target.write({ [key]: chunk } as WriteBatch)
}

function* byBytes(values: readonly ValueRecord[]): Generator<ValueRecord[]> {
  let part: ValueRecord[] = []
  let bytes = 0
  for (const value of values) {
    if (part.length > 0 && bytes + value.bytes.byteLength > VALUE_CHUNK_BYTES) {
      yield part
      part = []
      bytes = 0
    }
    part.push(value)
    bytes += value.bytes.byteLength
  }
  if (part.length > 0) yield part
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
