import assert from "node:assert/strict"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, afterEach, before, beforeEach, describe, it } from "node:test"
import { decode, encode, prepareForEncoding } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import { Dir, File, StagingDir } from "../../runtime/file.js"
import { configureS3 } from "../../runtime/storage/storage-registry.js"
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

async function tree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(root, name, ".."), { recursive: true })
    await writeFile(join(root, name), content)
  }
}

describe("Dir (local)", () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "reductio-dir-"))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it("refuses to list a directory that does not exist, and lists an empty one as empty", async () => {
    await rejectsCode(new Dir(join(root, "nonexistent")).files(), "FILE_NOT_FOUND")
    await rejectsCode(prepareForEncoding(new Dir(join(root, "nonexistent"))) as Promise<void>, "FILE_NOT_FOUND")
    await mkdir(join(root, "empty"))
    assert.deepEqual(await new Dir(join(root, "empty")).files(), [])
  })

  it("is invalid once it is removed", async () => {
    await tree(join(root, "d"), { a: "a" })
    const dir = new Dir(join(root, "d"))
    await prepareForEncoding(dir)
    const cached = roundTrip(dir)
    await dir.rm()
    assert.equal(await dir.exists(), false)
    assert.equal(await validate(cached), false)
  })

  it("globs files by their path inside it", async () => {
    await tree(join(root, "run"), { "a.fastq": "", "lane1/b.fastq": "", "lane1/b.txt": "", "lane2/deep/c.fastq": "" })
    const dir = new Dir(join(root, "run"))
    const names = async (pattern: string) => (await dir.glob(pattern)).map((file) => file.path.slice(dir.path.length + 1))
    assert.deepEqual(await names("*.fastq"), ["a.fastq"])
    assert.deepEqual(await names("**/*.fastq"), ["a.fastq", "lane1/b.fastq", "lane2/deep/c.fastq"])
    assert.deepEqual(await names("lane?/*.{fastq,txt}"), ["lane1/b.fastq", "lane1/b.txt"])
    assert.deepEqual(await names("lane[!1]/**"), ["lane2/deep/c.fastq"])
  })

  it("names files inside it and refuses paths that leave it", () => {
    const dir = new Dir(join(root, "d"))
    assert.equal(dir.file("x/y.txt").path, join(root, "d", "x", "y.txt"))
    for (const bad of ["../escape", "/abs", "", "a/../../b"]) assert.throws(() => dir.file(bad), { code: "INVALID_ARGUMENT" })
  })

  it("copies to another directory and syncs only what changed", async () => {
    await tree(join(root, "src"), { "a.txt": "a", "sub/b.txt": "b" })
    const copy = await new Dir(join(root, "src")).copyTo(join(root, "copy"))
    assert.equal(copy.path, join(root, "copy"))
    assert.equal(await readFile(join(root, "copy", "sub", "b.txt"), "utf8"), "b")
    await writeFile(join(root, "src", "a.txt"), "A")
    const result = await new Dir(join(root, "src")).syncTo(copy)
    assert.deepEqual([result.copied, result.skipped], [1, 1])
  })

  it("round-trips a StagingDir with its remote hash", async () => {
    await tree(join(root, "d"), { a: "a" })
    const staging = new Dir(join(root, "d")).stage("local-d")
    assert.ok(staging instanceof StagingDir)
    await prepareForEncoding(staging)
    const back = roundTrip(staging)
    assert.ok(back instanceof StagingDir)
    assert.equal(back.local, "local-d")
    assert.equal(back.remote.hash, staging.remote.hash)
    assert.equal(await validate(back), true)
    await writeFile(join(root, "d", "b"), "b")
    assert.equal(await validate(back), false)
  })

  it("stages a directory into a job and back out", async () => {
    await tree(join(root, "index"), { "genome.fa": "ACGT", "sub/genome.fai": "1" })
    const work = join(root, "job")
    await new Dir(join(root, "index")).stage("idx").stageIn(work)
    assert.equal(await readFile(join(work, "idx", "sub", "genome.fai"), "utf8"), "1")
    await writeFile(join(work, "idx", "new.txt"), "new")
    const out = await new Dir(join(root, "out")).stage("idx").stageOut(work)
    assert.deepEqual(
      (await out.files()).map((file) => file.basename),
      ["genome.fa", "new.txt", "genome.fai"],
    )
  })

  it("hashes entries whose names are not UTF-8, by their bytes", { skip: process.platform !== "linux" }, async () => {
    const d = join(root, "d")
    await mkdir(d)
    const odd = Buffer.concat([Buffer.from(`${d}/caf`), Buffer.of(0xe9), Buffer.from(".txt")])
    await writeFile(odd, "one")
    await writeFile(join(d, "plain.txt"), "plain")
    const dir = new Dir(d)
    assert.deepEqual(
      (await dir.files()).map((file) => file.basename),
      ["caf%E9.txt", "plain.txt"],
    )
    assert.equal(await dir.file("caf%E9.txt").read(), "one")
    await prepareForEncoding(dir)
    const cached = roundTrip(dir)
    assert.equal(await validate(cached), true)
    await writeFile(odd, "one, changed")
    assert.equal(await validate(cached), false, "changing the file with the odd name changes the Dir's hash")
    const before = dir.hash
    await dir.updateHash()
    assert.notEqual(dir.hash, before)
  })
})

