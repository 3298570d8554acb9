import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { main } from "../../../runtime/cli/main.js"
import type { CliIo } from "../../../runtime/cli/io.js"
import { fixtureWorkflow, tempDir } from "../../agent/agent-harness.js"

function captured(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = ""
  let err = ""
  return {
    out: (text) => (out += text),
    err: (text) => (err += text),
    isTTY: false,
    columns: 100,
    cwd: process.cwd(),
    env: {},
    stdout: () => out,
    stderr: () => err,
  }
}

describe("reductio bundle", () => {
  it("prints the hash, size and files, and uploads once", async () => {
    const scratch = await tempDir("reductio-cli-bundle-")
    const first = captured()
    assert.equal(await main(["bundle", fixtureWorkflow, "--scratch", scratch, "--json"], first), 0, first.stderr())
    const summary = JSON.parse(first.stdout()) as { sha256: string; size: number; files: { path: string }[]; uploaded: boolean }
    assert.match(summary.sha256, /^[0-9a-f]{64}$/)
    assert.ok(summary.size > 0)
    assert.deepEqual(
      summary.files.map((f) => f.path),
      ["reductio-bundle.json", "workflow.mjs", "workflow.mjs.map"],
    )
    assert.equal(summary.uploaded, true)
    const second = captured()
    assert.equal(await main(["bundle", fixtureWorkflow, "--scratch", scratch], second), 0)
    assert.match(second.stdout(), new RegExp(`sha256\\s+${summary.sha256}`))
    assert.match(second.stdout(), /already at/)
  })

  it("exits with the code of WORKFLOW_NOT_FOUND for a missing file", async () => {
    const io = captured()
    assert.equal(await main(["bundle", "does-not-exist.ts"], io), 2)
    assert.match(io.stderr(), /WORKFLOW_NOT_FOUND/)
  })
})
