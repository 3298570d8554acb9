import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { Progress } from "../../../runtime/cli/progress.js"
import type { CliIo } from "../../../runtime/cli/io.js"
import type { SchedulerEvent } from "../../../runtime/scheduler/events.js"

const ESC = String.fromCharCode(27)

function captureIo(isTTY: boolean): { io: CliIo; text: () => string } {
  let written = ""
  const io: CliIo = { out: () => undefined, err: (chunk) => (written += chunk), isTTY, columns: 120, cwd: ".", env: {} }
  return { io, text: () => written }
}

const job = (
  seq: number,
  task: string,
  status: "PENDING" | "RUNNING" | "WAITING" | "DONE" | "CACHED" | "FAILED",
  previous?: "PENDING" | "RUNNING",
): SchedulerEvent => ({
  type: "job",
  executionId: "exec-1",
  seq,
  task,
  status,
  previous,
  evalHash: `${seq}`.padStart(64, "0"),
})

describe("progress", () => {
  it("draws a per-task table in place on a terminal and ends with a summary", () => {
    const { io, text } = captureIo(true)
    const progress = new Progress(io, "table", 60_000)
    progress.onEvent({ type: "execution-started", executionId: "exec-1", startedAt: Date.now() })
    progress.onEvent(job(1, "align", "PENDING"))
    progress.onEvent(job(1, "align", "RUNNING", "PENDING"))
    progress.onEvent(job(2, "align", "PENDING"))
    progress.onEvent(job(2, "align", "CACHED", "PENDING"))
    progress.onEvent(job(3, "qc", "PENDING"))
    progress.onEvent(job(3, "qc", "FAILED", "PENDING"))
    progress.onEvent({ type: "log", executionId: "exec-1", message: "bundled the workflow" })
    progress.onEvent(job(1, "align", "DONE", "RUNNING"))
    progress.finish("FAILED")
    const output = text()
    assert.match(output, /^execution exec-1 started$/m)
    assert.match(output, /TASK\s+PENDING\s+RUNNING\s+WAITING\s+FAILED\s+CACHED\s+DONE\s+TOTAL\s+ELAPSED/)
    assert.match(output, /align\s+0\s+0\s+0\s+0\s+1\s+1\s+2\s/)
    assert.match(output, /qc\s+0\s+0\s+0\s+1\s+0\s+0\s+1\s/)
    assert.match(output, new RegExp(`${ESC}\\[\\d+A${ESC}\\[J`), "redraws in place")
    assert.match(output, /bundled the workflow/)
    assert.match(output, /execution exec-1 FAILED in [\d.]+s: 3 jobs, 1 done, 1 cached, 1 failed/)
  })

  it("counts the calls a cached job reused as cached rows of their tasks", () => {
    const { io, text } = captureIo(true)
    const progress = new Progress(io, "table", 60_000)
    progress.onEvent({ type: "execution-started", executionId: "exec-1", startedAt: Date.now() })
    progress.onEvent(job(1, "fanout", "PENDING"))
    progress.onEvent(job(1, "fanout", "CACHED", "PENDING"))
    progress.onEvent({ type: "reused-calls", executionId: "exec-1", seq: 1, task: "fanout", calls: { inc: 10_000, sum: 1 } })
    progress.finish("DONE")
    assert.match(text(), /inc\s+0\s+0\s+0\s+0\s+10000\s+0\s+10000\s/)
    assert.match(text(), /execution exec-1 DONE in [\d.]+s: 10002 jobs, 0 done, 10002 cached \(10001 reused with a cached parent\)/)
  })

  it("counts a parent waiting on its children apart from jobs that run", () => {
    const { io, text } = captureIo(true)
    const progress = new Progress(io, "table", 60_000)
    progress.onEvent({ type: "execution-started", executionId: "exec-1", startedAt: Date.now() })
    progress.onEvent(job(1, "fanout", "PENDING"))
    progress.onEvent(job(1, "fanout", "RUNNING", "PENDING"))
    progress.onEvent(job(1, "fanout", "WAITING", "RUNNING"))
    progress.onEvent(job(2, "inc", "PENDING"))
    progress.onEvent(job(2, "inc", "RUNNING", "PENDING"))
    progress.finish("CANCELLED")
    assert.match(text(), /fanout\s+0\s+0\s+1\s+0\s+0\s+0\s+1\s/)
    assert.match(text(), /inc\s+0\s+1\s+0\s+0\s+0\s+0\s+1\s/)
    assert.match(text(), /2 jobs, 0 done, 0 cached, 1 running, 1 waiting/)
  })

  it("writes plain lines, no escape codes, when not on a terminal", () => {
    const { io, text } = captureIo(false)
    const progress = new Progress(io, "lines", 60_000)
    progress.onEvent({ type: "execution-started", executionId: "exec-1", startedAt: Date.now() })
    progress.onEvent(job(1, "align", "PENDING"))
    progress.onEvent(job(1, "align", "DONE", "PENDING"))
    progress.finish("DONE")
    assert.ok(!text().includes(ESC))
    assert.match(text(), /execution exec-1 started/)
    assert.match(text(), /execution exec-1 DONE in [\d.]+s: 1 jobs, 1 done, 0 cached/)
  })

  it("says nothing when quiet", () => {
    const { io, text } = captureIo(true)
    const progress = new Progress(io, "off")
    progress.onEvent({ type: "execution-started", executionId: "exec-1", startedAt: Date.now() })
    progress.onEvent(job(1, "align", "PENDING"))
    progress.finish("DONE")
    assert.equal(text(), "")
  })
})
