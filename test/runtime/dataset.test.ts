import assert from "node:assert/strict"
import { mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { after, before, describe, it } from "node:test"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { decode, encode, prepareForEncoding } from "../../runtime/codec.js"
import { type Row, ShardedDataset, formatOf, partitionTask } from "../../runtime/dataset.js"
import { isReductioError } from "../../runtime/errors.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { configureS3, storageFor } from "../../runtime/storage/storage-registry.js"
import { codecOf } from "../support/codec.js"
import { type Moto, startMoto } from "../support/moto.js"

async function collect(rows: AsyncIterable<Row>): Promise<Row[]> {
  const out: Row[] = []
  for await (const row of rows) out.push(row)
  return out
}

async function datasetDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reductio-dataset-"))
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true })
    await writeFile(join(dir, name), content)
  }
  return dir
}

const upper = partitionTask("test.dataset.upper", async function* (rows, partition) {
  for await (const row of rows) yield { name: String(row.name).toUpperCase(), partition: partition.index }
})

describe("ShardedDataset", () => {
  it("lists shards in order, skipping Spark's markers and checksums", async () => {
    const dir = await datasetDir({
      "part-1.jsonl": '{"a":2}\n',
      "part-0.jsonl": '{"a":1}\n',
      _SUCCESS: "",
      ".part-0.jsonl.crc": "x",
      "notes.txt": "not a shard",
    })
    const dataset = new ShardedDataset(dir)
    const shards = await dataset.shards()
    assert.deepEqual(
      shards.map((shard) => shard.uri),
      [join(dir, "part-0.jsonl"), join(dir, "part-1.jsonl")],
    )
    assert.equal(dataset.format, "jsonl")
    assert.deepEqual(await collect(dataset.records()), [{ a: 1 }, { a: 2 }])
  })

  it("reads csv rows keyed by the header, with quoted separators, quotes and newlines", async () => {
    const dir = await datasetDir({ "a.csv": 'name,note\r\nada,"likes, commas"\n"al ""the"" an","two\nlines"\n\n' })
    const rows = await collect(new ShardedDataset(dir).records())
    assert.deepEqual(rows, [
      { name: "ada", note: "likes, commas" },
      { name: 'al "the" an', note: "two\nlines" },
    ])
  })

  it("reads gzipped json lines shards", async () => {
    const dir = await datasetDir({ "a.jsonl.gz": gzipSync('{"x":1}\n{"x":2}\n') })
    assert.deepEqual(await collect(new ShardedDataset(dir).records()), [{ x: 1 }, { x: 2 }])
  })

  it("refuses to guess between mixed formats, and picks the one given", async () => {
    const dir = await datasetDir({ "a.csv": "x\n1\n", "b.jsonl": '{"x":2}\n' })
    await assert.rejects(new ShardedDataset(dir).shards(), (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"))
    assert.deepEqual(await collect(new ShardedDataset(dir, { format: "csv" }).records()), [{ x: "1" }])
  })

  it("lists and hashes parquet shards but says it cannot read them", async () => {
    const dir = await datasetDir({ "a.parquet": "PAR1…PAR1" })
    const dataset = new ShardedDataset(dir)
    assert.equal((await dataset.shards()).length, 1)
    assert.equal(dataset.format, "parquet")
    assert.match(await dataset.updateHash(), /^[0-9a-f]{64}$/)
    await assert.rejects(collect(dataset.records()), (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"))
  })

  it("round-trips through the codec with its listing, and is valid until a shard changes", async () => {
    const dir = await datasetDir({ "a.jsonl": '{"a":1}\n' })
    const dataset = new ShardedDataset(dir)
    await prepareForEncoding([dataset])
    const copy = decode(encode(dataset)) as ShardedDataset
    assert.equal(copy.hash, dataset.hash)
    assert.deepEqual(await copy.shards(), await dataset.shards())
    assert.equal(await codecOf(copy).validate?.(copy), true)
    await writeFile(join(dir, "a.jsonl"), '{"a":1}\n{"a":2}\n')
    await utimes(join(dir, "a.jsonl"), new Date(), new Date(Date.now() + 5_000))
    assert.equal(await codecOf(copy).validate?.(copy), false)
    await writeFile(join(dir, "b.jsonl"), "")
    assert.notEqual(await new ShardedDataset(dir).updateHash(), dataset.hash)
  })

  it("cannot be encoded before it is listed", () => {
    assert.throws(
      () => encode(new ShardedDataset("/nowhere")),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE"),
    )
  })

  it("knows shard formats by extension", () => {
    assert.equal(formatOf("s3://b/p/part-00000.csv.gz"), "csv")
    assert.equal(formatOf("s3://b/p/x.ndjson"), "jsonl")
    assert.equal(formatOf("s3://b/p/x.snappy.parquet"), "parquet")
    assert.equal(formatOf("s3://b/p/_SUCCESS"), undefined)
  })
})

describe("partitionTask", () => {
  it("maps each shard to an output shard when run in-process, and caches the call", async () => {
    const input = await datasetDir({ "a.csv": "name\nada\nalan\n", "b.csv": "name\ngrace\n" })
    const output = join(await mkdtemp(join(tmpdir(), "reductio-dataset-out-")), "upper")
    await mkdir(output)
    await writeFile(join(output, "part-00007.jsonl"), '{"stale":true}\n')
    const scheduler = new Scheduler()
    const result = await scheduler.run(upper(new ShardedDataset(input), output))
    assert.deepEqual(await collect(result.records()), [
      { name: "ADA", partition: 0 },
      { name: "ALAN", partition: 0 },
      { name: "GRACE", partition: 1 },
    ])
    assert.equal(await readFile(join(output, "part-00001.jsonl"), "utf8"), '{"name":"GRACE","partition":1}\n')
    assert.equal((await result.shards()).length, 2, "the stale part was removed")
    const events: string[] = []
    const again = new Scheduler({ backend: scheduler.backend, onEvent: (event) => event.type === "job" && events.push(event.status) })
    await again.run(upper(new ShardedDataset(input), output))
    assert.ok(events.includes("CACHED"))
  })

  it("hashes the mapper: two partition tasks differ by their mapper's source", () => {
    const a = partitionTask("test.dataset.a", async function* (rows) {
      yield* rows
    })
    const b = partitionTask("test.dataset.b", async function* (rows) {
      for await (const row of rows) yield { ...row, b: true }
    })
    assert.notEqual(a.definition.options.hashIncludes?.[0], b.definition.options.hashIncludes?.[0])
  })
})

const moto = await startMoto()

describe("ShardedDataset on S3", { skip: moto.skip }, () => {
  const server = moto as Moto
  before(async () => {
    configureS3({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    const s3 = new S3Client({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: "data" }))
    s3.destroy()
  })
  after(async () => {
    configureS3({})
    await moto.stop()
  })

  it("hashes shards by their ETags and notices a rewritten shard", async () => {
    const storage = await storageFor("s3://data/x")
    await storage.writeBytes("s3://data/events/part-0.jsonl", '{"e":1}\n')
    await storage.writeBytes("s3://data/events/part-1.jsonl", '{"e":2}\n')
    const dataset = new ShardedDataset("s3://data/events/")
    assert.equal(dataset.path, "s3://data/events")
    const shards = await dataset.shards()
    assert.equal(shards.length, 2)
    assert.match(shards[0]?.etag ?? "", /^[0-9a-f]{32}$/)
    assert.deepEqual(await collect(dataset.records(1)), [{ e: 2 }])
    const before = dataset.hash
    await storage.writeBytes("s3://data/events/part-1.jsonl", '{"e":3}\n')
    assert.notEqual(await dataset.updateHash(), before)
  })
})
