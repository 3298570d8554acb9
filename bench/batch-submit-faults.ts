/**
 * Submission under injected faults: for each scenario, a fan-out through the AwsBatchExecutor and
 * the Scheduler against the test Batch endpoint (children in its fast in-process mode, moto S3),
 * with the fault injected at submission. Prints, per scenario, how it ended, the SubmitJob and
 * registration calls and the calls the fault refused. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/batch-submit-faults.ts [calls]
 */
import { performance } from "node:perf_hooks"
import { MemoryBackend } from "../runtime/backend/memory-backend.js"
import { toErrorRecord } from "../runtime/errors.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import * as fixture from "../test/fixtures/batch/workflow.js"
import type { BatchFaults } from "../test/support/batch-endpoint.js"
import { type BatchHarness, startBatchHarness } from "../test/support/batch-harness.js"
import { inProcessRunner } from "../test/support/batch-runner.js"

const calls = Number(process.argv[2] ?? 1_000)
const workflowPath = new URL("../test/fixtures/batch/workflow.ts", import.meta.url).pathname
const SUBMISSION = ["DescribeJobDefinitions", "RegisterJobDefinition", "SubmitJob"]

const scenarios: { name: string; submitDeadline: number; inject: (faults: BatchFaults) => void }[] = [
  { name: "60 throttled answers at start", submitDeadline: 600, inject: (faults) => void (faults.throttle = 60) },
  {
    name: "45 s throttling brown-out of registration and SubmitJob",
    submitDeadline: 600,
    inject: (faults) => void (faults.outage = { ms: 45_000, kind: "throttle", actions: SUBMISSION }),
  },
  {
    name: "20 s of 503 on SubmitJob",
    submitDeadline: 600,
    inject: (faults) => void (faults.outage = { ms: 20_000, kind: "unavailable", actions: ["SubmitJob"] }),
  },
  {
    name: "outage outlasting a 10 s submitDeadline",
    submitDeadline: 10,
    inject: (faults) => void (faults.outage = { ms: 600_000, kind: "throttle", actions: SUBMISSION }),
  },
]

const started = await startBatchHarness({ runner: inProcessRunner({ skipLog: true, checkExisting: false }) })
if (!("batch" in started)) throw new Error(started.skip)
const harness = started as BatchHarness
const results = []
try {
  let run = 0
  for (const scenario of scenarios) {
    run++
    const before = { ...harness.batch.calls }
    const refusedBefore = { ...harness.batch.refused }
    const executor = harness.executor({
      scratch: harness.scratch(`faults${run}`),
      image: `reductio-agent:faults${run}`,
      // Production backoff, the default token bucket: what a real run would do.
      callsPerSecond: 5,
      burst: 10,
      baseBackoffMs: 500,
      submitDeadline: scenario.submitDeadline,
    })
    const scheduler = new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath })
    scenario.inject(harness.batch.faults)
    const startedAt = performance.now()
    let ending: string
    try {
      await scheduler.run(fixture.sumOfSquares(calls, run * 10_000))
      ending = `succeeded: all ${calls} calls`
    } catch (error) {
      const record = toErrorRecord(error)
      const inner = (error as { record?: { code?: string; message?: string } }).record
      ending = `failed ${record.code} / ${inner?.code ?? "?"}: ${inner?.message ?? record.message}`
    }
    const seconds = Math.round((performance.now() - startedAt) / 100) / 10
    harness.batch.faults.throttle = 0
    harness.batch.faults.outage = undefined
    await scheduler.stop()
    const delta = (now: Record<string, number>, then: Record<string, number>, action: string) => (now[action] ?? 0) - (then[action] ?? 0)
    results.push({
      scenario: scenario.name,
      ending,
      seconds,
      submitJobCalls: delta(harness.batch.calls, before, "SubmitJob"),
      submitJobAccepted: delta(harness.batch.calls, before, "SubmitJob") - delta(harness.batch.refused, refusedBefore, "SubmitJob"),
      describeJobDefinitionsCalls: delta(harness.batch.calls, before, "DescribeJobDefinitions"),
      registerJobDefinitionCalls: delta(harness.batch.calls, before, "RegisterJobDefinition"),
      refused: Object.fromEntries(SUBMISSION.map((action) => [action, delta(harness.batch.refused, refusedBefore, action)])),
    })
  }
  console.log(JSON.stringify({ benchmark: "batch-submit-faults", calls, scenarios: results }, null, 2))
} finally {
  await harness.stop()
}
