import assert from "node:assert/strict"
import { mkdtemp, rm, unlink } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { MemoryBackend } from "../../runtime/backend/memory-backend.js"
import { MODE_KEY } from "../../runtime/run.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"

// Loaded as the CLI loads it: the example's top-level run() only names its entry.
;(globalThis as Record<symbol, unknown>)[MODE_KEY] = "cli"
const { main } = await import("../../examples/sequencing/workflow.js")

describe("examples/sequencing", () => {
  let dir: string
  const backend = new MemoryBackend()
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-sequencing-"))
  })
  after(async () => {
    delete (globalThis as Record<symbol, unknown>)[MODE_KEY]
    await rm(dir, { recursive: true, force: true })
  })

  const runMain = async () => {
    const statuses: string[] = []
    let reused = 0
    const scheduler = new Scheduler({
      backend,
      onEvent: (e) => {
        if (e.type === "job" && e.status !== "PENDING" && e.status !== "RUNNING") statuses.push(e.status)
        if (e.type === "reused-calls") reused += Object.values(e.calls).reduce((a, b) => a + b, 0)
      },
    })
    const summary = await scheduler.run(main(3, 100, dir))
    const cached = statuses.filter((s) => s === "CACHED").length
    return { summary, ran: statuses.filter((s) => s === "DONE").length, cached, reused }
  }

  it("runs the pipeline end to end", async () => {
    const { summary, ran } = await runMain()
    assert.equal(summary.samples, 3)
    assert.equal(summary.reads, 300)
    assert.ok(summary.distinctPrefixes > 0 && summary.distinctPrefixes <= 256)
    assert.equal(summary.table.path, join(dir, "merged.counts.txt"))
    assert.equal(ran, 13)
  })

  it("replays every step on a rerun: the whole recorded tree, its files checked", async () => {
    const { ran, cached, reused } = await runMain()
    assert.equal(ran, 0)
    assert.equal(cached, 1)
    assert.equal(reused, 12)
  })

  it("reruns only the producer of a deleted output and what depends on it", async () => {
    await unlink(join(dir, "sample2.counts.txt"))
    const { summary, ran } = await runMain()
    assert.equal(summary.reads, 300)
    // sample2's script, the merge task and its script, and the summary.
    assert.equal(ran, 4)
  })
})
