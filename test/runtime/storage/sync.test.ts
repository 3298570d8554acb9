import assert from "node:assert/strict"
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, afterEach, beforeEach, describe, it } from "node:test"
import { S3Storage } from "../../../runtime/storage/s3-storage.js"
import { configureS3, storageFor } from "../../../runtime/storage/storage-registry.js"
import { type SyncOptions, syncDirectories } from "../../../runtime/storage/sync.js"
import { createBucket, s3Options, startMoto } from "../../support/moto.js"
import { rejectsWith } from "./storage-conformance.js"

const moto = await startMoto()
after(() => moto.stop())
if (moto.skip === false) configureS3(s3Options(moto))

let dir: string
let cacheDir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "reductio-sync-"))
  cacheDir = join(dir, "cache")
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const counts = (result: { copied: number; skipped: number; deleted: number; bytes: number }) => ({
  copied: result.copied,
  skipped: result.skipped,
  deleted: result.deleted,
  bytes: result.bytes,
})

async function tree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(root, name, ".."), { recursive: true })
    await writeFile(join(root, name), content)
  }
}

async function listing(root: string): Promise<Record<string, string>> {
  const storage = await storageFor(root)
  const out: Record<string, string> = {}
  for await (const entry of storage.list(`${root}/`))
    out[entry.uri.slice(root.length + 1)] = Buffer.from(await storage.readBytes(entry.uri)).toString()
  return out
}

