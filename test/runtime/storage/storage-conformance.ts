/**
 * The one conformance suite every {@link Storage} implementation passes (local, S3). A test file
 * calls {@link storageConformance} with a factory giving a fresh, empty root per test.
 */
import assert from "node:assert/strict"
import { createHash, randomBytes } from "node:crypto"
import { createReadStream } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Readable } from "node:stream"
import { afterEach, beforeEach, describe, it } from "node:test"
import { isReductioError, type ErrorCode } from "../../../runtime/errors.js"
import type { Storage } from "../../../runtime/storage/storage.js"

/** A fresh place to test in. */
export interface ConformanceFixture {
  readonly storage: Storage
  /** An empty prefix ending in `/` (a temp directory, or `s3://<new bucket>/`). */
  readonly root: string
  /** A URI in a container that does not exist (S3: a missing bucket), when the storage has them. */
  readonly missingContainer?: string
  /** Whether large uploads are multipart (the ETag then ends in `-<parts>`). */
  readonly multipart?: boolean
  cleanup?(): Promise<void>
}

/** Runs the suite against `setup()`'s storage. */
export function storageConformance(name: string, setup: () => Promise<ConformanceFixture>, options: { skip?: string | false } = {}): void {
  describe(`Storage conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let fixture: ConformanceFixture
    let storage: Storage
    let root: string
    let scratch: string
    beforeEach(async () => {
      fixture = await setup()
      storage = fixture.storage
      root = fixture.root
      scratch = await mkdtemp(join(tmpdir(), "reductio-conformance-"))
    })
    afterEach(async () => {
      await fixture.cleanup?.()
      await rm(scratch, { recursive: true, force: true })
    })

    it("writes bytes and reads them back", async () => {
      await storage.writeBytes(`${root}a.bin`, new Uint8Array([1, 2, 3]))
      await storage.writeBytes(`${root}b.txt`, "héllo")
      assert.deepEqual([...(await storage.readBytes(`${root}a.bin`))], [1, 2, 3])
      assert.equal(Buffer.from(await storage.readBytes(`${root}b.txt`)).toString("utf8"), "héllo")
    })

    it("replaces an object on a second write", async () => {
      await storage.writeBytes(`${root}x`, "first")
      await storage.writeBytes(`${root}x`, "second!")
      assert.equal(Buffer.from(await storage.readBytes(`${root}x`)).toString(), "second!")
      assert.equal((await storage.stat(`${root}x`))?.size, 7)
    })

    it("stats an object and reports a missing one as undefined", async () => {
      await storage.writeBytes(`${root}dir/s.txt`, "12345")
      const info = await storage.stat(`${root}dir/s.txt`)
      assert.equal(info?.size, 5)
      assert.equal(await storage.stat(`${root}dir/none.txt`), undefined)
      assert.equal(await storage.exists(`${root}dir/s.txt`), true)
      assert.equal(await storage.exists(`${root}dir/none.txt`), false)
      assert.equal(await storage.exists(`${root}dir`), false, "a directory is not an object")
    })

    it("reads a byte range", async () => {
      await storage.writeBytes(`${root}r`, "0123456789")
      assert.equal(text(await storage.readBytes(`${root}r`, { start: 2, end: 5 })), "2345")
      assert.equal(text(await storage.readBytes(`${root}r`, { start: 7 })), "789")
    })

    it("streams an object and a range of it", async () => {
      await storage.writeBytes(`${root}s`, "abcdefghij")
      assert.equal(await collect(await storage.createReadStream(`${root}s`)), "abcdefghij")
      assert.equal(await collect(await storage.createReadStream(`${root}s`, { start: 3, end: 4 })), "de")
    })

    it("writes an object from a stream", async () => {
      async function* chunks() {
        for (let i = 0; i < 100; i++) yield Buffer.from(`line ${i}\n`)
      }
      await storage.writeStream(`${root}streamed.txt`, chunks())
      const lines = text(await storage.readBytes(`${root}streamed.txt`))
        .trimEnd()
        .split("\n")
      assert.equal(lines.length, 100)
      assert.equal(lines[99], "line 99")
    })

    it("uploads and downloads a 20 MB file, streamed", async () => {
      const source = join(scratch, "big.bin")
      const back = join(scratch, "nested", "back.bin")
      const bytes = randomBytes(20 * 1024 * 1024 + 123)
      await writeFile(source, bytes)
      await storage.upload(source, `${root}big.bin`)
      const info = await storage.stat(`${root}big.bin`)
      assert.equal(info?.size, bytes.length)
      if (fixture.multipart === true) assert.match(info?.etag ?? "", /-\d+$/, "a multipart upload has a -N ETag")
      await storage.download(`${root}big.bin`, back)
      assert.equal(await sha256File(back), createHash("sha256").update(bytes).digest("hex"))
    })

    it("lists by prefix, recursively, in order, across pages", async () => {
      const names = ["d/a", "d/b", "d/sub/c", "d/sub/deeper/e", "d2/f", "other"]
      for (const name of names) await storage.writeBytes(`${root}${name}`, name)
      const all = await uris(storage.list(`${root}d/`, { pageSize: 2 }))
      assert.deepEqual(
        all,
        ["d/a", "d/b", "d/sub/c", "d/sub/deeper/e"].map((n) => `${root}${n}`),
      )
      const byPrefix = await uris(storage.list(`${root}d`, { pageSize: 1 }))
      assert.deepEqual(
        byPrefix,
        ["d/a", "d/b", "d/sub/c", "d/sub/deeper/e", "d2/f"].map((n) => `${root}${n}`),
      )
      const entries = []
      for await (const entry of storage.list(`${root}d/sub/`)) entries.push(entry)
      assert.equal(entries[0]?.size, "d/sub/c".length)
      assert.deepEqual(await uris(storage.list(`${root}nothing/`)), [])
    })

    it("copies an object", async () => {
      await storage.writeBytes(`${root}from`, "copy me")
      await storage.copy(`${root}from`, `${root}to/there`)
      assert.equal(text(await storage.readBytes(`${root}to/there`)), "copy me")
    })

    it("deletes an object, idempotently", async () => {
      await storage.writeBytes(`${root}gone`, "x")
      await storage.delete(`${root}gone`)
      assert.equal(await storage.exists(`${root}gone`), false)
      await storage.delete(`${root}gone`)
    })

    it("answers every write with the stat of what it wrote", async () => {
      const written = await storage.writeBytes(`${root}w/bytes`, "12345")
      const streamed = await storage.writeStream(`${root}w/stream`, Readable.from([Buffer.from("abc"), Buffer.from("def")]))
      const local = join(scratch, "up.txt")
      await writeFile(local, "uploaded")
      const uploaded = await storage.upload(local, `${root}w/up`)
      const copied = await storage.copy(`${root}w/up`, `${root}w/copy`)
      const downloaded = await storage.download(`${root}w/up`, join(scratch, "down.txt"))
      for (const [uri, answer, size] of [
        [`${root}w/bytes`, written, 5],
        [`${root}w/stream`, streamed, 6],
        [`${root}w/up`, uploaded, 8],
        [`${root}w/copy`, copied, 8],
      ] as const) {
        const info = await storage.stat(uri)
        assert.equal(answer.size, size, uri)
        assert.equal(info?.size, size, uri)
        assert.equal(answer.etag, info?.etag, `${uri}: the write's ETag is the object's`)
      }
      assert.equal(downloaded.size, 8)
      assert.equal(downloaded.etag, uploaded.etag, "a download reports the ETag it checked")
    })

    it("reports transfer progress that adds up to the size", async () => {
      const local = join(scratch, "progress.bin")
      const bytes = randomBytes(6 * 1024 * 1024 + 5)
      await writeFile(local, bytes)
      let up = 0
      await storage.upload(local, `${root}p/file`, { onBytes: (n) => (up += n) })
      let down = 0
      await storage.download(`${root}p/file`, join(scratch, "progress.back"), { onBytes: (n) => (down += n) })
      assert.equal(up, bytes.length)
      assert.equal(down, bytes.length)
    })

    it("deletes many objects at once, idempotently", async () => {
      const names = Array.from({ length: 25 }, (_, i) => `${root}many/f${i}`)
      for (const name of names) await storage.writeBytes(name, name)
      await storage.writeBytes(`${root}many/keep`, "keep")
      await storage.deleteMany([...names, `${root}many/never-there`])
      assert.deepEqual(await uris(storage.list(`${root}many/`)), [`${root}many/keep`])
      await storage.deleteMany(names)
      await storage.deleteMany([])
    })

    it("copies a multipart object keeping its ETag", async () => {
      const local = join(scratch, "parts.bin")
      await writeFile(local, randomBytes(20 * 1024 * 1024 + 3))
      const uploaded = await storage.upload(local, `${root}mp/source`)
      const copied = await storage.copy(`${root}mp/source`, `${root}mp/copy`)
      assert.equal(copied.etag, uploaded.etag)
      assert.equal((await storage.stat(`${root}mp/copy`))?.etag, (await storage.stat(`${root}mp/source`))?.etag)
    })

    it("raises FILE_NOT_FOUND for a missing object", async () => {
      const missing = `${root}missing/key`
      await rejectsWith(storage.readBytes(missing), "FILE_NOT_FOUND", missing)
      await rejectsWith(storage.createReadStream(missing), "FILE_NOT_FOUND", missing)
      await rejectsWith(storage.download(missing, join(scratch, "out")), "FILE_NOT_FOUND", missing)
      await rejectsWith(storage.copy(missing, `${root}elsewhere`), "FILE_NOT_FOUND", missing)
      await rejectsWith(storage.upload(join(scratch, "no-such-local"), `${root}up`), "FILE_NOT_FOUND")
      await rejectsWith(storage.copy(missing, `${root}elsewhere`, { onBytes: () => undefined }), "FILE_NOT_FOUND", missing)
    })

    it("raises STORAGE_ERROR naming the URI when the container does not exist", async (t) => {
      const missing = fixture.missingContainer
      if (missing === undefined) return t.skip("this storage has no containers")
      await rejectsWith(storage.writeBytes(missing, "x"), "STORAGE_ERROR", missing)
      await rejectsWith(storage.readBytes(missing), "STORAGE_ERROR", missing)
      assert.equal(await storage.stat(missing), undefined)
    })
  })
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8")
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks).toString("utf8")
}

async function uris(entries: AsyncIterable<{ uri: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const entry of entries) out.push(entry.uri)
  return out
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256")
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

/** Asserts a rejection with a ReductioError code whose message names `uri`. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, uri?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isReductioError(error, code), `expected ${code}, got ${String((error as Error)?.stack ?? error)}`)
    if (uri !== undefined) assert.equal((error as { details?: { uri?: string } }).details?.uri, uri)
    return true
  })
}
