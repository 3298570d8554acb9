import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { CliIo } from "../../../runtime/cli/io.js"
import { formatBytes, SyncProgressBar } from "../../../runtime/cli/sync-progress.js"

function terminal(): { io: CliIo; written: string[] } {
  const written: string[] = []
  return {
    written,
    io: { out: () => undefined, err: (text) => written.push(text), isTTY: true, columns: 100, cwd: "/", env: {} },
  }
}

describe("reductio sync's progress bar", () => {
  it("shows files and bytes done while copying, and clears itself", () => {
    const { io, written } = terminal()
    const bar = new SyncProgressBar(io)
    bar.update({ phase: "copying", filesDone: 0, filesTotal: 4, bytesDone: 0, bytesTotal: 4_000_000 })
    bar.update({ phase: "copying", filesDone: 4, filesTotal: 4, bytesDone: 4_000_000, bytesTotal: 4_000_000 })
    const last = written.at(-1) ?? ""
    assert.match(last, /^\rsync: copying \[#{24}\] 4\/4 files {2}4\.0 MB\/4\.0 MB/)
    bar.clear()
    assert.equal(written.at(-1), "\r\u001b[K")
  })

  it("redraws at most ten times a second", () => {
    const { io, written } = terminal()
    const bar = new SyncProgressBar(io)
    for (let i = 0; i < 1000; i++) bar.update({ phase: "comparing", filesDone: i, filesTotal: 2000, bytesDone: 0, bytesTotal: 0 })
    assert.ok(written.length <= 2, `${written.length} redraws`)
  })

  it("prints bytes as aws s3 does", () => {
    assert.equal(formatBytes(512), "512 B")
    assert.equal(formatBytes(1_500_000), "1.5 MB")
    assert.equal(formatBytes(2_000_000_000), "2.0 GB")
  })
})
