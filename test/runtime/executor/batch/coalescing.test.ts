import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { MemoryBackend } from "../../../../runtime/backend/memory-backend.js"
import { Scheduler } from "../../../../runtime/scheduler/scheduler.js"
import * as fixture from "../../../fixtures/batch/workflow.js"
import { type BatchHarness, startBatchHarness } from "../../../support/batch-harness.js"
import { inProcessRunner } from "../../../support/batch-runner.js"

const workflowPath = new URL("../../../fixtures/batch/workflow.ts", import.meta.url).pathname
// Jobs are shown ended in batches, as real Batch does, so completions arrive one round at a time.
const started = await startBatchHarness({ completionBatchMs: 300, runner: inProcessRunner({ skipLog: true, checkExisting: false }) })
const skip = "batch" in started ? false : started.skip
const harness = started as BatchHarness
after(() => started.stop())

describe("AwsBatchExecutor coalescing of a dependent wave (test Batch endpoint)", { skip }, () => {
  it("sends the second wave as about one array per monitoring round that delivered completions", async () => {
    const rounds: number[] = []
    const executor = harness.executor({
      scratch: harness.scratch("waves"),
      poll: { minIntervalMs: 100, maxIntervalMs: 400, callsPerSecond: 100, onRound: (completions) => rounds.push(completions) },
    })
    const scheduler = new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath })
    try {
      const n = 200
      assert.equal(await scheduler.run(fixture.twoWaves(n, 0)), ((n - 1) * n * (2 * n - 1)) / 6 + n)
      const submits = harness.batch.calls.SubmitJob ?? 0
      const delivering = rounds.filter((completions) => completions > 0).length
      // About half the delivering rounds carry first-wave completions: one array each at most, plus
      // the first wave's own. (Flushing on every idle() made 17 SubmitJob calls of 22 rounds here.)
      assert.ok(submits <= delivering / 2 + 1, `${submits} SubmitJob calls for ${delivering} rounds that delivered completions`)
      assert.ok(submits < n / 10, `${submits} SubmitJob calls for ${n} second-wave calls`)
    } finally {
      await scheduler.stop()
    }
  })
})
