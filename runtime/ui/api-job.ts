/**
 * @module api-job
 * The UI API's views of one job (its call, decoded argument and result previews with the Files
 * they hold, error with its remote stack and log tail, times, parent and children), of a file's
 * lineage and of a task's recorded versions.
 */
import type { Backend, JobView } from "../backend/backend.js"
import { decode } from "../codec.js"
import { ReductioError } from "../errors.js"
import { isDir, isFile, isStagingFile } from "../file.js"
import { parseErrorRecord, previewText, ValuePreviews } from "../cli/log-format.js"
import { callArgsPreview, fileLineage, type Upstream } from "../cli/log-lineage.js"
import { previewValue } from "../preview.js"
import { findExecution, summariesOf } from "./api-executions.js"

/** Values larger than this are named, not decoded. */
const MAX_DECODED_BYTES = 4 * 1024 * 1024
const ARG_WIDTH = 600
const CHILDREN_SHOWN = 200
const FILES_SHOWN = 100
const MAX_FILE_DEPTH = 8
const TEXT_LIMIT = 20_000

/** A File found inside a value, linked to its lineage. */
export interface FileRef {
  readonly kind: "File" | "Dir" | "StagingFile"
  readonly path: string
  readonly hash: string | null
}

/** A decoded value: its preview and the Files inside it; `note` when it could not be decoded. */
interface DecodedPreview {
  readonly preview: string
  readonly files: readonly FileRef[]
  readonly note?: string
}

export async function jobView(backend: Backend, executionRef: string, seq: number) {
  const execution = await findExecution(backend, executionRef)
  const [job] =
    (await backend.findJobs?.({ executionId: execution.id, seq })) ?? (await backend.listJobs(execution.id)).filter((j) => j.seq === seq)
  if (job === undefined) throw new ReductioError("NOT_FOUND", `execution ${execution.id} has no job ${seq}`)
  const [parent] = job.parentSeq === null ? [] : ((await backend.findJobs?.({ executionId: execution.id, seq: job.parentSeq })) ?? [])
  const children = (await backend.findJobs?.({ executionId: execution.id, parentSeq: job.seq, limit: CHILDREN_SHOWN + 1 })) ?? []
  const call = job.callHash === null ? undefined : await backend.getCall?.(job.callHash)
  const task = await backend.getTask?.(job.taskHash)
  const args = await decodedArgs(backend, job)
  const result = call === undefined ? null : await decodedValue(backend, call.valueHash, call.callHash)
  const [summary] = await summariesOf(backend, [job], 200)
  const parentSummaries = parent === undefined ? [] : await summariesOf(backend, [parent], 80)
  return {
    executionId: execution.id,
    executionStatus: execution.status,
    job: summary,
    task: { name: job.taskName, hash: job.taskHash, version: task?.version ?? null },
    name: job.name,
    evalHash: job.evalHash,
    callHash: job.callHash,
    argsHash: job.argsHash,
    valueHash: call?.valueHash ?? null,
    args,
    result,
    error: job.error === null ? null : errorOf(job.error),
    times: timesOf(job),
    cached: job.cached,
    replayed: job.reusedCalls ?? null,
    executor: job.executor,
    executorJobId: job.executorJobId ?? null,
    image: job.image ?? null,
    parent: parentSummaries[0] ?? null,
    children: await summariesOf(backend, children.slice(0, CHILDREN_SHOWN), 80),
    moreChildren: children.length > CHILDREN_SHOWN,
  }
}

function timesOf(job: JobView) {
  const span = (from: number | null, to: number | null) => (from === null || to === null ? null : Math.max(0, to - from))
  return {
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    bodyEndedAt: job.bodyEndedAt,
    endedAt: job.endedAt,
    waitMs: span(job.createdAt, job.startedAt),
    runMs: span(job.startedAt, job.bodyEndedAt),
    childrenMs: span(job.bodyEndedAt, job.endedAt),
    totalMs: span(job.createdAt, job.endedAt),
  }
}

/** The stored error record, its texts bounded. */
function errorOf(json: string) {
  const record = parseErrorRecord(json)
  if (record === undefined)
    return { name: "Error", code: null, message: previewText(json, 2000), stack: null, exitCode: null, stderrTail: null, logTail: null }
  const details = record.details ?? {}
  const text = (value: unknown) => (typeof value === "string" ? value.slice(-TEXT_LIMIT) : null)
  return {
    name: typeof record.name === "string" ? record.name : "Error",
    code: typeof record.code === "string" ? record.code : null,
    message: typeof record.message === "string" ? record.message.slice(0, TEXT_LIMIT) : "",
    stack: text(record.stack),
    exitCode: typeof details.exitCode === "number" ? details.exitCode : null,
    stderrTail: text(details.stderrTail),
    logTail: text(details.logTail),
  }
}

