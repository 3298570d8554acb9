import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { type TaskError, isReductioError } from "../../../runtime/errors.js"
import type { AwsBatchExecutor } from "../../../runtime/executor/aws-batch-executor.js"
import { File } from "../../../runtime/file.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { script, stdout } from "../../../runtime/script.js"
import { storageFor } from "../../../runtime/storage/storage-registry.js"
import * as fixture from "../../fixtures/batch/workflow.js"
import { createHash, randomBytes } from "node:crypto"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { parseS3Uri } from "../../../runtime/storage/storage-registry.js"
import { createSecret, putParameter } from "../../support/moto-secrets.js"
import { s3Options } from "../../support/moto.js"
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr"
import { type BatchHarness, startBatchHarness } from "../../support/batch-harness.js"
import { runCli } from "../../support/cli.js"
import { tempProject } from "../../support/project.js"
import { inProcessRunner } from "../../support/batch-runner.js"

const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.v2+json",
  config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 7023, digest: `sha256:${"a".repeat(64)}` },
  layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: 32654, digest: `sha256:${"b".repeat(64)}` }],
})
const workflowPath = new URL("../../fixtures/batch/workflow.ts", import.meta.url).pathname
const started = await startBatchHarness()
const skip = "batch" in started ? false : started.skip
const harness = started as BatchHarness
after(() => started.stop())

function schedulerWith(executor: AwsBatchExecutor): Scheduler {
  return new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath })
}

/** Children in the endpoint's process, one S3 PUT each: the real agent runs where a test needs the container. */
function fastRunner() {
  return inProcessRunner({ skipLog: true, checkExisting: false })
}

/** The bytes of every object under an s3:// prefix. */
async function scratchObjects(prefix: string): Promise<Buffer[]> {
  const { bucket, key } = parseS3Uri(prefix)
  const client = new S3Client(s3Options(harness.moto))
  try {
    const found: Buffer[] = []
    let token: string | undefined
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }))
      for (const object of page.Contents ?? []) {
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }))
        found.push(Buffer.from(await (body.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()))
      }
      token = page.NextContinuationToken
    } while (token !== undefined)
    return found
  } finally {
    client.destroy()
  }
}