describe("File paths and removal", () => {
  it("gives its directory and name, local and S3", () => {
    assert.equal(new File("/data/run/reads.fq").dirname, "/data/run")
    assert.equal(new File("s3://lab/run7/reads.fq").dirname, "s3://lab/run7")
    assert.equal(new File("s3://lab/run7/reads.fq").basename, "reads.fq")
  })

  it("removes a file, and a missing one quietly", async () => {
    const root = await mkdtemp(join(tmpdir(), "reductio-rm-"))
    try {
      const file = new File(join(root, "x"))
      await file.write("x")
      await file.rm()
      assert.equal(await file.exists(), false)
      await file.rm()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

const moto = await startMoto()
after(() => moto.stop())

describe("Dir (S3)", { skip: moto.skip }, () => {
  let bucket: string
  let local: string
  before(() => {
    if (moto.skip === false) configureS3(s3Options(moto))
  })
  after(() => configureS3({}))
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "dirs")
    local = await mkdtemp(join(tmpdir(), "reductio-dir-s3-"))
  })
  afterEach(() => rm(local, { recursive: true, force: true }))

  it("refuses a prefix with no objects, lists Files with their hashes, globs and removes", async () => {
    await rejectsCode(new Dir(`s3://${bucket}/none`).files(), "FILE_NOT_FOUND")
    for (const name of ["a.txt", "x/b.txt", "x/c.bin"]) await new File(`s3://${bucket}/d/${name}`).write(name)
    const dir = new Dir(`s3://${bucket}/d`)
    const files = await dir.files()
    assert.ok(
      files.every((file) => /^[0-9a-f]{64}$/.test(file.hash ?? "")),
      "listed Files come hashed",
    )
    const fresh = new File(files[0]?.path as string)
    await fresh.updateHash()
    assert.equal(fresh.hash, files[0]?.hash, "a listing hashes a File as a HEAD does")
    assert.deepEqual(
      (await dir.glob("**/*.txt")).map((file) => file.basename),
      ["a.txt", "b.txt"],
    )
    await dir.rm()
    assert.equal(await dir.exists(), false)
  })

  it("copies to a local directory and stages an empty directory out as an existing one", async () => {
    await new File(`s3://${bucket}/src/one.txt`).write("1")
    const copy = await new Dir(`s3://${bucket}/src`).copyTo(join(local, "copy"))
    assert.equal(await readFile(join(copy.path, "one.txt"), "utf8"), "1")
    await mkdir(join(local, "job", "empty"), { recursive: true })
    const out = await new Dir(`s3://${bucket}/empty-out`).stage("empty").stageOut(join(local, "job"))
    assert.equal(await out.exists(), true)
    assert.deepEqual(await out.files(), [])
    await prepareForEncoding(out)
    assert.match(out.hash ?? "", /^[0-9a-f]{64}$/)
  })
})