async function decodedArgs(backend: Backend, job: JobView): Promise<{ preview: string; items: DecodedPreview[]; files: FileRef[] } | null> {
  if (job.argsHash === null) return null
  const previews = new ValuePreviews(backend)
  await previews.load([job.argsHash], [job.callHash])
  const decoded = await decodeStored(backend, job.argsHash, job.callHash ?? undefined)
  const items = decoded.ok && Array.isArray(decoded.value) ? decoded.value.map((arg) => previewOf(arg)) : []
  return { preview: previews.args(job, 2000), items, files: decoded.ok ? filesIn(decoded.value) : [] }
}

async function decodedValue(backend: Backend, hash: string, ofCall: string): Promise<DecodedPreview> {
  const decoded = await decodeStored(backend, hash, ofCall)
  return decoded.ok ? previewOf(decoded.value) : { preview: "", files: [], note: decoded.note }
}

function previewOf(value: unknown): DecodedPreview {
  return { preview: previewValue(value, ARG_WIDTH), files: filesIn(value) }
}

async function decodeStored(
  backend: Backend,
  hash: string,
  ofCall?: string,
): Promise<{ ok: true; value: unknown } | { ok: false; note: string }> {
  const bytes = await backend.getValue(hash, ofCall)
  if (bytes === undefined) return { ok: false, note: "not recorded" }
  if (bytes.byteLength > MAX_DECODED_BYTES) return { ok: false, note: `${bytes.byteLength} bytes: too large to preview` }
  try {
    return { ok: true, value: decode(bytes) }
  } catch {
    // A value of a type whose codec only the workflow registers.
    return { ok: false, note: "not decodable here (a codec only the workflow registers)" }
  }
}

/** The Files, Dirs and StagingFiles inside a decoded value (bounded: depth, count). */
export function filesIn(value: unknown): FileRef[] {
  const found: FileRef[] = []
  const seen = new Set<object>()
  const visit = (item: unknown, depth: number) => {
    if (found.length >= FILES_SHOWN || depth > MAX_FILE_DEPTH || typeof item !== "object" || item === null || seen.has(item)) return
    seen.add(item)
    if (isStagingFile(item)) {
      found.push({ kind: "StagingFile", path: item.remote.path, hash: item.remote.hash ?? null })
      return
    }
    if (isFile(item)) {
      found.push({ kind: "File", path: item.path, hash: item.hash ?? null })
      return
    }
    if (isDir(item)) {
      found.push({ kind: "Dir", path: item.path, hash: (item as { hash?: string }).hash ?? null })
      return
    }
    const children =
      item instanceof Map ? [...item.values()] : item instanceof Set ? [...item] : Array.isArray(item) ? item : Object.values(item)
    for (const child of children) visit(child, depth + 1)
  }
  visit(value, 0)
  return found
}

/** A file's lineage with, for each use, the job that made the call (when in the same database). */
export async function fileView(backend: Backend, path: string) {
  const { uses, upstream, previews } = await fileLineage(backend, path)
  const jobs = new Map<string, number | null>()
  const jobOf = async (executionId: string | null, callHash: string) => {
    if (executionId === null) return null
    const key = `${executionId}\u0000${callHash}`
    if (!jobs.has(key)) {
      const [job] = (await backend.findJobs?.({ executionId, callHash, limit: 1 })) ?? []
      jobs.set(key, job?.seq ?? null)
    }
    return jobs.get(key) ?? null
  }
  const useOf = async (use: (typeof uses)[number], args: string) => ({
    role: use.role,
    task: use.taskName,
    callHash: use.callHash,
    fileHash: use.fileHash,
    executionId: use.executionId,
    at: use.at,
    seq: await jobOf(use.executionId, use.callHash),
    args,
  })
  type Node = Awaited<ReturnType<typeof useOf>> & { inputs: { path: string; fileHash: string; producers: Node[] }[] }
  const nodeOf = async (node: Upstream): Promise<Node> => ({
    ...(await useOf(node.use, node.args)),
    inputs: await Promise.all(
      node.inputs.map(async (input) => ({
        path: input.path,
        fileHash: input.fileHash,
        producers: await Promise.all(input.producers.map(nodeOf)),
      })),
    ),
  })
  const consumers = await Promise.all(
    uses
      .filter((use) => use.role === "input")
      .slice(0, 200)
      .map(async (use) => useOf(use, await callArgsPreview(backend, previews, use.callHash))),
  )
  return { path, producers: await Promise.all(upstream.map(nodeOf)), consumers }
}

/** A task's recorded versions (source as recorded) and its latest jobs. */
export async function taskView(backend: Backend, name: string) {
  const versions = (await backend.tasksNamed?.(name)) ?? []
  if (versions.length === 0) throw new ReductioError("NOT_FOUND", `no task named "${name}" is recorded in ${backend.description}`)
  const recent = (await backend.findJobs?.({ taskName: name, limit: 20 })) ?? []
  return {
    name,
    versions: versions.map((version) => ({ hash: version.hash, version: version.version, source: version.source.slice(0, 100_000) })),
    recentJobs: recent.map((job) => ({
      executionId: job.executionId,
      seq: job.seq,
      status: job.status,
      taskHash: job.taskHash,
      createdAt: job.createdAt,
    })),
  }
}
