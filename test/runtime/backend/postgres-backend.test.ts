import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import pg from "pg"
import type { JobRecord } from "../../../runtime/backend/backend.js"
import { PostgresBackend, redactUrl } from "../../../runtime/backend/postgres-backend.js"
import { isReductioError } from "../../../runtime/errors.js"
import { createTestDatabase, postgresSkipReason, postgresUrl, type TestDatabase } from "../../support/postgres.js"
import { backendConformance, execution, finishedCall, hash, job } from "./backend-conformance.js"
import { leaseConformance } from "./lease-conformance.js"

const skip = postgresSkipReason()

backendConformance(
  "PostgresBackend",
  async () => {
    const database = await createTestDatabase()
    const backend = new PostgresBackend(database.url)
    await backend.open()
    return {
      backend,
      dispose: async () => {
        await backend.close()
        await database.drop()
      },
    }
  },
  { skip },
)

leaseConformance(
  "PostgresBackend",
  async () => {
    const database = await createTestDatabase()
    const backend = new PostgresBackend(database.url)
    await backend.open()
    const peers: PostgresBackend[] = []
    return {
      backend,
      peer: async () => {
        const peer = new PostgresBackend(database.url)
        await peer.open()
        peers.push(peer)
        return peer
      },
      dispose: async () => {
        await Promise.all([backend, ...peers].map((b) => b.close()))
        await database.drop()
      },
    }
  },
  { skip },
)

describe("PostgresBackend", { skip }, () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => database?.drop())

  it("lets two writers apply overlapping batches concurrently without errors or duplicates", async () => {
    const [a, b] = [new PostgresBackend(database.url), new PostgresBackend(database.url)]
    await Promise.all([a.open(), b.open()])
    const calls = Array.from({ length: 300 }, (_, i) => finishedCall(`overlap ${i}`))
    const batchOf = (from: number, to: number, status: JobRecord["status"]) => {
      const slice = calls.slice(from, to)
      return {
        executions: [execution("01OVERLAP")],
        tasks: slice.flatMap((c) => c.batch.tasks ?? []),
        values: slice.flatMap((c) => c.batch.values ?? []),
        evaluations: slice.flatMap((c) => c.batch.evaluations ?? []),
        calls: slice.map((c) => c.call),
        jobs: slice.map((c, i) => job("01OVERLAP", from + i + 1, { callHash: c.call.callHash, status })),
      }
    }
    // Each writer covers 200 calls; the middle 100 overlap, written in opposite orders.
    await Promise.all([
      ...[0, 1, 2, 3].map(() => a.write(batchOf(0, 200, "DONE"))),
      ...[0, 1, 2, 3].map(() => b.write(batchOf(100, 300, "DONE"))),
    ])
    assert.equal((await a.listJobs("01OVERLAP")).length, 300)
    const found = await b.loadEvaluations(calls.map((_, i) => hash(`eval overlap ${i}`)))
    assert.equal(found.size, 300)
    await Promise.all([a.close(), b.close()])
  })

  it("migrates once when several processes open a new database at the same time", async () => {
    const fresh = await createTestDatabase()
    try {
      const backends = Array.from({ length: 4 }, () => new PostgresBackend(fresh.url))
      await Promise.all(backends.map((backend) => backend.open()))
      assert.deepEqual(await backends[0]?.appliedMigrations(), [
        "0001_initial",
        "0002_file_use_origin",
        "0003_evaluation_call",
        "0004_call_replay",
        "0005_execution_heartbeat_leases",
        "0006_job_times",
        "0007_job_executor",
        "0009_job_executor_ids",
        "0010_compact_rows",
      ])
      await Promise.all(backends.map((backend) => backend.close()))
    } finally {
      await fresh.drop()
    }
  })

  it("refuses a database with migrations it does not know (DB_SCHEMA_NEWER)", async () => {
    const fresh = await createTestDatabase()
    try {
      const backend = new PostgresBackend(fresh.url)
      await backend.open()
      await backend.close()
      const client = new pg.Client({ connectionString: fresh.url })
      await client.connect()
      await client.query("insert into kysely_migration (name, timestamp) values ($1, $2)", [
        "9999_from_the_future",
        new Date().toISOString(),
      ])
      await client.end()
      await assert.rejects(new PostgresBackend(fresh.url).open(), (error) => isReductioError(error, "DB_SCHEMA_NEWER"))
    } finally {
      await fresh.drop()
    }
  })

  it("reports a server that does not answer as DB_UNREACHABLE", async () => {
    const url = new URL(postgresUrl ?? "postgres://127.0.0.1/test")
    url.hostname = "127.0.0.1"
    url.port = "1"
    await assert.rejects(new PostgresBackend(url.toString()).open(), (error) => isReductioError(error, "DB_UNREACHABLE"))
  })

  it("reports a database that does not exist as DB_UNREADABLE", async () => {
    const url = new URL(database.url)
    url.pathname = "/reductio_test_does_not_exist"
    await assert.rejects(new PostgresBackend(url.toString()).open(), (error) => isReductioError(error, "DB_UNREADABLE"))
  })

  it("reports an unknown role as DB_AUTH_FAILED", async () => {
    const url = new URL(database.url)
    url.username = "reductio_no_such_role"
    await assert.rejects(new PostgresBackend(url.toString()).open(), (error) => isReductioError(error, "DB_AUTH_FAILED"))
  })

  it("never shows a password in its description", () => {
    assert.equal(redactUrl("postgres://ci:s3cret@db:5432/reductio"), "postgres://ci:***@db:5432/reductio")
    assert.equal(new PostgresBackend("postgres://ci:s3cret@db/x").description.includes("s3cret"), false)
  })
})
