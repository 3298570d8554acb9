import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { Kysely, Migrator, PostgresDialect } from "kysely"
import pg from "pg"
import type { JobRecord } from "../../../runtime/backend/backend.js"
import { migrationProvider } from "../../../runtime/backend/migrations.js"
import { PostgresBackend, redactUrl } from "../../../runtime/backend/postgres-backend.js"
import { isReductioError } from "../../../runtime/errors.js"
import { evalHashOf } from "../../../runtime/hashing.js"
import { createTestDatabase, postgresSkipReason, postgresUrl, type TestDatabase } from "../../support/postgres.js"
import { backendConformance, edgesBefore0011, execution, finishedCall, hash, job } from "./backend-conformance.js"
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
        "0011_packed_children",
        "0012_call_bytes",
        "0013_job_time_offsets",
        "0014_call_value_hash",
      ])
      await Promise.all(backends.map((backend) => backend.close()))
    } finally {
      await fresh.drop()
    }
  })

  it("upgrades a 0009 database: rows written before 0010 read back as they were, beside compact ones", async () => {
    const fresh = await createTestDatabase()
    const pool = new pg.Pool({ connectionString: fresh.url })
    try {
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      const migrator = new Migrator({ db, provider: migrationProvider("postgres") })
      assert.equal((await migrator.migrateTo("0009_job_executor_ids")).error, undefined)
      const { batch, call } = finishedCall("pg before 0010")
      const evalHash = evalHashOf(call.taskHash, call.argsHash)
      const b = (hex: string) => Buffer.from(hex, "hex")
      await pool.query("insert into task values ($1, 'inc', '(x) => x + 1', null)", [b(call.taskHash)])
      for (const value of batch.values ?? [])
        await pool.query("insert into value values ($1, $2)", [b(value.hash), Buffer.from(value.bytes)])
      await pool.query("insert into call_node values ($1, $2, $3, $4, 0)", [
        b(call.callHash),
        b(call.taskHash),
        b(call.argsHash),
        b(call.valueHash),
      ])
      await pool.query("insert into evaluation values ($1, $2, $3, 1)", [b(evalHash), b(call.valueHash), b(call.callHash)])
      await pool.query("insert into execution values ('09OLD', 1, 2, 'DONE', 'run', $1, null, null, null)", [b(call.callHash)])
      await pool.query(
        "insert into job values ('09OLD', 1, null, $1, $2, $3, 'DONE', 0, 5, 9, null, null, 6, 8, null, null, 'local', null, null)",
        [b(call.taskHash), b(evalHash), b(call.callHash)],
      )
      const backend = new PostgresBackend(fresh.url)
      await backend.open()
      try {
        await backend.write({
          ...batch,
          evaluations: [{ evalHash, valueHash: call.valueHash, callHash: call.callHash, replayable: true }],
          executions: [execution("10NEW")],
          jobs: [job("10NEW", 1, { status: "DONE", evalHash, callHash: call.callHash, argsHash: call.argsHash, createdAt: 5 })],
        })
        for (const id of ["09OLD", "10NEW"]) {
          const [seen] = await backend.listJobs(id)
          assert.deepEqual(seen && [seen.taskHash, seen.evalHash, seen.callHash, seen.taskName], [
            call.taskHash,
            evalHash,
            call.callHash,
            "inc",
          ])
        }
        assert.deepEqual(
          (await backend.findJobs({ evalHashPrefix: evalHash.slice(0, 8) })).map((j) => j.executionId),
          ["10NEW", "09OLD"],
        )
        assert.deepEqual((await backend.loadEvaluations([evalHash])).get(evalHash), {
          valueHash: call.valueHash,
          bytes: batch.values?.[1]?.bytes,
          callHash: call.callHash,
          replayable: true,
        })
        for (const value of batch.values ?? []) assert.deepEqual(await backend.getValue(value.hash), value.bytes)
      } finally {
        await backend.close()
      }
      const { rows } = await pool.query(
        "select execution_id, task_hash is null as t, eval_hash is null as e from job order by execution_id",
      )
      assert.deepEqual(rows, [
        { execution_id: "09OLD", t: false, e: false },
        // Written with its call node, whose task and args hashes derive its eval hash.
        { execution_id: "10NEW", t: true, e: true },
      ])
      assert.deepEqual((await pool.query("select value_hash is null as v from evaluation")).rows, [{ v: true }])
      assert.deepEqual((await pool.query("select count(*)::int as n from small_value")).rows, [{ n: 2 }])
      await db.destroy()
    } finally {
      await pool.end().catch(() => {})
      await fresh.drop()
    }
  })

  it("upgrades a 0010 database: each call's children, recorded one per row, read back in order from packed rows", async () => {
    const fresh = await createTestDatabase()
    const pool = new pg.Pool({ connectionString: fresh.url })
    try {
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
      assert.equal((await new Migrator({ db, provider: migrationProvider("postgres") }).migrateTo("0010_compact_rows")).error, undefined)
      const { parents, nodes, edges } = edgesBefore0011()
      for (const node of nodes) await pool.query("insert into call_node values ($1, $2, $3, $4, 0)", node)
      await pool.query("insert into call_edge select * from unnest($1::bytea[], $2::int4[], $3::bytea[])", [
        edges.map((e) => e[0]),
        edges.map((e) => e[1]),
        edges.map((e) => e[2]),
      ])
      const backend = new PostgresBackend(fresh.url)
      await backend.open()
      try {
        for (const parent of parents) assert.deepEqual((await backend.getCall(parent.callHash))?.children, parent.children)
      } finally {
        await backend.close()
      }
      assert.deepEqual((await pool.query("select count(*)::int as n from call_children")).rows, [{ n: 253 }])
      assert.deepEqual((await pool.query("select to_regclass('call_edge') as t")).rows, [{ t: null }])
      await db.destroy()
    } finally {
      await pool.end().catch(() => {})
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
