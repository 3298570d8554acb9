import assert from "node:assert/strict"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import type { Backend, WriteBatch } from "../../../runtime/backend/backend.js"
import { copyExecutions } from "../../../runtime/backend/copy-executions.js"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { PostgresBackend } from "../../../runtime/backend/postgres-backend.js"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { task } from "../../../runtime/task.js"
import { createTestDatabase, postgresSkipReason } from "../../support/postgres.js"
import { execution, finishedCall, hash, job } from "./backend-conformance.js"

/** One execution: a root call with three children, one of which used a file; tagged. */
async function seed(backend: Backend): Promise<void> {
  const children = [0, 1, 2].map((i) => finishedCall(`copy child ${i}`))
  const root = finishedCall(
    "copy root",
    children.map((c) => c.call.callHash),
  )
  const batches: WriteBatch[] = [...children.map((c) => c.batch), root.batch]
  for (const batch of batches) await backend.write(batch)
  await backend.write({
    executions: [execution("05COPY", { status: "DONE", endedAt: 1_700_000_001_000, rootCallHash: root.call.callHash })],
    jobs: [
      job("05COPY", 1, {
        evalHash: hash("eval copy root"),
        callHash: root.call.callHash,
        status: "DONE",
        startedAt: 1_700_000_000_100,
        bodyEndedAt: 1_700_000_000_200,
        endedAt: 1_700_000_000_900,
      }),
      job("05COPY", 5, { parentSeq: 1, status: "FAILED", argsHash: hash("args of the failed call"), name: "sort reads", error: "{}" }),
      ...children.map((c, i) =>
        job("05COPY", i + 2, { parentSeq: 1, evalHash: hash(`eval copy child ${i}`), callHash: c.call.callHash, status: "DONE" }),
      ),
    ],
    files: [{ path: "/data/in.txt", fileHash: hash("in"), callHash: children[0]?.call.callHash ?? "", role: "input" }],
    tags: [{ executionId: "05COPY", key: "env", value: "prod" }],
  })
}

async function assertCopied(target: Backend): Promise<void> {
  const copied = await target.getExecution("05COPY")
  assert.equal(copied?.status, "DONE")
  const jobs = await target.listJobs("05COPY")
  assert.equal(jobs.length, 5)
  assert.deepEqual([jobs[0]?.startedAt, jobs[0]?.bodyEndedAt, jobs[0]?.endedAt], [1_700_000_000_100, 1_700_000_000_200, 1_700_000_000_900])
  assert.deepEqual([jobs[4]?.argsHash, jobs[4]?.name], [hash("args of the failed call"), "sort reads"])
  const root = await target.getCall?.(copied?.rootCallHash ?? "")
  assert.equal(root?.children.length, 3)
  assert.equal((await target.loadEvaluations([hash("eval copy child 2")])).size, 1)
  assert.deepEqual(await target.getTags?.("05COPY"), { env: "prod" })
  assert.equal((await target.fileUses?.("/data/in.txt"))?.[0]?.executionId, "05COPY")
}

describe("copyExecutions", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-copy-"))
  })
  after(async () => rm(dir, { recursive: true, force: true }))

  it("copies an execution with its jobs, call graph, values, file uses and tags, idempotently", async () => {
    const source = new SqliteBackend(join(dir, "source.db"))
    const target = new SqliteBackend(join(dir, "target.db"))
    await source.open()
    await target.open()
    await seed(source)
    const counts = await copyExecutions(source, target)
    assert.deepEqual(counts, { executions: 1, present: 0, jobs: 5, calls: 4, values: 8, tasks: 1 })
    const again = await copyExecutions(source, target, { executions: ["05CO"] })
    assert.deepEqual(again, { executions: 0, present: 1, jobs: 0, calls: 0, values: 0, tasks: 0 })
    await assertCopied(target)
    await source.close()
    await target.close()
  })

  it("never shows an interrupted copy's execution, and a rerun completes it", async () => {
    const source = new MemoryBackend()
    await seed(source)
    const target = new MemoryBackend()
    let writes = 0
    const failing: Backend = Object.assign(Object.create(target) as Backend, {
      write: async (batch: WriteBatch) => {
        if (++writes === 4) throw new Error("connection lost")
        return target.write(batch)
      },
    })
    await assert.rejects(copyExecutions(source, failing))
    assert.equal(await target.getExecution("05COPY"), undefined)
    await copyExecutions(source, target)
    await assertCopied(target)
  })

  it("copies the cache entries of the calls a replayed execution reused without jobs", async () => {
    let runs = 0
    const square = task("test.copy.square", (x: number) => {
      runs++
      return x * x
    })
    const squares = task("test.copy.squares", (n: number) => Array.from({ length: n }, (_, i) => square(i)))
    const source = new MemoryBackend()
    await new Scheduler({ backend: source }).run(squares(5))
    await new Scheduler({ backend: source }).run(squares(5))
    const [replayed] = await source.listExecutions({ limit: 1 })
    assert.deepEqual(
      (await source.listJobs(replayed?.id ?? "")).map((job) => job.reusedCalls),
      [5],
    )
    const target = new MemoryBackend()
    await copyExecutions(source, target, { executions: [replayed?.id ?? ""] })
    // The target never saw the cold run, yet nothing below needs to run again.
    assert.deepEqual(await new Scheduler({ backend: target }).run(squares(5)), [0, 1, 4, 9, 16])
    assert.equal(runs, 5)
  })

  it("rejects an unknown execution id with NOT_FOUND", async () => {
    await assert.rejects(copyExecutions(new MemoryBackend(), new MemoryBackend(), { executions: ["nope"] }), { code: "NOT_FOUND" })
  })

  it("pushes from SQLite to Postgres", { skip: postgresSkipReason() }, async () => {
    const database = await createTestDatabase()
    const source = new SqliteBackend(join(dir, "push.db"))
    const target = new PostgresBackend(database.url)
    try {
      await source.open()
      await target.open()
      await seed(source)
      await copyExecutions(source, target)
      await copyExecutions(source, target)
      await assertCopied(target)
    } finally {
      await source.close()
      await target.close()
      await database.drop()
    }
  })
})
