import assert from "node:assert/strict"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import * as fixture from "../../fixtures/batch/workflow.js"
import { type BatchHarness, startBatchHarness } from "../../support/batch-harness.js"
import { inProcessRunner } from "../../support/batch-runner.js"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflowPath = new URL("../../fixtures/batch/workflow.ts", import.meta.url).pathname
const started = await startBatchHarness()
const skip = "batch" in started ? false : started.skip
const harness = started as BatchHarness
after(() => started.stop())

describe("reductio batch ls, logs and kill (test Batch endpoint + moto)", { skip }, () => {
  let project: TempProject
  let scratch: string
  const cli = (args: string[]) =>
    runCli(["batch", ...args], {
      cwd: project.dir,
      env: { ...process.env, ...harness.moto.env, AWS_ENDPOINT_URL_BATCH: harness.batch.endpoint },
    })
  /** Runs an expression in this process against the project's database, as `reductio run` would. */
  async function runHere<T>(use: (scheduler: Scheduler) => Promise<T>): Promise<T> {
    const backend = new SqliteBackend(join(project.dir, ".reductio", "reductio.db"))
    await backend.open()
    try {
      return await use(new Scheduler({ backend, executors: { batch: harness.executor({ scratch, pinImages: false }) }, workflowPath }))
    } finally {
      await backend.close()
    }
  }

  before(async () => {
    harness.batch.useRunner(inProcessRunner({ skipLog: true, checkExisting: false }))
    project = await tempProject()
    scratch = harness.scratch("cli")
    const { moto } = harness
    await project.write(
      "reductio.config.ts",
      `export default {
  executors: { batch: { type: "aws_batch", image: "reductio-agent:test", queue: "test-queue", scratch: ${JSON.stringify(scratch)}, region: "us-east-1" } },
  s3: { endpoint: ${JSON.stringify(moto.endpoint)}, forcePathStyle: true, region: "us-east-1" },
}\n`,
    )
  })
  after(() => project.remove())

  it("ls lists an execution's Batch jobs with their Batch status", async () => {
    const executionId = await runHere(async (scheduler) => {
      assert.equal(await scheduler.run(fixture.sumOfSquares(3, 1)), 1 + 4 + 9)
      return scheduler.lastExecutionId as string
    })
    const listed = await cli(["ls", "--execution", executionId, "--json"])
    assert.equal(listed.code, 0, listed.stderr)
    const { jobs } = JSON.parse(listed.stdout) as { jobs: { task: string; batchJobId: string; batchStatus: string }[] }
    const parent = harness.batch.state.topLevelJobs().at(-1)?.jobId
    assert.deepEqual(
      jobs.map((job) => job.batchJobId).sort(),
      [0, 1, 2].map((index) => `${parent}:${index}`),
    )
    assert.ok(jobs.every((job) => job.task === "batchfx.square" && job.batchStatus === "SUCCEEDED"))
    const text = await cli(["ls"])
    assert.match(text.stdout, new RegExp(`${executionId}: 3 AWS Batch jobs`))
  })

  it("logs prints the CloudWatch stream of a job whose agent left no log, and NOT_FOUND when there is none", async () => {
    const executionId = await runHere(async (scheduler) => {
      await scheduler.run(fixture.square(12))
      return scheduler.lastExecutionId as string
    })
    const job = harness.batch.state.topLevelJobs().at(-1)
    const missing = await cli(["logs", `${executionId}/1`])
    assert.equal(missing.code, 4, missing.stderr)
    assert.match(missing.stderr, /NOT_FOUND/)
    const stream = `${job?.definition.name}/default/${job?.jobId}`
    const logs = new CloudWatchLogsClient({
      endpoint: harness.moto.endpoint,
      region: harness.moto.region,
      credentials: harness.moto.credentials,
    })
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/aws/batch/job" })).catch(() => undefined)
    await logs.send(new CreateLogStreamCommand({ logGroupName: "/aws/batch/job", logStreamName: stream }))
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: "/aws/batch/job",
        logStreamName: stream,
        logEvents: [
          { timestamp: Date.now(), message: "pulling image" },
          { timestamp: Date.now() + 1, message: "square done" },
        ],
      }),
    )
    logs.destroy()
    const printed = await cli(["logs", `${executionId}/1`])
    assert.equal(printed.code, 0, printed.stderr)
    assert.equal(printed.stdout, "pulling image\nsquare done\n")
    const refused = await cli(["logs", executionId])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /INVALID_ARGUMENT/)
  })

  it("kill terminates the execution's running Batch jobs", async () => {
    await runHere(async (scheduler) => {
      const run = scheduler.run(fixture.nap(120_000, "long"))
      run.catch(() => undefined)
      const deadline = Date.now() + 20_000
      let executionId: string | undefined
      while (Date.now() < deadline) {
        executionId = scheduler.lastExecutionId
        const running = harness.batch.state.topLevelJobs().at(-1)
        if (executionId !== undefined && running?.status === "RUNNING") {
          const listed = await cli(["ls", "--execution", executionId, "--json"])
          if ((JSON.parse(listed.stdout) as { jobs: unknown[] }).jobs.length === 1) break
        }
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const killed = await cli(["kill", executionId as string, "--json"])
      assert.equal(killed.code, 0, killed.stderr)
      const { terminated } = JSON.parse(killed.stdout) as { terminated: string[] }
      assert.deepEqual(terminated, [harness.batch.state.topLevelJobs().at(-1)?.jobId])
      await assert.rejects(run)
      assert.equal(harness.batch.state.topLevelJobs().at(-1)?.status, "FAILED")
    })
  })
})
