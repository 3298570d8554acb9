/**
 * Executions keep their row and their call leases alive while they run; two schedulers with their
 * own backends on one database (two hosts) execute each shared call once; a call whose holder
 * stopped renewing its lease is taken over once the lease expires.
 */
import assert from "node:assert/strict"
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import type { Backend } from "../../runtime/backend/backend.js"
import { PostgresBackend } from "../../runtime/backend/postgres-backend.js"
import { SqliteBackend } from "../../runtime/backend/sqlite-backend.js"
import { isReductioError } from "../../runtime/errors.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import type { SchedulerEvent } from "../../runtime/scheduler/events.js"
import { encode } from "../../runtime/codec.js"
import { type CallExpression, expressionOf } from "../../runtime/expression.js"
import { argsHashOf, evalHashOf as evalOf } from "../../runtime/hashing.js"
import { lookupTask, task } from "../../runtime/task.js"
import { createTestDatabase, postgresSkipReason, type TestDatabase } from "../support/postgres.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const HEARTBEAT = { intervalMs: 50, expiryMs: 300 }

let marks = ""
/** Leaves a mark per run of its body, so a spec can count how often each call really ran. */
const work = task("test.leases.work", async (x: number, ms: number) => {
  mkdirSync(marks, { recursive: true })
  appendFileSync(join(marks, String(x)), "ran\n")
  await sleep(ms)
  return x * 10
})
const fan = task("test.leases.fan", (from: number, to: number, ms: number) =>
  Array.from({ length: to - from }, (_, i) => work(from + i, ms)),
)

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

function runsPerCall(): Map<number, number> {
  const counts = new Map<number, number>()
  for (const name of readdirSync(marks)) counts.set(Number(name), readFileSync(join(marks, name), "utf8").trim().split("\n").length)
  return counts
}

/** A running execution of another host: its row, live until `expiresAt`, and the leases it holds. */
async function otherHost(backend: Backend, id: string, expiresAt: number, evalHashes: readonly string[] = []): Promise<void> {
  const row = { id, startedAt: Date.now(), endedAt: null, status: "RUNNING" as const, command: "run", rootCallHash: null, error: null }
  await backend.write({ executions: [{ ...row, leaseExpiresAt: expiresAt, callLeases: true }] })
  if (evalHashes.length > 0) await backend.claimLeases?.({ holder: id, evalHashes, now: Date.now(), expiresAt })
}

/**
 * Two hosts on one database run overlapping fan-outs: at the same moment, or the second once the
 * first, running alone so far, is running its calls (it must then switch to leases).
 */
async function overlappingRuns(open: () => Promise<Backend>, staggered = false): Promise<void> {
  const [a, b] = [await open(), await open()]
  try {
    const logs: string[] = []
    const schedulers = [a, b].map(
      (backend, i) =>
        new Scheduler({
          backend,
          heartbeat: HEARTBEAT,
          onEvent: (event) => {
            if (event.type === "log") logs.push(`${"ab"[i]} ${Date.now() % 100_000}: ${event.message}`)
          },
        }),
    )
    const ms = staggered ? 150 : 20
    const first = schedulers[0]?.run(fan(0, 60, ms))
    if (staggered) {
      while (!readdirSafe(marks).includes("30")) await sleep(5)
    }
    const [left, right] = await Promise.all([first, schedulers[1]?.run(fan(30, 90, ms))])
    assert.deepEqual(
      left,
      Array.from({ length: 60 }, (_, i) => i * 10),
    )
    assert.deepEqual(
      right,
      Array.from({ length: 60 }, (_, i) => (30 + i) * 10),
    )
    const counts = runsPerCall()
    assert.equal(counts.size, 90)
    for (const [x, runs] of counts) assert.equal(runs, 1, `work(${x}) ran ${runs} times; the runs said:\n${logs.join("\n")}`)
    // The shared calls one host waited for are CACHED there.
    const statuses = await Promise.all(
      [a, b].map(async (backend, i) => {
        const jobs = await backend.listJobs(schedulers[i]?.lastExecutionId ?? "")
        return jobs.filter((job) => job.status === "CACHED").length
      }),
    )
    assert.equal((statuses[0] ?? 0) + (statuses[1] ?? 0), 30)
    assert.deepEqual(
      (await a.listExecutions()).map((e) => e.status),
      ["DONE", "DONE"],
    )
    if (a instanceof SqliteBackend || a instanceof PostgresBackend) {
      assert.deepEqual(await a.db.selectFrom("call_lease").selectAll().execute(), [], "every lease is released")
    }
  } finally {
    await Promise.all([a.close(), b.close()])
  }
}

