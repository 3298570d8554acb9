import assert from "node:assert/strict"
import { createHash, randomBytes } from "node:crypto"
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pipeline } from "node:stream/promises"
import { Readable } from "node:stream"
import { after, afterEach, before, beforeEach, describe, it } from "node:test"
import { decode, encode, prepareForEncoding } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import type { Lazy } from "../../runtime/expression.js"
import { Dir, File, StagingFile } from "../../runtime/file.js"
import { configureS3 } from "../../runtime/storage/storage-registry.js"
import { task } from "../../runtime/task.js"
import { codecOf } from "../support/codec.js"
import { createBucket, s3Options, startMoto } from "../support/moto.js"

async function validate(value: unknown): Promise<boolean> {
  return (await codecOf(value).validate?.(value)) ?? true
}

function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T
}

async function rejectsCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isReductioError(error) && error.code === code)
}

// Compile-time: a lazy record's File field is a Lazy<File>, not mapped field by field.
type Aligned = Lazy<{ bam: File; count: number }>
const bamIsLazyFile: (value: Aligned["bam"]) => Lazy<File> = (value) => value
void bamIsLazyFile

describe("File (local)", () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-file-"))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("resolves a relative path against the working directory and keeps s3 URIs", () => {
    assert.equal(new File("data/a.txt").path, join(process.cwd(), "data/a.txt"))
    assert.equal(new File("s3://bucket/key/a.txt").path, "s3://bucket/key/a.txt")
    assert.equal(new File("s3://bucket/key/a.txt").basename, "a.txt")
  })

  it("writes, reads, stats and sizes a file", async () => {
    const file = new File(join(dir, "sub", "a.txt"))
    assert.equal(await file.exists(), false)
    await file.write("hello\nworld\n")
    assert.equal(await file.read(), "hello\nworld\n")
    assert.equal(await file.size(), 12)
    assert.equal((await file.stat())?.size, 12)
    assert.deepEqual([...(await file.readBytes({ start: 0, end: 4 }))], [...Buffer.from("hello")])
  })

  it("raises FILE_NOT_FOUND reading a missing file", async () => {
    await rejectsCode(new File(join(dir, "missing")).read(), "FILE_NOT_FOUND")
    await rejectsCode(new File(join(dir, "missing")).size(), "FILE_NOT_FOUND")
  })

  it("hashes by path, size and mtime once prepared", async () => {
    const file = new File(join(dir, "a.txt"))
    await file.write("one")
    assert.equal(file.hash, undefined)
    await prepareForEncoding({ inputs: [file] })
    assert.match(file.hash ?? "", /^[0-9a-f]{64}$/)
    const same = new File(file.path)
    await prepareForEncoding(same)
    assert.equal(same.hash, file.hash)
  })

  it("is prepared once inside the arguments of calls a value holds, shared calls included", async () => {
    const files = await Promise.all(
      ["x.txt", "y.txt"].map(async (name) => {
        const file = new File(join(dir, name))
        await file.write(name)
        return file
      }),
    )
    const count = task("countFile", (file: File, n: number) => file.path.length + n)
    const shared = count(files[1] as File, 0)
    // Enough calls that the walk remembers what it went into (it does past 4,096 containers).
    const calls = Array.from({ length: 5_000 }, (_, i) => count(files[0] as File, i))
    const reference = files[0] as File
    const updateHash = reference.updateHash.bind(reference)
    let stats = 0
    reference.updateHash = () => {
      stats++
      return updateHash()
    }
    await prepareForEncoding([...calls, shared, shared, { nested: [shared] }])
    for (const file of files) assert.match(file.hash ?? "", /^[0-9a-f]{64}$/, file.path)
    assert.equal(stats, 1, "a File the value holds 5,000 times is prepared once")
  })

  it("is invalid once the file is rewritten, and valid while untouched", async () => {
    const file = new File(join(dir, "a.txt"))
    await file.write("one")
    await prepareForEncoding(file)
    const cached = roundTrip(file)
    assert.equal(cached.hash, file.hash)
    assert.equal(await validate(cached), true)
    await writeFile(file.path, "two, longer")
    assert.equal(await validate(cached), false)
  })

  it("is invalid once the file is deleted", async () => {
    const file = new File(join(dir, "a.txt"))
    await file.write("one")
    await prepareForEncoding(file)
    const cached = roundTrip(file)
    await file.delete()
    assert.equal(await validate(cached), false)
  })

  it("hashes the content when asked: a touch keeps the hash, new bytes change it", async () => {
    const path = join(dir, "c.bin")
    const bytes = randomBytes(3 * 1024 * 1024 + 5)
    await writeFile(path, bytes)
    const file = new File(path, { contentHash: true })
    await prepareForEncoding(file)
    assert.equal(file.hash, createHash("sha256").update(bytes).digest("hex"))
    const cached = roundTrip(file)
    assert.equal(cached.contentHash, true)
    await utimes(path, new Date(2001, 1, 1), new Date(2001, 1, 1))
    assert.equal(await validate(cached), true, "same bytes, new mtime")
    await writeFile(path, Buffer.concat([bytes.subarray(1), Buffer.from("x")]))
    assert.equal(await validate(cached), false, "same size, new bytes")
  })

  it("encodes an unprepared local File deterministically, but refuses an unprepared S3 File", () => {
    const path = join(dir, "never-written")
    assert.deepEqual(encode(new File(path)), encode(new File(path)))
    assert.throws(
      () => encode(new File("s3://bucket/key")),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE"),
    )
  })

  it("gives lineage as path and hash", async () => {
    const file = new File(join(dir, "a.txt"))
    await file.write("x")
    assert.equal(codecOf(file).lineage?.(file), undefined)
    await prepareForEncoding(file)
    assert.deepEqual(codecOf(file).lineage?.(file), { path: file.path, hash: file.hash })
  })

  it("copies and streams, writing atomically", async () => {
    const source = new File(join(dir, "s.txt"))
    await pipeline(Readable.from([Buffer.from("a"), Buffer.from("b")]), source.createWriteStream())
    assert.equal(await source.read(), "ab")
    const copy = await source.copyTo(join(dir, "deep", "copy.txt"))
    assert.equal(await copy.read(), "ab")
    const chunks: Buffer[] = []
    for await (const chunk of await copy.createReadStream()) chunks.push(chunk as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), "ab")
  })

  it("stages a file in and out of a job directory", async () => {
    const remote = new File(join(dir, "remote.txt"))
    await remote.write("data")
    const job = join(dir, "job")
    const staged = remote.stage("in.txt")
    assert.ok(staged instanceof StagingFile)
    assert.equal((await staged.stageIn(job)).path, join(job, "in.txt"))
    await writeFile(join(job, "out.txt"), "result")
    const out = await new File(join(dir, "out", "result.txt")).stage("out.txt").stageOut(job)
    assert.equal(await out.read(), "result")
    await rejectsCode(new File(join(dir, "nope")).stage().stageIn(job), "FILE_NOT_FOUND")
  })

  it("round-trips a StagingFile with its remote hash", async () => {
    const remote = new File(join(dir, "r.txt"))
    await remote.write("r")
    const staged = remote.stage("local.txt")
    await prepareForEncoding([staged])
    const back = roundTrip(staged)
    assert.equal(back.local, "local.txt")
    assert.equal(back.remote.hash, remote.hash)
    assert.equal(await validate(back), true)
  })
})

