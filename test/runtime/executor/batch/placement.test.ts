import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs"
import { MemoryBackend } from "../../../../runtime/backend/memory-backend.js"
import { SqliteBackend } from "../../../../runtime/backend/sqlite-backend.js"
import { isReductioError, type TaskError } from "../../../../runtime/errors.js"
import type { AwsBatchExecutorOptions } from "../../../../runtime/executor/aws-batch-executor.js"
import { Scheduler } from "../../../../runtime/scheduler/scheduler.js"
import * as fixture from "../../../fixtures/batch/workflow.js"
import { type BatchHarness, startBatchHarness } from "../../../support/batch-harness.js"
import { inProcessRunner } from "../../../support/batch-runner.js"

const workflowPath = new URL("../../../fixtures/batch/workflow.ts", import.meta.url).pathname
const started = await startBatchHarness({ jobQueues: ["test-queue", "fargate-queue", "gpu-queue"] })
const skip = "batch" in started ? false : started.skip
const harness = started as BatchHarness
after(() => started.stop())

const EXECUTION_ROLE = "arn:aws:iam::123456789012:role/BatchExecution"
const JOB_ROLE = "arn:aws:iam::123456789012:role/BatchJob"

function run(options: Partial<AwsBatchExecutorOptions>, expression: unknown): Promise<unknown> {
  const executor = harness.executor({ scratch: harness.scratch(), pinImages: false, ...options })
  return new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath }).run(expression)
}

/** The body of the last RegisterJobDefinition and the last top-level SubmitJob request. */
function lastPayloads(): { definition: Record<string, unknown>; container: Record<string, unknown>; submit: Record<string, unknown> } {
  const definition = harness.batch.state.definitions.at(-1)?.body as Record<string, unknown>
  const submit = harness.batch.state.topLevelJobs().at(-1)?.request as Record<string, unknown>
  return { definition, container: definition.containerProperties as Record<string, unknown>, submit }
}