describe("execution heartbeats and call leases", () => {
  let dir: string
  let run = 0
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-leases-"))
  })
  after(() => rm(dir, { recursive: true, force: true }))
  const fresh = (label: string) => {
    marks = join(dir, `${label}-${++run}`, "marks")
    return join(dir, `${label}-${run}`, "reductio.db")
  }

  it("renews a running execution's lease while a call runs longer than the lease, and no one abandons it", async () => {
    const path = fresh("renew")
    const backend = new SqliteBackend(path)
    const observer = new SqliteBackend(path)
    // One after the other: a new file's migration holds the write lock while it awaits.
    await backend.open()
    await observer.open()
    try {
      const scheduler = new Scheduler({ backend, heartbeat: HEARTBEAT })
      const running = scheduler.run(work(1, 800))
      let settled = false
      void running.finally(() => {
        settled = true
      })
      const seen: number[] = []
      while (!settled) {
        await sleep(60)
        assert.deepEqual(await observer.abandonStaleExecutions?.(Date.now()), [])
        const [execution] = await observer.listExecutions()
        if (execution?.status === "RUNNING" && execution.leaseExpiresAt != null) seen.push(execution.leaseExpiresAt)
      }
      assert.equal(await running, 10)
      // Renewed past the 300 ms a single lease lasts, while the call ran for 800 ms.
      assert.ok(seen.length >= 3 && (seen.at(-1) ?? 0) - (seen[0] ?? 0) >= 300, `the lease moved on: ${seen.join(", ")}`)
      const [done] = await observer.listExecutions()
      assert.deepEqual([done?.status, done?.leaseExpiresAt], ["DONE", undefined])
    } finally {
      await Promise.all([backend.close(), observer.close()])
    }
  })

  it("marks an execution whose lease expired ABANDONED when the next run starts", async () => {
    const path = fresh("next-run")
    const backend = new SqliteBackend(path)
    await backend.open()
    try {
      const startedAt = Date.now() - 60_000
      const dead = { id: "01DEAD", startedAt, endedAt: null, status: "RUNNING" as const, command: "run", rootCallHash: null, error: null }
      await backend.write({ executions: [{ ...dead, leaseExpiresAt: Date.now() - 1_000 }] })
      await new Scheduler({ backend, heartbeat: HEARTBEAT }).run(work(11, 1))
      assert.equal((await backend.getExecution("01DEAD"))?.status, "ABANDONED")
    } finally {
      await backend.close()
    }
  })

  it("runs each shared call once when two schedulers on one SQLite file run overlapping fan-outs", async () => {
    const path = fresh("sqlite")
    await overlappingRuns(async () => {
      const backend = new SqliteBackend(path)
      await backend.open()
      return backend
    })
  })

  it("switches a run that started alone to leases when a second one starts: each shared call still runs once", async () => {
    const path = fresh("staggered")
    await overlappingRuns(async () => {
      const backend = new SqliteBackend(path)
      await backend.open()
      return backend
    }, true)
  })

  it("takes a call over once the lease of the execution running it expires, and says so", async () => {
    const path = fresh("takeover")
    const backend = new SqliteBackend(path)
    await backend.open()
    try {
      // A host that claimed the call and died: its lease runs out in 400 ms.
      const call = work(7, 1)
      const scheduler = new Scheduler({ backend, heartbeat: HEARTBEAT })
      const events: SchedulerEvent[] = []
      scheduler.on((event) => events.push(event))
      await otherHost(backend, "dead-host", Date.now() + 400, [await evalHashOf(call)])
      const startedAt = Date.now()
      assert.equal(await scheduler.run(call), 70)
      assert.ok(Date.now() - startedAt >= 350, "it waited for the lease to expire")
      assert.deepEqual([...runsPerCall()], [[7, 1]])
      const logs = events.flatMap((event) => (event.type === "log" ? [event.message] : []))
      assert.ok(
        logs.some((message) => /execution dead-host is running calls/.test(message)),
        logs.join("\n"),
      )
      assert.ok(
        logs.some((message) => /took over 1 call\(s\) from execution dead-host/.test(message)),
        logs.join("\n"),
      )
    } finally {
      await backend.close()
    }
  })

  it("stops waiting for another host's call when the run is cancelled", async () => {
    const path = fresh("cancel")
    const backend = new SqliteBackend(path)
    await backend.open()
    try {
      const call = work(8, 1)
      await otherHost(backend, "busy-host", Date.now() + 60_000, [await evalHashOf(call)])
      const controller = new AbortController()
      const running = new Scheduler({ backend, heartbeat: HEARTBEAT }).run(call, { signal: controller.signal })
      await sleep(200)
      const cancelledAt = Date.now()
      controller.abort()
      await assert.rejects(running, (error: unknown) => isReductioError(error, "CANCELLED"))
      assert.ok(Date.now() - cancelledAt < 500)
    } finally {
      await backend.close()
    }
  })

  it("takes no lease running alone, with callLeases: false, or without the cache; claims with another run", async () => {
    const path = fresh("off")
    const backend = new SqliteBackend(path)
    await backend.open()
    let claims = 0
    const claimLeases = backend.claimLeases.bind(backend)
    backend.claimLeases = (claim) => {
      claims++
      return claimLeases(claim)
    }
    try {
      assert.equal(await new Scheduler({ backend }).run(work(9, 1)), 90)
      assert.equal(await new Scheduler({ backend, cache: false }).run(work(9, 1)), 90)
      await otherHost(backend, "other-host", Date.now() + 60_000)
      assert.equal(await new Scheduler({ backend, callLeases: false }).run(work(10, 1)), 100)
      assert.equal(claims, 0)
      assert.equal(await new Scheduler({ backend }).run(work(11, 1)), 110)
      assert.equal(claims, 1)
    } finally {
      await backend.close()
    }
  })

  it("refuses a heartbeat whose expiry is not at least twice its interval", () => {
    assert.throws(
      () => new Scheduler({ heartbeat: { intervalMs: 100, expiryMs: 150 } }),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })
})

describe("call leases on one Postgres database", { skip: postgresSkipReason() }, () => {
  let database: TestDatabase
  let dir: string
  before(async () => {
    database = await createTestDatabase()
    dir = await mkdtemp(join(tmpdir(), "reductio-leases-pg-"))
    marks = join(dir, "marks")
  })
  after(async () => {
    await database?.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it("runs each shared call once when two schedulers with their own backends run overlapping fan-outs", async () => {
    await overlappingRuns(async () => {
      const backend = new PostgresBackend(database.url)
      await backend.open()
      return backend
    })
  })
})

/** The eval hash a call gets (as the scheduler computes it). */
async function evalHashOf(call: unknown): Promise<string> {
  const expression = expressionOf(call) as CallExpression
  return evalOf(lookupTask(expression.task).hash, argsHashOf(encode(expression.args, "args")))
}