describe("Dir (local)", () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "reductio-dir-"))
  })
  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it("lists its files recursively and names a file inside", async () => {
    await mkdir(join(root, "d", "sub"), { recursive: true })
    await writeFile(join(root, "d", "b.txt"), "b")
    await writeFile(join(root, "d", "sub", "a.txt"), "a")
    const dir = new Dir(join(root, "d/"))
    assert.equal(dir.path, join(root, "d"))
    assert.deepEqual(
      (await dir.files()).map((f) => f.path),
      [join(root, "d", "b.txt"), join(root, "d", "sub", "a.txt")],
    )
    assert.equal(dir.file("sub/a.txt").path, join(root, "d", "sub", "a.txt"))
    assert.equal(await dir.exists(), true)
    assert.equal(await new Dir(join(root, "none")).exists(), false)
  })

  it("is invalid once a file is added", async () => {
    await mkdir(join(root, "d"))
    await writeFile(join(root, "d", "a"), "a")
    const dir = new Dir(join(root, "d"))
    await prepareForEncoding(dir)
    const cached = roundTrip(dir)
    assert.equal(await validate(cached), true)
    await writeFile(join(root, "d", "b"), "b")
    assert.equal(await validate(cached), false)
  })
})

const moto = await startMoto()
after(() => moto.stop())