describe("AWS Batch placement (job definitions and SubmitJob payloads on the test endpoint)", { skip }, () => {
  before(() => harness.batch.useRunner(inProcessRunner({ skipLog: true, checkExisting: false })))

  it("registers a Fargate definition: platform, execution role, public IP, platform version, ephemeral storage", async () => {
    const value = await run(
      {
        queue: "fargate-queue",
        platform: "FARGATE",
        executionRole: EXECUTION_ROLE,
        role: JOB_ROLE,
        assignPublicIp: true,
        fargatePlatformVersion: "1.4.0",
        ephemeralStorage: 50,
        vcpus: 0.5,
        memory: 1024,
      },
      fixture.square(7),
    )
    assert.equal(value, 49)
    const { definition, container, submit } = lastPayloads()
    assert.deepEqual(definition.platformCapabilities, ["FARGATE"])
    assert.equal(container.executionRoleArn, EXECUTION_ROLE)
    assert.equal(container.jobRoleArn, JOB_ROLE)
    assert.deepEqual(container.networkConfiguration, { assignPublicIp: "ENABLED" })
    assert.deepEqual(container.fargatePlatformConfiguration, { platformVersion: "1.4.0" })
    assert.deepEqual(container.ephemeralStorage, { sizeInGiB: 50 })
    assert.equal(submit.jobQueue, "fargate-queue")
    assert.deepEqual((submit.containerOverrides as { resourceRequirements: unknown }).resourceRequirements, [
      { type: "VCPU", value: "0.5" },
      { type: "MEMORY", value: "1024" },
    ])
  })

  it("puts EC2 container settings in the definition: privileged, shared memory, Linux parameters, EFS volumes, environment", async () => {
    await run(
      {
        privileged: true,
        sharedMemorySize: 4096,
        linuxParameters: { swappiness: 10, tmpfs: [{ containerPath: "/scratch", size: 1024 }] },
        environment: { GENOME: "hg38" },
        volumes: [{ name: "refs", efs: { fileSystemId: "fs-0123abcd", rootDirectory: "/refs", transitEncryption: "ENABLED" } }],
        mountPoints: [{ sourceVolume: "refs", containerPath: "/refs", readOnly: true }],
      },
      fixture.square(3),
    )
    const { definition, container } = lastPayloads()
    assert.equal(definition.platformCapabilities, undefined)
    assert.equal(container.privileged, true)
    assert.deepEqual(container.linuxParameters, {
      initProcessEnabled: true,
      sharedMemorySize: 4096,
      swappiness: 10,
      tmpfs: [{ containerPath: "/scratch", size: 1024 }],
    })
    assert.deepEqual(container.environment, [{ name: "GENOME", value: "hg38" }])
    assert.deepEqual(container.volumes, [
      { name: "refs", efsVolumeConfiguration: { fileSystemId: "fs-0123abcd", rootDirectory: "/refs", transitEncryption: "ENABLED" } },
    ])
    assert.deepEqual(container.mountPoints, [{ sourceVolume: "refs", containerPath: "/refs", readOnly: true }])
  })

  it("lets a call refine its executor's settings: queue, priority, share, tags, environment merged by name", async () => {
    const call = fixture.square.options({
      batch: {
        queue: "gpu-queue",
        schedulingPriority: 70,
        shareIdentifier: "teamA",
        tags: { team: "a" },
        environment: { B: "2" },
        propagateTags: false,
      },
    })
    assert.equal(await run({ environment: { A: "1" }, tags: { project: "p" } }, call(4)), 16)
    const { definition, container, submit } = lastPayloads()
    assert.deepEqual(container.environment, [
      { name: "A", value: "1" },
      { name: "B", value: "2" },
    ])
    assert.deepEqual(definition.tags, { project: "p", team: "a" })
    assert.equal(submit.jobQueue, "gpu-queue")
    assert.equal(submit.schedulingPriorityOverride, 70)
    assert.equal(submit.shareIdentifier, "teamA")
    assert.equal(submit.propagateTags, false)
    assert.equal((submit.tags as Record<string, string>).team, "a")
  })

  it("merges jobDefinitionExtra last, container properties key by key", async () => {
    await run(
      { jobDefinitionExtra: { timeout: { attemptDurationSeconds: 600 }, containerProperties: { readonlyRootFilesystem: true } } },
      fixture.square(2),
    )
    const { definition, container } = lastPayloads()
    assert.deepEqual(definition.timeout, { attemptDurationSeconds: 600 })
    assert.equal(container.readonlyRootFilesystem, true)
    assert.deepEqual(container.command, ["--code", "Ref::code", "--input", "Ref::input", "--scratch", "Ref::scratch"])
  })

  it("fails a call whose settings AWS would refuse with BATCH_OPTIONS_INVALID, before any Batch call", async () => {
    const registered = harness.batch.calls.RegisterJobDefinition ?? 0
    const cases: [Partial<AwsBatchExecutorOptions>, unknown, string][] = [
      [{ platform: "FARGATE" }, fixture.square(1), "executionRole"],
      [{ platform: "FARGATE", executionRole: EXECUTION_ROLE }, fixture.square.options({ gpus: 1 })(1), "gpus"],
      [{ platform: "FARGATE", executionRole: EXECUTION_ROLE, vcpus: 3 }, fixture.square(1), "vcpus"],
      [{ platform: "FARGATE", executionRole: EXECUTION_ROLE, memory: 1000 }, fixture.square(1), "memory"],
      [{ ephemeralStorage: 30 }, fixture.square(1), "ephemeralStorage"],
      [{ mountPoints: [{ sourceVolume: "nope", containerPath: "/x" }] }, fixture.square(1), "mountPoints.nope"],
    ]
    for (const [options, expression, key] of cases) {
      await assert.rejects(
        run(options, expression),
        (error: TaskError) =>
          isReductioError(error.cause, "BATCH_OPTIONS_INVALID") &&
          String((error.cause as { details?: { key?: string } }).details?.key) === key,
        key,
      )
    }
    assert.equal(harness.batch.calls.RegisterJobDefinition ?? 0, registered)
  })

  it("refuses an unknown or malformed batch option where the task is declared", async () => {
    assert.throws(
      () => fixture.square.options({ batch: { queueName: "q" } as never }),
      (error: unknown) => isReductioError(error, "BATCH_OPTIONS_INVALID"),
    )
    assert.throws(
      () => fixture.square.options({ batch: { schedulingPriority: -1 } }),
      (error: unknown) => isReductioError(error, "BATCH_OPTIONS_INVALID"),
    )
    // A secret's value put where its ARN goes is refused, and not repeated in the message.
    assert.throws(
      () => fixture.square.options({ batch: { secrets: { TOKEN: "hunter2-plain" } } }),
      (error: unknown) =>
        isReductioError(error, "BATCH_OPTIONS_INVALID") &&
        error.details?.key === "batch.secrets.TOKEN" &&
        !error.message.includes("hunter2"),
    )
  })

  it("records each job's Batch job id (array children as <parent>:<index>) and its image digest in the job row", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reductio-batch-rows-"))
    const backend = new SqliteBackend(join(dir, "reductio.db"))
    await backend.open()
    try {
      const image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/agent@sha256:${"c".repeat(64)}`
      const executor = harness.executor({ scratch: harness.scratch(), image })
      const scheduler = new Scheduler({ backend, executors: { batch: executor }, workflowPath })
      assert.equal(await scheduler.run(fixture.sumOfSquares(3, 10)), 100 + 121 + 144)
      const parent = harness.batch.state.topLevelJobs().at(-1)
      const jobs = await backend.listJobs(scheduler.lastExecutionId as string)
      const squares = jobs.filter((job) => job.taskName === "batchfx.square")
      assert.deepEqual(
        squares.map((job) => job.executorJobId).sort(),
        [0, 1, 2].map((index) => `${parent?.jobId}:${index}`),
      )
      assert.ok(squares.every((job) => job.image === image))
      assert.equal(jobs.find((job) => job.taskName === "batchfx.total")?.executorJobId, undefined)
    } finally {
      await backend.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("gives a container that died before its agent wrote a log the tail of its CloudWatch stream", async () => {
    const { moto, batch } = harness
    const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials })
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/aws/batch/job" })).catch(() => undefined)
    const before = batch.state.topLevelJobs().length
    batch.faults.startDelayMs = 1_500
    batch.faults.kill = () => ({ reason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137 })
    try {
      const failed = run({ logsEndpoint: moto.endpoint }, fixture.square(5))
      failed.catch(() => undefined)
      const deadline = Date.now() + 10_000
      while (batch.state.topLevelJobs().length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      const job = batch.state.topLevelJobs().at(-1)
      const stream = `${job?.definition.name}/default/${job?.jobId}`
      await logs.send(new CreateLogStreamCommand({ logGroupName: "/aws/batch/job", logStreamName: stream }))
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: "/aws/batch/job",
          logStreamName: stream,
          logEvents: [{ timestamp: Date.now(), message: "fatal: cannot allocate 64 GiB" }],
        }),
      )
      await assert.rejects(failed, (error: TaskError) => {
        const details = (error.cause as { details?: { logTail?: string } } | undefined)?.details
        return isReductioError(error.cause, "INFRASTRUCTURE_FAILURE") && String(details?.logTail).includes("cannot allocate 64 GiB")
      })
    } finally {
      batch.faults.startDelayMs = 0
      batch.faults.kill = undefined
      logs.destroy()
    }
  })
})