function submits(): number {
  return harness.batch.calls.SubmitJob ?? 0
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("AwsBatchExecutor (test Batch endpoint + moto S3)", { skip }, () => {
  let executor: AwsBatchExecutor
  let scheduler: Scheduler

  before(() => {
    executor = harness.executor({ scratch: harness.scratch("shared") })
    scheduler = schedulerWith(executor)
    harness.batch.useRunner(fastRunner())
  })

  it("turns a fan-out of 200 Batch calls into one array job, summed by a local task", async () => {
    const submitted = submits()
    const n = 200
    const value = await scheduler.run(fixture.sumOfSquares(n, 0))
    assert.equal(value, ((n - 1) * n * (2 * n - 1)) / 6)
    assert.equal(submits() - submitted, 1)
    const parent = harness.batch.state.topLevelJobs().at(-1)
    assert.equal(parent?.size, n)
    assert.equal(harness.batch.calls.RegisterJobDefinition, 1)
  })

  it("runs array children in the real agent, each picking its call by AWS_BATCH_JOB_ARRAY_INDEX", async () => {
    harness.batch.useRunner(undefined)
    try {
      const submitted = submits()
      assert.equal(
        await scheduler.run(fixture.sumOfSquares(6, 500)),
        [500, 501, 502, 503, 504, 505].reduce((a, x) => a + x * x, 0),
      )
      assert.equal(submits() - submitted, 1)
    } finally {
      harness.batch.useRunner(fastRunner())
    }
  })

  it("reuses the registered job definition and sends a lone call as a single job", async () => {
    const registered = harness.batch.calls.RegisterJobDefinition
    assert.equal(await scheduler.run(fixture.square(12345)), 12345 ** 2)
    assert.equal(harness.batch.calls.RegisterJobDefinition, registered)
    const job = harness.batch.state.topLevelJobs().at(-1)
    assert.equal(job?.size, undefined)
    // The job's body ran from the container's start to its stop, as Batch reports them.
    const [latest] = await scheduler.backend.listExecutions({ limit: 1 })
    const [record] = (await scheduler.backend.findJobs?.({ executionId: latest?.id ?? "", taskName: fixture.square.taskName })) ?? []
    assert.ok(job?.startedAt !== undefined && job.stoppedAt !== undefined)
    assert.deepEqual([record?.startedAt, record?.bodyEndedAt], [job.startedAt, job.stoppedAt])
    // Where it ran: the configured executor and the Batch job id, for the UI's job page.
    assert.deepEqual([record?.executor, record?.executorJobId], ["batch", job.jobId])
    const storage = await storageFor(harness.scratch())
    const manifests: string[] = []
    for await (const entry of storage.list(`${harness.scratch("shared")}/jobs/`))
      if (entry.uri.endsWith("/batch-job")) manifests.push(entry.uri)
    assert.equal(manifests.length, 1)
  })

  it("reuses a definition another executor registered, and pins an ECR tag to its digest", async () => {
    const registered = harness.batch.calls.RegisterJobDefinition ?? 0
    const again = harness.executor({ scratch: harness.scratch("shared") })
    assert.equal(await schedulerWith(again).run(fixture.square(777)), 777 ** 2)
    assert.equal(harness.batch.calls.RegisterJobDefinition, registered, "found by DescribeJobDefinitions")

    const { moto } = harness
    const ecr = new ECRClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials })
    await ecr.send(new CreateRepositoryCommand({ repositoryName: "reductio-agent" }))
    const put = await ecr.send(new PutImageCommand({ repositoryName: "reductio-agent", imageManifest: MANIFEST, imageTag: "0.1.0" }))
    ecr.destroy()
    const digest = put.image?.imageId?.imageDigest as string
    const registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    const pinned = harness.executor({
      scratch: harness.scratch("shared"),
      image: `${registry}/reductio-agent:0.1.0`,
      ecrEndpoint: moto.endpoint,
    })
    assert.equal(await schedulerWith(pinned).run(fixture.square(778)), 778 ** 2)
    assert.equal(harness.batch.calls.RegisterJobDefinition, registered + 1)
    const definition = harness.batch.state.definitions.at(-1)
    assert.equal((definition?.body.containerProperties as { image?: string } | undefined)?.image, `${registry}/reductio-agent@${digest}`)
    assert.match(definition?.name ?? "", /^reductio-[0-9a-f]{16}$/)
    assert.deepEqual((definition?.body.containerProperties as { linuxParameters?: unknown } | undefined)?.linuxParameters, {
      initProcessEnabled: true,
    })
  })

  it("brings a task's error back from the agent with its remote stack and log", async () => {
    harness.batch.useRunner(undefined)
    try {
      await assert.rejects(scheduler.run(fixture.fail("broken on purpose")), (error: TaskError) => {
        assert.ok(isReductioError(error, "TASK_FAILED"))
        assert.equal(error.record.message, "broken on purpose")
        assert.match(error.record.stack ?? "", /workflow\.ts/)
        assert.match(String(error.record.details?.logTail), /broken on purpose/)
        return true
      })
    } finally {
      harness.batch.useRunner(fastRunner())
    }
  })

  it("runs script() on Batch with staged S3 files", async () => {
    harness.batch.useRunner(undefined)
    try {
      const data = harness.scratch("script-data")
      const words = new File(`${data}/words.txt`)
      await words.write("pear\napple\npear\n")
      const result = await scheduler.run(
        script("sort -u words.txt > sorted.txt && wc -l < sorted.txt", {
          inputs: [words.stage("words.txt")],
          outputs: { sorted: new File(`${data}/sorted.txt`).stage("sorted.txt"), lines: stdout },
          executor: "batch",
        }),
      )
      assert.equal(result.lines.trim(), "2")
      assert.equal(await result.sorted.read(), "apple\npear\n")
    } finally {
      harness.batch.useRunner(fastRunner())
    }
  })

  it("gives a script its secretEnv from Secrets Manager and SSM, and no value reaches the requests, scratch or the database", async () => {
    const token = `tok-${randomBytes(12).toString("hex")}`
    const password = `pw-${randomBytes(12).toString("hex")}`
    assert.equal(process.env.BATCH_TEST_TOKEN, undefined, "the host must not hold the secret: the container gets it from Batch")
    const secrets = {
      BATCH_TEST_TOKEN: await createSecret(harness.moto, `batch-test-token-${randomBytes(4).toString("hex")}`, token),
      BATCH_TEST_PASSWORD: await putParameter(harness.moto, `/reductio-test/${randomBytes(4).toString("hex")}/password`, password),
    }
    const scratch = harness.scratch("secrets")
    const dir = await mkdtemp(join(tmpdir(), "reductio-batch-secrets-"))
    const backend = new SqliteBackend(join(dir, "reductio.db"))
    await backend.open()
    harness.batch.useRunner(undefined)
    try {
      const executor = harness.executor({ scratch, secrets, executionRole: "arn:aws:iam::123456789012:role/BatchExecution" })
      const command = 'printf %s "$BATCH_TEST_TOKEN:$BATCH_TEST_PASSWORD" | sha256sum | cut -c1-64; echo "token $BATCH_TEST_TOKEN" >&2'
      const sent = new Scheduler({ backend, executors: { batch: executor }, workflowPath }).run(
        script(command, { secretEnv: ["BATCH_TEST_TOKEN", "BATCH_TEST_PASSWORD"], executor: "batch" }),
      )
      assert.equal((await sent).trim(), createHash("sha256").update(`${token}:${password}`).digest("hex"))
      const definition = harness.batch.state.definitions.at(-1)?.body.containerProperties as Record<string, unknown>
      assert.deepEqual(definition.secrets, [
        { name: "BATCH_TEST_PASSWORD", valueFrom: secrets.BATCH_TEST_PASSWORD },
        { name: "BATCH_TEST_TOKEN", valueFrom: secrets.BATCH_TEST_TOKEN },
      ])
      assert.equal(definition.executionRoleArn, "arn:aws:iam::123456789012:role/BatchExecution")
    } finally {
      harness.batch.useRunner(fastRunner())
      await backend.close()
    }
    const requests = JSON.stringify([harness.batch.state.definitions, [...harness.batch.state.jobs.values()].map((job) => job.request)])
    const stored = [
      requests,
      ...(await scratchObjects(scratch)),
      ...(await Promise.all((await readdir(dir)).map((name) => readFile(join(dir, name))))),
    ]
    assert.ok(
      stored.some((bytes) => bytes.includes("token ***")),
      "the job's log has the masked line",
    )
    for (const bytes of stored) for (const secret of [token, password]) assert.equal(bytes.includes(secret), false)
    await rm(dir, { recursive: true, force: true })
  })

  it("reports a killed child as an infrastructure failure with Batch's reason, and a retry succeeds", async () => {
    const reason = "Host EC2 (instance i-0123456789abcdef0) terminated."
    let kills = 0
    harness.batch.faults.kill = (spec) => (spec.index === 1 && kills++ === 0 ? { reason } : undefined)
    try {
      await assert.rejects(scheduler.run(fixture.sumOfSquares(3, 1000)), (error: TaskError) => {
        assert.ok(isReductioError(error, "INFRASTRUCTURE_FAILURE"))
        assert.equal(error.record.details?.statusReason, reason)
        return true
      })
      const submitted = submits()
      assert.equal(await scheduler.run(fixture.sumOfSquares(3, 1000)), 1000 ** 2 + 1001 ** 2 + 1002 ** 2)
      assert.ok(submits() > submitted, "the rerun does not follow the failed array")
    } finally {
      harness.batch.faults.kill = undefined
    }
  })

  it("retries a killed child per the task's retries, resubmitting only that call", async () => {
    let kills = 0
    harness.batch.faults.kill = (spec) =>
      spec.index === 2 && kills++ === 0 ? { reason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137 } : undefined
    try {
      const submitted = submits()
      const retried = fixture.square.options({ retries: 1 })
      const values = await scheduler.run([1, 2, 3, 4].map((x) => retried(x + 3000)))
      assert.deepEqual(
        values,
        [3001, 3002, 3003, 3004].map((x) => x * x),
      )
      assert.equal(kills, 1)
      assert.equal(submits() - submitted, 2, "one array, then one single job for the retry")
    } finally {
      harness.batch.faults.kill = undefined
    }
  })

  it("survives throttling (429) and server errors (500) from Batch", async () => {
    harness.batch.faults.throttle = 4
    harness.batch.faults.serverErrors = 2
    const value = await scheduler.run(fixture.sumOfSquares(5, 4000))
    assert.equal(
      value,
      [4000, 4001, 4002, 4003, 4004].reduce((a, x) => a + x * x, 0),
    )
    assert.equal(harness.batch.faults.throttle, 0)
  })

  it("terminates the jobs it submitted when the run is aborted", async () => {
    const controller = new AbortController()
    const submitted = submits()
    const running = scheduler.run(
      [1, 2, 3].map((i) => fixture.nap(30_000, `abort${i}`)),
      { signal: controller.signal },
    )
    await until(
      () =>
        submits() > submitted &&
        harness.batch.state
          .topLevelJobs()
          .at(-1)
          ?.children.some((c) => c.status === "RUNNING") === true,
      "a running child",
    )
    controller.abort()
    await assert.rejects(running, (error: Error) => isReductioError(error, "CANCELLED"))
    await until(() => (harness.batch.calls.TerminateJob ?? 0) > 0, "TerminateJob")
    const parent = harness.batch.state.topLevelJobs().at(-1)
    await until(() => parent?.status === "FAILED", "the parent to fail")
    assert.equal(parent?.children[0]?.statusReason, "cancelled by reductio")
  })

  it("re-attaches to the jobs an earlier host left running instead of submitting again", async () => {
    const scratch = harness.scratch("reattach")
    const first = harness.executor({ scratch })
    const calls = [1, 2].map((i) => fixture.nap(1_500, `reattach${i}`))
    const crashed = schedulerWith(first).run(calls)
    const submitted = submits()
    await until(() => submits() > submitted, "the first submission")
    await new Promise((resolve) => setTimeout(resolve, 200))
    await first.stop() // the host "crashes": nothing is terminated
    await assert.rejects(crashed, (error: Error) => isReductioError(error, "CANCELLED"))
    const second = harness.executor({ scratch })
    const values = await schedulerWith(second).run(calls)
    assert.deepEqual(values, ["reattach1:1500", "reattach2:1500"])
    assert.equal(submits(), submitted + 1, "no second SubmitJob")
  })

  it("leaves a job whose SubmitJob was in flight at stop() running and named, so the next run re-attaches", async () => {
    const scratch = harness.scratch("reattach-in-flight")
    const first = harness.executor({ scratch })
    const calls = [1, 2].map((i) => fixture.nap(1_000, `inflight${i}`))
    const submitted = submits()
    const terminated = harness.batch.calls.TerminateJob ?? 0
    harness.batch.faults.responseDelayMs.SubmitJob = 600
    try {
      const crashed = assert.rejects(schedulerWith(first).run(calls), (error: Error) => isReductioError(error, "CANCELLED"))
      await until(() => submits() > submitted, "the SubmitJob request")
      await first.stop() // while Batch has the job and the host does not know its id yet
      await crashed
    } finally {
      harness.batch.faults.responseDelayMs.SubmitJob = 0
    }
    assert.equal(harness.batch.calls.TerminateJob ?? 0, terminated, "stop() terminates nothing")
    const values = await schedulerWith(harness.executor({ scratch })).run(calls)
    assert.deepEqual(values, ["inflight1:1000", "inflight2:1000"])
    assert.equal(submits(), submitted + 1, "no second SubmitJob")
  })
})

