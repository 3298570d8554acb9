import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { openBackend } from "../../../runtime/backend/open-backend.js"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { createTestDatabase, postgresSkipReason } from "../../support/postgres.js"

describe("openBackend", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-open-"))
  })
  after(async () => rm(dir, { recursive: true, force: true }))

  it('opens an in-memory backend for "memory"', async () => {
    assert.ok((await openBackend("memory")) instanceof MemoryBackend)
  })

  it("opens a SQLite file relative to cwd, creating it", async () => {
    const backend = await openBackend(".reductio/reductio.db", { cwd: dir })
    assert.ok(backend instanceof SqliteBackend)
    assert.equal(backend.path, join(dir, ".reductio", "reductio.db"))
    assert.ok(existsSync(join(dir, ".reductio", "reductio.db")))
    await backend.close()
  })

  it('accepts a "sqlite:" prefix', async () => {
    const backend = await openBackend("sqlite:other.db", { cwd: dir })
    assert.equal((backend as SqliteBackend).path, join(dir, "other.db"))
    await backend.close()
  })

  it("opens Postgres for a postgres:// URL", { skip: postgresSkipReason() }, async () => {
    const database = await createTestDatabase()
    try {
      const backend = await openBackend(database.url.replace(/^postgres:/, "postgresql:"))
      assert.equal(backend.constructor.name, "PostgresBackend")
      assert.deepEqual(await backend.listExecutions(), [])
      await backend.close()
    } finally {
      await database.drop()
    }
  })
})
