/**
 * Writes 10,000 jobs' worth of batches into a fresh SQLite backend the way the scheduler does (one
 * execution, a root call with 10,000 children, every ~50 ms a batch of jobs, values, evaluations
 * and calls), then reads every evaluation back in chunks of 1,000. Prints JSON figures.
 *
 *   node --import tsx bench/sqlite-backend-write.ts [jobs]
 */
import { mkdtemp, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import type { CallRecord, EvaluationRecord, JobRecord, ValueRecord, WriteBatch } from "../runtime/backend/backend.js"
import { SqliteBackend } from "../runtime/backend/sqlite-backend.js"
import { sha256 } from "../runtime/hashing.js"

const jobs = Number(process.argv[2] ?? 10_000)
const batches = 20
const dir = await mkdtemp(join(tmpdir(), "reductio-bench-"))
const path = join(dir, "reductio.db")
const backend = new SqliteBackend(path)
await backend.open()
await backend.close()
const emptyBytes = (await stat(path)).size
await backend.open()

const executionId = "01J0000000000000000000BENCH"
const taskHash = sha256("task inc")
const rootTaskHash = sha256("task main")
const now = Date.now()
const execution = {
  id: executionId,
  startedAt: now,
  endedAt: null,
  status: "RUNNING",
  command: "run bench",
  rootCallHash: null,
  error: null,
} as const
const evalHashes: string[] = []
const childCalls: string[] = []
let writeMs = 0
let writeCpuMs = 0
const timed = async (batch: WriteBatch) => {
  const start = performance.now()
  const cpu = process.cpuUsage()
  await backend.write(batch)
  const used = process.cpuUsage(cpu)
  writeMs += performance.now() - start
  writeCpuMs += (used.user + used.system) / 1000
}

await timed({
  executions: [execution],
  tasks: [
    { hash: taskHash, name: "inc", source: "(x) => x + 1", version: null },
    { hash: rootTaskHash, name: "main", source: "(n) => ...", version: null },
  ],
  jobs: [job(1, null, rootTaskHash, sha256("eval main"), null, "RUNNING")],
})
const perBatch = Math.ceil(jobs / batches)
for (let first = 0; first < jobs; first += perBatch) {
  const batch = { values: [] as ValueRecord[], evaluations: [] as EvaluationRecord[], calls: [] as CallRecord[], jobs: [] as JobRecord[] }
  for (let i = first; i < Math.min(jobs, first + perBatch); i++) {
    const args = new Uint8Array([0x81, 0x19, i >> 8, i & 0xff])
    const result = new Uint8Array([0x19, (i + 1) >> 8, (i + 1) & 0xff])
    const argsHash = sha256(args)
    const valueHash = sha256(result)
    const evalHash = sha256(`${taskHash}${argsHash}`)
    const callHash = sha256(`${evalHash}${valueHash}`)
    evalHashes.push(evalHash)
    childCalls.push(callHash)
    batch.values.push({ hash: argsHash, bytes: args }, { hash: valueHash, bytes: result })
    batch.evaluations.push({ evalHash, valueHash })
    batch.calls.push({ callHash, taskHash, argsHash, valueHash, children: [] } satisfies CallRecord)
    batch.jobs.push(job(i + 2, 1, taskHash, evalHash, callHash, "DONE"))
  }
  await timed(batch)
}
const rootCall = sha256("root call")
await timed({
  calls: [
    { callHash: rootCall, taskHash: rootTaskHash, argsHash: sha256("root args"), valueHash: sha256("root value"), children: childCalls },
  ],
  values: [
    { hash: sha256("root args"), bytes: new Uint8Array([1]) },
    { hash: sha256("root value"), bytes: new Uint8Array([2]) },
  ],
  jobs: [job(1, null, rootTaskHash, sha256("eval main"), rootCall, "DONE")],
  executions: [{ ...execution, status: "DONE", endedAt: Date.now(), rootCallHash: rootCall }],
})

let loadStart = performance.now()
let hits = 0
for (let i = 0; i < evalHashes.length; i += 1000) hits += (await backend.loadEvaluations(evalHashes.slice(i, i + 1000))).size
const loadMs = performance.now() - loadStart
loadStart = performance.now()
const listed = await backend.listJobs(executionId)
const listJobsMs = performance.now() - loadStart
await backend.close()
const bytes = (await stat(path)).size
console.log(
  JSON.stringify(
    {
      jobs,
      writeBatches: batches + 2,
      writeMs: round(writeMs),
      // CPU time of the writes: steadier than wall time on a shared machine.
      writeCpuMs: round(writeCpuMs),
      loadEvaluationsMs: round(loadMs),
      loadEvaluationsHits: hits,
      listJobsMs: round(listJobsMs),
      listedJobs: listed.length,
      dbBytes: bytes,
      bytesPerJob: round((bytes - emptyBytes) / jobs),
    },
    null,
    2,
  ),
)
await rm(dir, { recursive: true, force: true })

function job(
  seq: number,
  parentSeq: number | null,
  task: string,
  evalHash: string,
  callHash: string | null,
  status: "RUNNING" | "DONE",
): JobRecord {
  return {
    executionId,
    seq,
    parentSeq,
    taskHash: task,
    evalHash,
    callHash,
    status,
    cached: false,
    createdAt: now,
    startedAt: now + 1,
    bodyEndedAt: status === "DONE" ? now + 4 : null,
    endedAt: status === "DONE" ? now + 5 : null,
    error: null,
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}