describe("reductio run with an aws_batch executor in reductio.config.ts", { skip }, () => {
  it("runs examples/batch on the test endpoint: the fan-out becomes one array job", async () => {
    harness.batch.useRunner(undefined)
    const project = await tempProject("reductio-batch-cli-")
    try {
      const example = new URL("../../../examples/batch/workflow.ts", import.meta.url)
      await project.write("workflow.ts", await readFile(example, "utf8"))
      const config = {
        executors: {
          batch: {
            type: "aws_batch",
            image: "reductio-agent:test",
            queue: "test-queue",
            scratch: harness.scratch("cli"),
            region: "us-east-1",
          },
        },
      }
      await project.write("reductio.config.ts", `export default ${JSON.stringify(config, null, 2)}\n`)
      const submitted = submits()
      const result = await runCli(["run", "workflow.ts", "batchpi.estimate", "--chunks", "3", "--samples", "2000"], {
        cwd: project.dir,
        env: { ...harness.moto.env, AWS_ENDPOINT_URL_BATCH: harness.batch.endpoint },
      })
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /3\.\d+/)
      assert.equal(submits() - submitted, 1)
      assert.equal(harness.batch.state.topLevelJobs().at(-1)?.size, 3)
    } finally {
      harness.batch.useRunner(fastRunner())
      await project.remove()
    }
  })
})
