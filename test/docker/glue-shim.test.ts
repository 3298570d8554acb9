import assert from "node:assert/strict"
import { mkdtemp, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { bundle } from "../../bundler/bundle.js"
import { decode } from "../../runtime/codec.js"
import type { ErrorRecord } from "../../runtime/errors.js"
import { uploadAssets, type GlueAssets, builtMapperPath } from "../../runtime/executor/glue/assets.js"
import { encodeEntries, PROTOCOL_VERSION, scratch } from "../../runtime/protocol.js"
import { configureS3, storageFor } from "../../runtime/storage/storage-registry.js"
import { builtAgent } from "../agent/agent-harness.js"
import { fakeNodeRuntime, glueWorkflow, runShim } from "../runtime/executor/glue-harness.js"
import { type Moto, startMoto } from "../support/moto.js"

const moto = await startMoto()
const root = "s3://shim-scratch/reductio"

describe("the Glue shim (python3 against S3)", { skip: moto.skip }, () => {
  const server = moto as Moto
  let assets: GlueAssets
  let codeUri: string
  let env: Record<string, string>

  before(async () => {
    configureS3({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    const s3 = new S3Client({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: "shim-scratch" }))
    s3.destroy()
    const dir = await mkdtemp(join(tmpdir(), "reductio-shim-test-"))
    const [agentPath, mapperPath, nodeRuntime] = await Promise.all([builtAgent(), builtMapperPath(), fakeNodeRuntime(dir)])
    assets = await uploadAssets(root, { nodeRuntime, agentPath, mapperPath })
    codeUri = (await bundle(glueWorkflow, { scratch: root })).uri as string
    env = { ...server.env, REDUCTIO_CACHE_DIR: join(dir, "cache") }
  })
  after(async () => {
    configureS3({})
    await moto.stop()
  })

  /** The arguments Glue passes: the job's defaults and one run's. */
  async function argumentsFor(evalHash: string, task: string, args: unknown[]): Promise<Record<string, string>> {
    const input = scratch.jobInput(root, evalHash)
    await (await storageFor(input)).writeBytes(input, encodeEntries({ protocol: PROTOCOL_VERSION, evalHash, task, args, options: {} }))
    return {
      "--reductio_scratch": root,
      "--reductio_code": codeUri,
      "--reductio_input": input,
      "--reductio_eval": evalHash,
      "--reductio_agent": assets.agent.uri,
      "--reductio_agent_sha256": assets.agent.sha256,
      "--reductio_runtime": assets.runtime.uri,
      "--reductio_runtime_sha256": assets.runtime.sha256,
      "--reductio_mapper": assets.mapper.uri,
      "--reductio_mapper_sha256": assets.mapper.sha256,
    }
  }

  async function read(uri: string): Promise<Uint8Array | undefined> {
    return (await storageFor(uri)).readBytes(uri).catch(() => undefined)
  }

  async function exitCodeOf(evalHash: string): Promise<unknown> {
    const bytes = await read(`${root}/jobs/${evalHash}/glue-status.json`)
    return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString()) as { exitCode: unknown }).exitCode
  }

  it("fetches Node, the agent and the bundle, runs the task and exits 0", async () => {
    const run = await runShim(await argumentsFor("e1".padEnd(64, "0"), "glue.square", [6]), env)
    assert.equal(run.code, 0, run.output)
    assert.equal(decode((await read(scratch.output(root, "e1".padEnd(64, "0")))) as Uint8Array), 36)
    assert.match(run.output, /squaring 6/, "the agent's output streams to the Glue log")
    assert.equal(await exitCodeOf("e1".padEnd(64, "0")), 0)
    assert.match(Buffer.from((await read(scratch.log(root, "e1".padEnd(64, "0")))) as Uint8Array).toString(), /squaring 6/)
  })

  it("exits 1 with the error record written when the task throws", async () => {
    const evalHash = "e2".padEnd(64, "0")
    const run = await runShim(await argumentsFor(evalHash, "glue.explode", ["nope"]), env)
    assert.equal(run.code, 1, run.output)
    const record = decode((await read(scratch.error(root, evalHash))) as Uint8Array) as ErrorRecord
    assert.equal(record.name, "RangeError")
    assert.equal(await exitCodeOf(evalHash), 1)
  })

  it("exits 2 when the Node runtime does not match its sha256", async () => {
    const evalHash = "e3".padEnd(64, "0")
    const args = await argumentsFor(evalHash, "glue.square", [2])
    const run = await runShim(
      { ...args, "--reductio_runtime_sha256": "0".repeat(64) },
      { ...env, REDUCTIO_CACHE_DIR: `${env["REDUCTIO_CACHE_DIR"]}-fresh` },
    )
    assert.equal(run.code, 2, run.output)
    assert.match(run.output, /sha256/)
    assert.equal(await exitCodeOf(evalHash), 2)
  })

  it("exits 2 when its arguments are incomplete", async () => {
    const run = await runShim({ "--reductio_scratch": root }, env)
    assert.equal(run.code, 2)
    assert.match(run.output, /missing job arguments/)
  })

  it("is plain Python 3 with no imports beyond the standard library and boto3", async () => {
    const source = await readFile(new URL("../../docker/glue/reductio_glue_shim.py", import.meta.url), "utf8")
    const imports = [...source.matchAll(/^\s*(?:import|from)\s+([\w.]+)/gm)].map((match) => match[1]?.split(".")[0])
    const allowed = new Set([
      "csv",
      "gzip",
      "hashlib",
      "io",
      "json",
      "os",
      "shutil",
      "subprocess",
      "sys",
      "tarfile",
      "tempfile",
      "threading",
    ])
    const optional = new Set(["boto3", "botocore", "awsglue", "pyspark"])
    assert.deepEqual(
      imports.filter((name) => !allowed.has(name as string) && !optional.has(name as string)),
      [],
    )
  })
})
