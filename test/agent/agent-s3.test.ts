import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { bundle } from "../../bundler/bundle.js"
import { decode } from "../../runtime/codec.js"
import type { ErrorRecord } from "../../runtime/errors.js"
import { AGENT_EXIT, encodeEntries, scratch } from "../../runtime/protocol.js"
import { configureS3, storageFor } from "../../runtime/storage/storage-registry.js"
import { createBucket, type Moto, startMoto } from "../support/moto.js"
import { builtAgent, entryFor, fixtureWorkflow, hashOf, runBuiltAgent, tempDir } from "./agent-harness.js"

const moto = await startMoto()
after(() => moto.stop())

function live(): Moto {
  if (moto.skip !== false) throw new Error(moto.skip)
  return moto
}

describe("the agent against s3:// scratch (moto)", { skip: moto.skip }, () => {
  let root: string
  let code: string

  before(async () => {
    const { endpoint, region, credentials } = live()
    await builtAgent()
    const bucket = await createBucket(live(), "agent")
    configureS3({ endpoint, region, credentials, forcePathStyle: true })
    root = `s3://${bucket}/scratch`
    const built = await bundle(fixtureWorkflow, { scratch: root })
    assert.equal(built.uri, scratch.code(root, built.sha256))
    code = built.uri as string
  })

  it("reads its input and code from S3 and writes output and log there", async () => {
    const storage = await storageFor(root)
    const input = scratch.jobInput(root, hashOf("s3-greet"))
    await storage.writeBytes(input, encodeEntries(entryFor("s3-greet", "fixture.greet", ["s3"])))
    const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", root, "--workdir", await tempDir()], { ...live().env })
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    const output = decode(await storage.readBytes(scratch.output(root, hashOf("s3-greet")))) as { text: string }
    assert.equal(output.text, "hello, s3")
    assert.match(new TextDecoder().decode(await storage.readBytes(scratch.log(root, hashOf("s3-greet")))), /greeting s3/)
  })

  it("writes the error record to S3 when the task throws", async () => {
    const storage = await storageFor(root)
    const input = scratch.arrayInput(root, hashOf("s3-array").slice(0, 32))
    await storage.writeBytes(
      input,
      encodeEntries([entryFor("s3-a0", "fixture.add", [1, 2]), entryFor("s3-a1", "fixture.fail", ["s3 boom"])]),
    )
    const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", root, "--workdir", await tempDir()], {
      ...live().env,
      AWS_BATCH_JOB_ARRAY_INDEX: "1",
    })
    assert.equal(run.code, AGENT_EXIT.taskFailed)
    assert.equal((decode(await storage.readBytes(scratch.error(root, hashOf("s3-a1")))) as ErrorRecord).message, "s3 boom")
  })
})
