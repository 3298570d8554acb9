import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { runCli } from "../../support/cli.js"

describe("the project's database", () => {
  it("is not created by `reductio log` in a folder where nothing ran: NOT_FOUND with what to do", async () => {
    const empty = await mkdtemp(join(tmpdir(), "reductio-empty-"))
    try {
      const result = await runCli(["log"], { cwd: empty })
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /no reductio database at .*reductio run/)
      assert.equal(existsSync(join(empty, ".reductio")), false)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})
