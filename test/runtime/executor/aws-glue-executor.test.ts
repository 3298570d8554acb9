import assert from "node:assert/strict"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, beforeEach, describe, it } from "node:test"
import { GetJobsCommand, GlueClient } from "@aws-sdk/client-glue"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { builtAgent } from "../../agent/agent-harness.js"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { ShardedDataset } from "../../../runtime/dataset.js"
import { isReductioError, isTaskError } from "../../../runtime/errors.js"
import { AwsGlueExecutor, type AwsGlueExecutorOptions } from "../../../runtime/executor/aws-glue-executor.js"
import { builtMapperPath } from "../../../runtime/executor/glue/assets.js"
import { File } from "../../../runtime/file.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { configureS3, storageFor } from "../../../runtime/storage/storage-registry.js"
import { describe as describeValue, explode, shout, square } from "../../fixtures/glue/workflow.js"
import { type Moto, startMoto } from "../../support/moto.js"
import {
  type FailingGlueProxy,
  type ShimRun,
  failingGlueProxy,
  fakeNodeRuntime,
  glueWorkflow,
  shimRunner,
  sparkPath,
} from "./glue-harness.js"

const moto = await startMoto()
const BUCKET = "glue-scratch"
const scratch = `s3://${BUCKET}/reductio`

