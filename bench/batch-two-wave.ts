/**
 * A two-wave workflow through the AwsBatchExecutor and the Scheduler: N calls (default 1,000),
 * then N more, each ready when its one input of the first wave finishes. The test Batch endpoint
 * shows jobs ended in batches (`completionBatchMs`, as real Batch does), so completions reach the
 * host one monitoring round at a time and the second wave trickles in; adaptive coalescing should
 * send it as about one array per round. Children run in the endpoint's fast in-process mode against
 * moto's S3. Prints JSON figures: SubmitJob calls, the monitoring rounds that delivered
 * completions, and whether the goals hold (SubmitJob calls ≤ delivering rounds, ≤ 20).
 *
 *   node --conditions=reductio-source --import tsx bench/batch-two-wave.ts [calls] [completionBatchMs]
 */
import { randomBytes } from "node:crypto"
import { loadavg } from "node:os"
import { performance } from "node:perf_hooks"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { MemoryBackend } from "../runtime/backend/memory-backend.js"
import { AwsBatchExecutor } from "../runtime/executor/aws-batch-executor.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import * as fixture from "../test/fixtures/batch/workflow.js"
import { startBatchEndpoint } from "../test/support/batch-endpoint.js"
import { inProcessRunner } from "../test/support/batch-runner.js"
import { startMoto } from "../test/support/moto.js"

const calls = Number(process.argv[2] ?? 1_000)
const completionBatchMs = Number(process.argv[3] ?? 1_000)
const workflowPath = new URL("../test/fixtures/batch/workflow.ts", import.meta.url).pathname
const moto = await startMoto()
if (moto.skip !== false) throw new Error(moto.skip)

try {
  configureS3({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 10 })
  const bucket = `bench-${randomBytes(4).toString("hex")}`
  const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  s3.destroy()

  const batch = await startBatchEndpoint({
    agentPath: "unused-in-fast-mode",
    concurrency: 64,
    completionBatchMs,
    runner: inProcessRunner({ skipLog: true, checkExisting: false }),
  })
  const rounds: { at: number; completions: number }[] = []
  const executor = new AwsBatchExecutor({
    image: "reductio-agent:bench",
    queue: "bench",
    scratch: `s3://${bucket}/scratch`,
    endpoint: batch.endpoint,
    region: moto.region,
    credentials: moto.credentials,
    poll: { onRound: (completions) => rounds.push({ at: performance.now(), completions }) },
  })
  const scheduler = new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath })
  const startedAt = performance.now()
  const value = await scheduler.run(fixture.twoWaves(calls, 0))
  const totalMs = performance.now() - startedAt
  await scheduler.stop()
  await batch.stop()

  const expected = ((calls - 1) * calls * (2 * calls - 1)) / 6 + calls
  if (value !== expected) throw new Error(`wrong sum ${value}, expected ${expected}`)
  const submitJobCalls = batch.calls.SubmitJob ?? 0
  const delivering = rounds.filter((round) => round.completions > 0)
  const arraySizes = batch.state.topLevelJobs().map((job) => job.size ?? 1)
  console.log(
    JSON.stringify(
      {
        benchmark: "batch-two-wave",
        callsPerWave: calls,
        completionBatchMs,
        submitJobCalls,
        jobSizes: arraySizes,
        monitoringRounds: rounds.length,
        roundsDeliveringCompletions: delivering.length,
        completionsPerDeliveringRound: delivering.map((round) => round.completions),
        goalSubmitsAtMostDeliveringRounds: submitJobCalls <= delivering.length,
        goalAtMost20Submits: submitJobCalls <= 20,
        batchCallsByAction: batch.calls,
        totalMs: Math.round(totalMs),
        load: loadavg().map((l) => Number(l.toFixed(2))),
      },
      null,
      2,
    ),
  )
} finally {
  await moto.stop()
}