describe("sync between local directories", () => {
  const sync = (from: string, to: string, options: SyncOptions = {}) => syncDirectories(from, to, { cacheDir, ...options })

  it("copies everything once, then nothing while nothing changed", async () => {
    await tree(join(dir, "a"), { "x.txt": "one", "sub/y.txt": "two", "sub/deeper/z.bin": "three" })
    assert.deepEqual(counts(await sync(join(dir, "a"), join(dir, "b"))), { copied: 3, skipped: 0, deleted: 0, bytes: 11 })
    assert.deepEqual(await listing(join(dir, "b")), { "sub/deeper/z.bin": "three", "sub/y.txt": "two", "x.txt": "one" })
    assert.deepEqual(counts(await sync(join(dir, "a"), join(dir, "b"))), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
  })

  it("copies a file whose size differs, and one whose content differs at the same size", async () => {
    await tree(join(dir, "a"), { "same.txt": "aaaa", "grown.txt": "bb", "changed.txt": "cccc" })
    await tree(join(dir, "b"), { "same.txt": "aaaa", "grown.txt": "b", "changed.txt": "CCCC" })
    const result = await sync(join(dir, "a"), join(dir, "b"))
    assert.deepEqual(
      result.actions.map((action) => [action.path, action.reason]),
      [
        ["changed.txt", "content"],
        ["grown.txt", "size"],
      ],
    )
    assert.equal(result.skipped, 1)
    assert.equal(await readFile(join(dir, "b", "changed.txt"), "utf8"), "cccc")
  })

  it("deletes the target's extra files only with delete", async () => {
    await tree(join(dir, "a"), { "keep.txt": "k" })
    await tree(join(dir, "b"), { "keep.txt": "k", "extra.txt": "e", "old/more.txt": "m" })
    assert.equal((await sync(join(dir, "a"), join(dir, "b"))).deleted, 0)
    assert.deepEqual(Object.keys(await listing(join(dir, "b"))).sort(), ["extra.txt", "keep.txt", "old/more.txt"])
    const result = await sync(join(dir, "a"), join(dir, "b"), { delete: true })
    assert.deepEqual(counts(result), { copied: 0, skipped: 1, deleted: 2, bytes: 0 })
    assert.deepEqual(Object.keys(await listing(join(dir, "b"))), ["keep.txt"])
  })

  it("selects paths with include and exclude globs, and never deletes what they leave out", async () => {
    await tree(join(dir, "a"), { "r1.fastq": "1", "lane/r2.fastq": "2", "notes.txt": "n", "lane/tmp.fastq": "t" })
    await tree(join(dir, "b"), { "other.txt": "o" })
    const result = await sync(join(dir, "a"), join(dir, "b"), { include: ["*.fastq"], exclude: ["lane/tmp*"], delete: true })
    assert.deepEqual(
      result.actions.map((action) => action.path),
      ["lane/r2.fastq", "r1.fastq"],
    )
    assert.deepEqual(Object.keys(await listing(join(dir, "b"))).sort(), ["lane/r2.fastq", "other.txt", "r1.fastq"])
  })

  it("does nothing in a dry run but says what it would do", async () => {
    await tree(join(dir, "a"), { "new.txt": "n" })
    await tree(join(dir, "b"), { "gone.txt": "g" })
    const result = await sync(join(dir, "a"), join(dir, "b"), { dryRun: true, delete: true })
    assert.deepEqual(counts(result), { copied: 1, skipped: 0, deleted: 1, bytes: 1 })
    assert.deepEqual(Object.keys(await listing(join(dir, "b"))), ["gone.txt"])
  })

  it("refuses a missing source, and roots inside one another", async () => {
    await rejectsWith(sync(join(dir, "nowhere"), join(dir, "b"), { delete: true }), "FILE_NOT_FOUND")
    await mkdir(join(dir, "a"))
    await rejectsWith(sync(join(dir, "a"), join(dir, "a", "inside")), "INVALID_ARGUMENT")
    await rejectsWith(sync(join(dir, "a"), dir), "INVALID_ARGUMENT")
    await rejectsWith(sync(join(dir, "a"), join(dir, "b"), { concurrency: 0 }), "INVALID_ARGUMENT")
    await rejectsWith(sync(join(dir, "a"), join(dir, "b"), { include: [""] }), "INVALID_ARGUMENT")
  })

  it("syncs an empty source directory as empty", async () => {
    await mkdir(join(dir, "a"))
    await tree(join(dir, "b"), { x: "x" })
    assert.deepEqual(counts(await sync(join(dir, "a"), join(dir, "b"), { delete: true })), { copied: 0, skipped: 0, deleted: 1, bytes: 0 })
  })
})

describe("sync with S3", { skip: moto.skip }, () => {
  let bucket: string
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "sync")
  })
  const sync = (from: string, to: string, options: SyncOptions = {}) => syncDirectories(from, to, { cacheDir, ...options })

  it("copies local to S3 and back, then skips every unchanged file by ETag", async () => {
    const bytes = randomBytes(20 * 1024 * 1024 + 9)
    await tree(join(dir, "a"), { "small.txt": "small", "big.bin": bytes, "sub/x": "x" })
    const remote = `s3://${bucket}/run`
    assert.deepEqual(counts(await sync(join(dir, "a"), remote)), { copied: 3, skipped: 0, deleted: 0, bytes: bytes.length + 6 })
    assert.match((await (await storageFor(remote)).stat(`${remote}/big.bin`))?.etag ?? "", /-3$/)
    assert.deepEqual(counts(await sync(join(dir, "a"), remote)), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
    assert.deepEqual(counts(await sync(remote, join(dir, "back"))), { copied: 3, skipped: 0, deleted: 0, bytes: bytes.length + 6 })
    assert.ok((await readFile(join(dir, "back", "big.bin"))).equals(bytes))
    assert.deepEqual(counts(await sync(remote, join(dir, "back"))), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
    // Without the cache, the multipart ETag is computed from the bytes and still matches.
    await rm(cacheDir, { recursive: true, force: true })
    assert.deepEqual(counts(await sync(remote, join(dir, "back"))), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
    assert.deepEqual(counts(await sync(join(dir, "a"), remote)), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
  })

  it("trusts a local file's cached MD5 while its size and mtime are unchanged, and hashes it again once touched", async () => {
    const file = join(dir, "a", "f.txt")
    const mtime = new Date("2024-05-01T12:00:00Z")
    await tree(join(dir, "a"), { "f.txt": "version-1" })
    await utimes(file, mtime, mtime)
    const remote = `s3://${bucket}/cached`
    await sync(join(dir, "a"), remote)
    await writeFile(file, "version-2")
    await utimes(file, mtime, mtime)
    assert.equal((await sync(join(dir, "a"), remote)).copied, 0, "size and mtime unchanged: the cached MD5 answers")
    await utimes(file, mtime, new Date(mtime.getTime() + 5000))
    const touched = await sync(join(dir, "a"), remote)
    assert.deepEqual(
      touched.actions.map((action) => action.reason),
      ["content"],
    )
    assert.equal(Buffer.from(await (await storageFor(remote)).readBytes(`${remote}/f.txt`)).toString(), "version-2")
  })

  it("compares with an object another uploader wrote in 5 MiB parts", async () => {
    const bytes = randomBytes(12 * 1024 * 1024)
    const remote = `s3://${bucket}/others`
    if (moto.skip !== false) return
    await new S3Storage({ ...s3Options(moto), partSize: 5 * 1024 * 1024 }).writeBytes(`${remote}/data.bin`, bytes)
    await tree(join(dir, "a"), { "data.bin": bytes })
    assert.deepEqual(counts(await sync(join(dir, "a"), remote)), { copied: 0, skipped: 1, deleted: 0, bytes: 0 })
    const changed = Buffer.from(bytes)
    changed[7] = (changed[7] as number) ^ 1
    await writeFile(join(dir, "a", "data.bin"), changed)
    assert.equal((await sync(join(dir, "a"), remote)).copied, 1)
  })

  it("copies S3 to S3 server-side, keeping multipart ETags, then skips", async () => {
    const storage = await storageFor(`s3://${bucket}/`)
    await storage.writeBytes(`s3://${bucket}/src/big`, randomBytes(9 * 1024 * 1024))
    await storage.writeBytes(`s3://${bucket}/src/small`, "small")
    await storage.writeBytes(`s3://${bucket}/dst/stale`, "stale")
    const result = await sync(`s3://${bucket}/src`, `s3://${bucket}/dst`, { delete: true })
    assert.deepEqual(counts(result), { copied: 2, skipped: 0, deleted: 1, bytes: 9 * 1024 * 1024 + 5 })
    assert.equal((await storage.stat(`s3://${bucket}/dst/big`))?.etag, (await storage.stat(`s3://${bucket}/src/big`))?.etag)
    assert.deepEqual(counts(await sync(`s3://${bucket}/src`, `s3://${bucket}/dst`, { delete: true })), {
      copied: 0,
      skipped: 2,
      deleted: 0,
      bytes: 0,
    })
  })

  it("refuses an S3 prefix with no objects as a source, so --delete never empties a target", async () => {
    await tree(join(dir, "b"), { "precious.txt": "p" })
    await rejectsWith(sync(`s3://${bucket}/no-such-prefix`, join(dir, "b"), { delete: true }), "FILE_NOT_FOUND")
    assert.equal(await readFile(join(dir, "b", "precious.txt"), "utf8"), "p")
  })

  it("refuses an S3 key whose .. segments would land outside a local target", async () => {
    const storage = await storageFor(`s3://${bucket}/`)
    await storage.writeBytes(`s3://${bucket}/evil/ok.txt`, "ok")
    await storage.writeBytes(`s3://${bucket}/evil/a/../../escape.txt`, "escaped")
    const keys: string[] = []
    for await (const entry of storage.list(`s3://${bucket}/evil/`)) keys.push(entry.uri)
    assert.ok(
      keys.some((key) => key.includes("/../")),
      `the emulator kept the key as written: ${keys.join(", ")}`,
    )
    await rejectsWith(sync(`s3://${bucket}/evil`, join(dir, "target", "inner")), "INVALID_ARGUMENT")
    await assert.rejects(readFile(join(dir, "target", "escape.txt")), { code: "ENOENT" })
    const excluded = await sync(`s3://${bucket}/evil`, join(dir, "target", "inner"), { exclude: ["a/**"] })
    assert.equal(excluded.copied, 1)
  })

  it("round-trips a local name that is not UTF-8 through S3", { skip: process.platform !== "linux" }, async () => {
    const name = Buffer.concat([Buffer.from(`${dir}/a/caf`), Buffer.of(0xe9), Buffer.from(".txt")])
    await mkdir(join(dir, "a"))
    await writeFile(name, "latin-1")
    await sync(join(dir, "a"), `s3://${bucket}/names`)
    assert.deepEqual(await listing(`s3://${bucket}/names`), { "caf%E9.txt": "latin-1" })
    await sync(`s3://${bucket}/names`, join(dir, "back"))
    assert.equal(await readFile(Buffer.concat([Buffer.from(`${dir}/back/caf`), Buffer.of(0xe9), Buffer.from(".txt")]), "utf8"), "latin-1")
  })
})

describe("sync globs", () => {
  it("refuses an overlong pattern and treats runs of **/ as one", async () => {
    const { globMatcher } = await import("../../../runtime/storage/glob.js")
    assert.throws(() => globMatcher("*".repeat(5000)), { code: "INVALID_ARGUMENT" })
    assert.throws(() => globMatcher("[abc"), { code: "INVALID_ARGUMENT" })
    assert.throws(() => globMatcher("{a,b"), { code: "INVALID_ARGUMENT" })
    const deep = globMatcher(`${"**/".repeat(200)}x.txt`)
    assert.equal(deep(`${"d/".repeat(500)}y.txt`), false)
    assert.equal(deep("a/b/x.txt"), true)
    assert.equal(globMatcher("a.b+c(d)").call(null, "a.b+c(d)"), true)
    assert.equal(globMatcher("a.b").call(null, "axb"), false)
  })
})