describe("AwsGlueExecutor", { skip: moto.skip }, () => {
  const server = moto as Moto
  let proxy: FailingGlueProxy
  let shimEnv: Record<string, string>
  let base: Omit<AwsGlueExecutorOptions, "runner">
  const runs: ShimRun[] = []

  before(async () => {
    configureS3({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    proxy = await failingGlueProxy(server.endpoint)
    const dir = await mkdtemp(join(tmpdir(), "reductio-glue-test-"))
    const [agentPath, mapperPath, nodeRuntime, pythonPath] = await Promise.all([
      builtAgent(),
      builtMapperPath(),
      fakeNodeRuntime(dir),
      sparkPath(),
    ])
    shimEnv = { ...server.env, REDUCTIO_CACHE_DIR: join(dir, "cache"), PYTHONPATH: pythonPath }
    base = {
      scratch,
      role: "arn:aws:iam::123456789012:role/ReductioGlue",
      nodeRuntime,
      agentPath,
      mapperPath,
      endpoint: proxy.endpoint,
      region: server.region,
      credentials: server.credentials,
      poll: { minMs: 10, maxMs: 50 },
      retry: { baseMs: 20, maxMs: 100 },
    }
  })
  beforeEach(async () => {
    await server.reset()
    const s3 = new S3Client({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
    s3.destroy()
  })
  after(async () => {
    await proxy?.close()
    configureS3({})
    await moto.stop()
  })

  function scheduler(options: Partial<AwsGlueExecutorOptions> = {}, backend = new MemoryBackend()) {
    const glue = new AwsGlueExecutor({ ...base, runner: shimRunner(shimEnv, proxy, runs), ...options })
    const logs: string[] = []
    const instance = new Scheduler({
      backend,
      workflowPath: glueWorkflow,
      executors: { glue },
      defaultExecutor: "glue",
      onEvent: (event) => {
        if (event.type === "log") logs.push(event.message)
      },
    })
    return { scheduler: instance, glue, logs, backend }
  }

  it("runs a task through the shim and the agent and returns its value", async () => {
    const { scheduler: s, glue, logs } = scheduler()
    try {
      assert.deepEqual(await s.run([square(3), square(4)]), [9, 16])
    } finally {
      await glue.stop()
    }
    assert.ok(logs.some((line) => /created Glue job reductio-[0-9a-f]{16}/.test(line)))
    const log = await (await storageFor(scratch)).list(`${scratch}/jobs/`)
    const uris: string[] = []
    for await (const entry of log) uris.push(entry.uri)
    assert.ok(uris.some((uri) => uri.endsWith("/log")))
    assert.ok(uris.some((uri) => uri.endsWith("/glue-status.json")))
  })

  it("creates one Glue job per content hash and reuses it", async () => {
    const first = scheduler()
    try {
      assert.equal(await first.scheduler.run(square(5)), 25)
    } finally {
      await first.glue.stop()
    }
    assert.ok(
      first.logs.some((line) => /created Glue job/.test(line)),
      first.logs.join("\n"),
    )
    const second = new AwsGlueExecutor(base)
    const logs: string[] = []
    await second.start({ executionId: "x", workflowPath: glueWorkflow, log: (line) => logs.push(line) })
    await second.stop()
    assert.ok(
      logs.some((line) => /reusing Glue job/.test(line)),
      logs.join("\n"),
    )
    const client = new GlueClient({ endpoint: server.endpoint, region: server.region, credentials: server.credentials })
    const jobs = await client.send(new GetJobsCommand({}))
    client.destroy()
    assert.equal(jobs.Jobs?.length, 1)
    assert.match(jobs.Jobs?.[0]?.Name ?? "", /^reductio-[0-9a-f]{16}$/)
    assert.equal(jobs.Jobs?.[0]?.Command?.Name, "glueetl")
  })

  it("brings back a task's error with its remote stack and the log tail", async () => {
    const { scheduler: s, glue, backend } = scheduler()
    const failure = await s.run(explode("no such luck")).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    )
    await glue.stop()
    assert.ok(isTaskError(failure))
    assert.equal(failure.code, "TASK_FAILED")
    assert.equal(failure.record.name, "RangeError")
    assert.match(failure.record.stack ?? "", /workflow/)
    assert.match(String(failure.record.details?.["logTail"]), /no such luck/)
    assert.equal((await backend.loadEvaluations([failure.evalHash])).size, 0)
  })

  it("reports a FAILED Glue run as an infrastructure failure with Glue's ErrorMessage", async () => {
    const { scheduler: s, glue } = scheduler({
      // The run dies before the shim writes anything (as when Glue cannot start the script).
      runner: async (run) => proxy.fail(run.runId, "Command failed with exit code 137"),
    })
    const failure = await s.run(square(7)).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    )
    await glue.stop()
    assert.ok(isTaskError(failure))
    assert.equal(failure.code, "INFRASTRUCTURE_FAILURE")
    assert.equal(failure.record.details?.["glueState"], "FAILED")
    assert.equal(failure.record.details?.["errorMessage"], "Command failed with exit code 137")
  })

  it("refuses a local File argument, naming its path in the arguments", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reductio-glue-local-"))
    await writeFile(join(dir, "reads.txt"), "ACGT\n")
    const { scheduler: s, glue } = scheduler()
    const failure = await s.run(describeValue({ reads: new File(join(dir, "reads.txt")) })).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    )
    await glue.stop()
    assert.ok(isTaskError(failure))
    assert.equal(failure.record.code, "INVALID_ARGUMENT")
    assert.equal(failure.record.details?.["path"], "args[0].reads")
  })

  it("queues a run while Glue reports ConcurrentRunsExceeded, then runs it", async () => {
    // Runs stay RUNNING until polled: a second host's StartJobRun meets the limit of 1.
    const transition = { model_name: "glue::job_run", transition: { progression: "manual", times: 1 } }
    await fetch(`${server.endpoint}/moto-api/state-manager/set-transition`, { method: "POST", body: JSON.stringify(transition) })
    try {
      const hosts = [scheduler({ maxConcurrentRuns: 1 }), scheduler({ maxConcurrentRuns: 1 })]
      const results = await Promise.all(hosts.map((host, i) => host.scheduler.run(square(20 + i))))
      await Promise.all(hosts.map((host) => host.glue.stop()))
      assert.deepEqual(results, [400, 441])
      assert.ok(
        hosts.some((host) => host.logs.some((line) => /concurrent run limit/.test(line))),
        "one host waited for a slot",
      )
    } finally {
      const immediate = { model_name: "glue::job_run", transition: { progression: "immediate" } }
      await fetch(`${server.endpoint}/moto-api/state-manager/set-transition`, { method: "POST", body: JSON.stringify(immediate) })
    }
  })

  it("maps a partition task over a sharded S3 dataset, one Node process per partition", async () => {
    const storage = await storageFor(scratch)
    const input = `s3://${BUCKET}/people`
    await storage.writeBytes(`${input}/a.jsonl`, '{"name":"ada"}\n{"name":"alan"}\n')
    await storage.writeBytes(`${input}/b.jsonl`, '{"name":"grace"}\n')
    await storage.writeBytes(`${input}/_SUCCESS`, "")
    const { scheduler: s, glue } = scheduler()
    try {
      const out = await s.run(shout(new ShardedDataset(input), `s3://${BUCKET}/shouted`))
      const rows: unknown[] = []
      for await (const row of out.records()) rows.push(row)
      assert.deepEqual(rows, [
        { name: "ADA", partition: 0, n: 0 },
        { name: "ALAN", partition: 0, n: 1 },
        { name: "GRACE", partition: 1, n: 0 },
      ])
      assert.deepEqual(
        (await out.shards()).map((shard) => shard.uri),
        [`s3://${BUCKET}/shouted/part-00000.jsonl`, `s3://${BUCKET}/shouted/part-00001.jsonl`],
      )
    } finally {
      await glue.stop()
    }
  })

  it("fails a partition task with the mapper's error when a partition throws", async () => {
    const storage = await storageFor(scratch)
    const input = `s3://${BUCKET}/bad`
    await storage.writeBytes(`${input}/a.csv`, "name,age\nboom,3\n")
    const { scheduler: s, glue } = scheduler()
    const failure = await s.run(shout(new ShardedDataset(input), `s3://${BUCKET}/bad-out`)).then(
      () => assert.fail("expected a failure"),
      (error: unknown) => error,
    )
    await glue.stop()
    assert.ok(isTaskError(failure))
    assert.equal(failure.code, "TASK_FAILED")
    assert.match(failure.record.message, /boom in partition 0/)
  })

  it("refuses a scratch that is not on S3, a missing role and a missing Node runtime", async () => {
    const invalid = (error: unknown) => isReductioError(error, "CONFIG_INVALID")
    assert.throws(() => new AwsGlueExecutor({ ...base, scratch: "/tmp/scratch" }), invalid)
    assert.throws(() => new AwsGlueExecutor({ ...base, role: "" }), invalid)
    const glue = new AwsGlueExecutor({ ...base, nodeRuntime: join(tmpdir(), "no-such-node.tar.xz") })
    await assert.rejects(glue.start({ executionId: "x", workflowPath: glueWorkflow, log: () => undefined }), invalid)
    await glue.stop()
  })
})
