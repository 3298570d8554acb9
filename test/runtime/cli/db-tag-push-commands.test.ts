import assert from "node:assert/strict"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import type { CliIo } from "../../../runtime/cli/io.js"
import { main } from "../../../runtime/cli/main.js"
import { execution } from "../backend/backend-conformance.js"

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ""
  let stderr = ""
  const io: CliIo = { out: (t) => (stdout += t), err: (t) => (stderr += t), isTTY: false, columns: 100, cwd, env: {} }
  const code = await main(args, io)
  return { code, stdout, stderr }
}

describe("reductio db, tag, push and pull", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-dbcli-"))
    const backend = new SqliteBackend(join(dir, ".reductio", "reductio.db"))
    await backend.open()
    await backend.write({ executions: [execution("06CLI-1")] })
    await backend.close()
  })
  after(async () => rm(dir, { recursive: true, force: true }))

  it("db info names the project's default database and its migrations", async () => {
    const { code, stdout } = await cli(["db", "info", "--json"], dir)
    assert.equal(code, 0)
    const info = JSON.parse(stdout) as { database: string; migrations: string[]; upToDate: boolean; executions: number }
    assert.match(info.database, /reductio\.db$/)
    assert.deepEqual(info.migrations, [
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
    assert.equal(info.upToDate, true)
    assert.equal(info.executions, 1)
  })

  it("db migrate creates a new database given with --db", async () => {
    const { code } = await cli(["db", "migrate", "--db", "fresh/other.db"], dir)
    assert.equal(code, 0)
  })

  it("tag sets, replaces and removes tags by execution prefix", async () => {
    assert.equal((await cli(["tag", "06CLI", "env=prod", "team=bio"], dir)).code, 0)
    const { stdout } = await cli(["tag", "06CLI", "env=dev", "-d", "team", "--json"], dir)
    assert.deepEqual(JSON.parse(stdout), { execution: "06CLI-1", tags: { env: "dev" } })
  })

  it("tag exits with NOT_FOUND's code for an unknown execution, and INVALID_ARGUMENT's for a bad tag", async () => {
    const missing = await cli(["tag", "nope", "a=b"], dir)
    assert.equal(missing.code, 4)
    assert.match(missing.stderr, /NOT_FOUND/)
    assert.equal((await cli(["tag", "06CLI", "novalue"], dir)).code, 2)
  })

  it("push copies executions to another database and pull brings them back", async () => {
    const pushed = await cli(["push", "shared.db", "--json"], dir)
    assert.equal(pushed.code, 0, pushed.stderr)
    assert.equal((JSON.parse(pushed.stdout) as { executions: number }).executions, 1)
    const elsewhere = await mkdtemp(join(tmpdir(), "reductio-pull-"))
    try {
      const pulled = await cli(["pull", join(dir, "shared.db"), "06CLI-1", "--quiet"], elsewhere)
      assert.equal(pulled.code, 0, pulled.stderr)
      const backend = new SqliteBackend(join(elsewhere, ".reductio", "reductio.db"))
      await backend.open()
      assert.equal((await backend.getExecution("06CLI-1"))?.id, "06CLI-1")
      assert.deepEqual(await backend.getTags("06CLI-1"), { env: "dev" })
      await backend.close()
    } finally {
      await rm(elsewhere, { recursive: true, force: true })
    }
  })
})