describe("File (S3)", { skip: moto.skip }, () => {
  let bucket: string
  let local: string
  before(async () => {
    if (moto.skip !== false) return
    await moto.reset()
    configureS3(s3Options(moto))
  })
  after(() => configureS3({}))
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "files")
    local = await mkdtemp(join(tmpdir(), "reductio-file-s3-"))
  })
  afterEach(async () => {
    await rm(local, { recursive: true, force: true })
  })

  it("hashes by ETag and is invalid once overwritten", async () => {
    const file = new File(`s3://${bucket}/a/b.txt`)
    await file.write("first")
    await prepareForEncoding(file)
    const cached = roundTrip(file)
    assert.equal(await validate(cached), true)
    await file.write("second")
    assert.equal(await validate(cached), false)
  })

  it("copies between local files and S3 both ways", async () => {
    const source = new File(join(local, "src.txt"))
    await source.write("payload")
    const remote = await source.copyTo(`s3://${bucket}/up/src.txt`)
    assert.equal(await remote.read(), "payload")
    const copied = await remote.copyTo(`s3://${bucket}/up/copy.txt`)
    const back = await copied.copyTo(join(local, "back", "src.txt"))
    assert.equal(await back.read(), "payload")
  })

  it("lists an S3 prefix as a Dir", async () => {
    await new File(`s3://${bucket}/out/1.txt`).write("1")
    await new File(`s3://${bucket}/out/x/2.txt`).write("2")
    await new File(`s3://${bucket}/outside.txt`).write("3")
    const dir = new Dir(`s3://${bucket}/out/`)
    assert.deepEqual(
      (await dir.files()).map((f) => f.path),
      [`s3://${bucket}/out/1.txt`, `s3://${bucket}/out/x/2.txt`],
    )
    assert.equal(await dir.exists(), true)
    await prepareForEncoding(dir)
    const cached = roundTrip(dir)
    await dir.file("x/2.txt").write("changed")
    assert.equal(await validate(cached), false)
  })

  it("streams into an S3 object, and fails the stream when the bucket is missing", async () => {
    const file = new File(`s3://${bucket}/streamed.txt`)
    await pipeline(Readable.from([Buffer.from("x".repeat(1000)), Buffer.from("y")]), file.createWriteStream())
    assert.equal(await file.size(), 1001)
    const lost = new File(`s3://no-such-bucket-${randomBytes(4).toString("hex")}/a`)
    await rejectsCode(pipeline(Readable.from([Buffer.from("data")]), lost.createWriteStream()), "STORAGE_ERROR")
  })

  it("raises FILE_NOT_FOUND for a missing object", async () => {
    await rejectsCode(new File(`s3://${bucket}/none`).read(), "FILE_NOT_FOUND")
    await rejectsCode(new File(`s3://${bucket}/none`).copyTo(join(local, "x")), "FILE_NOT_FOUND")
  })
})
