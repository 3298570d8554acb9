// How many S3 requests Files cost inside executions: an object's hash is learnt once per
// execution (from the write that made it, a listing or one HEAD) and shared by every check,
// staging and lineage record; across executions, and for files changed behind reductio's back,
// storage is asked again.
import assert from "node:assert/strict"
import { after, before, beforeEach, describe, it } from "node:test"
import { MemoryBackend } from "../../runtime/backend/memory-backend.js"
import { Dir, File } from "../../runtime/file.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { script } from "../../runtime/script.js"
import { configureS3 } from "../../runtime/storage/storage-registry.js"
import { task } from "../../runtime/task.js"
import { createBucket, s3Options, startMoto } from "../support/moto.js"
import { type S3Counter, startS3Counter } from "../support/s3-counter.js"

const moto = await startMoto()
let counter: S3Counter
after(async () => {
  await counter?.stop()
  await moto.stop()
})

const produce = task("requests.produce", async (uri: string, text: string) => {
  const file = new File(uri)
  await file.write(text)
  return file
})
const length = task("requests.length", async (file: File) => (await file.read()).length)
const twice = task("requests.twice", async (file: File) => (await file.read()).repeat(2).length)
const staged = task("requests.staged", (file: File) => script("wc -c < in.txt", { inputs: [file.stage("in.txt")] }))
const pipeline = task("requests.pipeline", (uri: string, text: string) => {
  const file = produce(uri, text)
  return [length(file), twice(file), staged(file)]
})
const writeDir = task("requests.writeDir", async (uri: string, count: number) => {
  for (let i = 0; i < count; i++) await new File(`${uri}/part-${i}.txt`).write(`part ${i}`)
  const dir = new Dir(uri)
  await dir.updateHash()
  return dir
})
const sizes = task("requests.sizes", async (dir: Dir) => (await dir.files()).map((file) => file.path.length))
const dirPipeline = task("requests.dirPipeline", (uri: string) => {
  const dir = writeDir(uri, 8)
  return [sizes(dir), sizes(dir)]
})

describe("S3 requests per file inside executions", { skip: moto.skip }, () => {
  let bucket: string
  let backend: MemoryBackend
  before(async () => {
    if (moto.skip !== false) return
    counter = await startS3Counter(moto.endpoint)
    configureS3({ ...s3Options(moto), endpoint: counter.endpoint })
  })
  after(() => configureS3({}))
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "requests")
    backend = new MemoryBackend()
    counter.reset()
  })

  const run = async (expression: unknown) => {
    counter.reset()
    const statuses: string[] = []
    const scheduler = new Scheduler({
      backend,
      onEvent: (event) => {
        if (event.type === "job" && (event.status === "DONE" || event.status === "CACHED")) statuses.push(event.status)
      },
    })
    const value = await scheduler.run(expression)
    const heads = counter.requests.filter((r) => r.operation === "HeadObject").length
    return { value, statuses, heads, requests: counter.requests.map((r) => `${r.operation} ${r.key}`) }
  }

  it("writes, hashes, stages and reads a file with no HEAD on a first run, and one HEAD on a cached rerun", async () => {
    const uri = `s3://${bucket}/data/reads.txt`
    const first = await run(pipeline(uri, "ACGT"))
    assert.deepEqual(first.value, [4, 8, "4\n"])
    assert.equal(first.heads, 0, first.requests.join("\n"))
    assert.deepEqual(first.requests.filter((r) => r.endsWith("reads.txt")).sort(), [
      "GetObject data/reads.txt",
      "GetObject data/reads.txt",
      "GetObject data/reads.txt",
      "PutObject data/reads.txt",
    ])
    const rerun = await run(pipeline(uri, "ACGT"))
    assert.deepEqual(rerun.value, [4, 8, "4\n"])
    assert.deepEqual(rerun.requests, ["HeadObject data/reads.txt"])
  })

  it("reruns the producer of a file changed behind its back, once, and checks again in the next execution", async () => {
    const uri = `s3://${bucket}/data/changed.txt`
    await run(pipeline(uri, "AAAA"))
    await new File(uri).write("tampered")
    const second = await run(pipeline(uri, "AAAA"))
    assert.deepEqual(second.value, [4, 8, "4\n"])
    assert.equal(
      second.statuses.filter((s) => s === "DONE").length,
      1,
      "only the producer ran again; it wrote the same bytes, so its consumers are cached",
    )
    assert.ok(second.heads <= 2, second.requests.join("\n"))
    assert.equal(await new File(uri).read(), "AAAA")
  })

  it("checks a File object again in every execution it is passed to", async () => {
    const file = new File(`s3://${bucket}/data/reused.txt`)
    await file.write("one")
    const first = await run(length(file))
    assert.equal(first.value, 3)
    await new File(file.path).write("three")
    const second = await run(length(file))
    assert.equal(second.value, 5, "the same File object, changed between executions, is hashed again")
    assert.equal(second.heads, 1)
  })

  it("hashes a Dir by one listing, shared by every File under it", async () => {
    const uri = `s3://${bucket}/dirs/parts`
    const first = await run(dirPipeline(uri))
    assert.equal((first.value as number[][])[0]?.length, 8)
    assert.equal(first.heads, 0, first.requests.join("\n"))
    const rerun = await run(dirPipeline(uri))
    assert.deepEqual(rerun.requests, ["ListObjectsV2 dirs/parts/"])
  })
})
