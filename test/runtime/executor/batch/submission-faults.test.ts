import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { MemoryBackend } from "../../../../runtime/backend/memory-backend.js"
import { type TaskError, isReductioError } from "../../../../runtime/errors.js"
import type { AwsBatchExecutor } from "../../../../runtime/executor/aws-batch-executor.js"
import { Scheduler } from "../../../../runtime/scheduler/scheduler.js"
import * as fixture from "../../../fixtures/batch/workflow.js"
import { type BatchHarness, startBatchHarness } from "../../../support/batch-harness.js"
import { inProcessRunner } from "../../../support/batch-runner.js"

const workflowPath = new URL("../../../fixtures/batch/workflow.ts", import.meta.url).pathname
const started = await startBatchHarness()
const skip = "batch" in started ? false : started.skip
const harness = started as BatchHarness
after(() => started.stop())

const SUBMISSION = ["DescribeJobDefinitions", "RegisterJobDefinition", "SubmitJob"]
let runs = 0

/** A fresh executor (its own scratch, so no definition or manifest is known yet) and a scheduler over it. */
function fresh(options: Parameters<BatchHarness["executor"]>[0] = {}): { executor: AwsBatchExecutor; scheduler: Scheduler } {
  const executor = harness.executor({
    scratch: harness.scratch(`faults${++runs}`),
    image: `reductio-agent:faults${runs}`,
    // Counted throttles answer one try after another: a short longest backoff keeps the spec quick.
    maxBackoffMs: 200,
    ...options,
  })
  return { executor, scheduler: new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath }) }
}

function sumOfSquares(n: number, offset: number): number {
  let sum = 0
  for (let i = offset; i < offset + n; i++) sum += i * i
  return sum
}

function count(action: string): number {
  return harness.batch.calls[action] ?? 0
}

describe("AwsBatchExecutor submission under throttling and outages (test Batch endpoint)", { skip }, () => {
  before(() => harness.batch.useRunner(inProcessRunner({ skipLog: true, checkExisting: false })))

  it("rides out 60 throttled answers at the start of a 300-call fan-out and sends one array", async () => {
    const { scheduler } = fresh()
    const submitted = count("SubmitJob")
    harness.batch.faults.throttle = 60
    try {
      assert.equal(await scheduler.run(fixture.sumOfSquares(300, 0)), sumOfSquares(300, 0))
      assert.equal(harness.batch.faults.throttle, 0, "every injected throttle was answered")
      assert.equal(count("SubmitJob") - submitted, 1)
    } finally {
      harness.batch.faults.throttle = 0
      await scheduler.stop()
    }
  })

  it("rides out a throttling brown-out of registration and SubmitJob longer than eight tries", async () => {
    const { scheduler } = fresh({ submitDeadline: 60 })
    const refusedBefore = (harness.batch.refused.DescribeJobDefinitions ?? 0) + (harness.batch.refused.SubmitJob ?? 0)
    harness.batch.faults.outage = { ms: 2_500, kind: "throttle", actions: SUBMISSION }
    try {
      assert.equal(await scheduler.run(fixture.sumOfSquares(50, 100)), sumOfSquares(50, 100))
      const refused = (harness.batch.refused.DescribeJobDefinitions ?? 0) + (harness.batch.refused.SubmitJob ?? 0) - refusedBefore
      assert.ok(refused > 8, `the brown-out refused ${refused} calls, more than the eight tries a count would allow`)
    } finally {
      harness.batch.faults.outage = undefined
      await scheduler.stop()
    }
  })

  it("rides out a 5xx outage of SubmitJob", async () => {
    const { scheduler } = fresh({ submitDeadline: 60 })
    harness.batch.faults.outage = { ms: 1_500, kind: "unavailable", actions: ["SubmitJob"] }
    const refusedBefore = harness.batch.refused.SubmitJob ?? 0
    try {
      assert.equal(await scheduler.run(fixture.sumOfSquares(20, 300)), sumOfSquares(20, 300))
      assert.ok((harness.batch.refused.SubmitJob ?? 0) > refusedBefore)
    } finally {
      harness.batch.faults.outage = undefined
      await scheduler.stop()
    }
  })

  it("fails every call with SERVICE_ERROR naming the deadline when the outage outlasts it", async () => {
    const { scheduler } = fresh({ submitDeadline: 1 })
    harness.batch.faults.outage = { ms: 60_000, kind: "throttle", actions: SUBMISSION }
    // The deadline runs from the executor's first try, which the endpoint sees a request's latency
    // later: measured from before the run, giving up takes at least the deadline.
    const started = Date.now()
    try {
      await assert.rejects(scheduler.run(fixture.sumOfSquares(10, 700)), (error: TaskError) => {
        assert.ok(isReductioError(error, "INFRASTRUCTURE_FAILURE"))
        assert.equal(error.record.code, "SERVICE_ERROR")
        assert.equal((error.record.cause as { details?: Record<string, unknown> } | undefined)?.details?.submitDeadline, 1)
        return true
      })
      const elapsed = Date.now() - started
      assert.ok(elapsed >= 1_000 && elapsed < 20_000, `gave up ${elapsed} ms after the run started`)
    } finally {
      harness.batch.faults.outage = undefined
      await scheduler.stop()
    }
  })
})
