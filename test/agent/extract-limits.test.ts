import assert from "node:assert/strict"
import { readdir, rm, stat } from "node:fs/promises"
import { join } from "node:path"
import { describe, it } from "node:test"
import { gzipSync } from "node:zlib"
import { DEFAULT_ARCHIVE_LIMITS, extractSafely } from "../../agent/extract.js"
import { isReductioError } from "../../runtime/errors.js"
import { tempDir } from "./agent-harness.js"
import { manyFiles, tarGz, tarOf, zeroBomb } from "./archive-fixtures.js"

const MIB = 1024 * 1024

/** The total size of the files under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir, { recursive: true })) {
    const stats = await stat(join(dir, name))
    if (stats.isFile()) total += stats.size
  }
  return total
}

describe("extractSafely's limits", () => {
  it("defaults to 256 MiB in all, 10,000 entries and 128 MiB a file", () => {
    assert.deepEqual({ ...DEFAULT_ARCHIVE_LIMITS }, { maxBytes: 256 * MIB, maxEntries: 10_000, maxEntryBytes: 128 * MIB })
  })

  it("refuses a file over the per-entry limit before writing any of it (ARCHIVE_TOO_LARGE)", async () => {
    const dir = await tempDir()
    const bomb = zeroBomb(1, 1024 * MIB)
    assert.ok(bomb.length < 1.2 * MIB, `the bomb is ${bomb.length} bytes`)
    await assert.rejects(extractSafely(bomb, dir), (error) => isReductioError(error, "ARCHIVE_TOO_LARGE"))
    assert.deepEqual(await readdir(dir), [])
  })

  it("stops a 1 MiB bundle that expands to 1 GiB at the byte limit, streaming with flat memory", async () => {
    const dir = await tempDir()
    const bomb = zeroBomb(1, 1024 * MIB)
    const before = process.memoryUsage().rss
    let peak = before
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 5)
    try {
      await assert.rejects(extractSafely(bomb, dir, { maxBytes: 64 * MIB, maxEntries: 10, maxEntryBytes: 2048 * MIB }), (error) =>
        isReductioError(error, "ARCHIVE_TOO_LARGE"),
      )
    } finally {
      clearInterval(sampler)
    }
    const written = await bytesUnder(dir)
    await rm(dir, { recursive: true, force: true })
    assert.ok(written <= 64 * MIB, `${written} bytes on disk`)
    assert.ok(peak - before < 160 * MIB, `RSS grew by ${Math.round((peak - before) / MIB)} MiB`)
  })

  it("refuses more entries than the limit", async () => {
    const dir = await tempDir()
    await assert.rejects(extractSafely(await manyFiles(6), dir, { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 5 }), (error) =>
      isReductioError(error, "ARCHIVE_TOO_LARGE"),
    )
  })

  it("refuses a compressed bundle over the byte limit without reading it", async () => {
    const dir = await tempDir()
    const bytes = await tarGz([{ name: "a.txt", body: "a".repeat(1000) }])
    await assert.rejects(extractSafely(bytes, dir, { ...DEFAULT_ARCHIVE_LIMITS, maxBytes: bytes.length - 1 }), (error) =>
      isReductioError(error, "ARCHIVE_TOO_LARGE"),
    )
    assert.deepEqual(await readdir(dir), [])
  })

  it("extracts a bundle at its limits", async () => {
    const dir = await tempDir()
    const tar = await tarOf([{ name: "a.txt", body: "a".repeat(1000) }])
    await extractSafely(gzipSync(tar), dir, { maxBytes: tar.length, maxEntries: 1, maxEntryBytes: 1000 })
    assert.equal((await stat(join(dir, "a.txt"))).size, 1000)
  })
})

describe("extractSafely on truncated archives", () => {
  it("refuses a tar cut inside an entry, in a valid gzip stream (UNSAFE_ARCHIVE)", async () => {
    const tar = await tarOf([{ name: "a.txt", body: "a".repeat(2000) }])
    await assert.rejects(extractSafely(gzipSync(tar.subarray(0, 512 + 700)), await tempDir()), (error) =>
      isReductioError(error, "UNSAFE_ARCHIVE"),
    )
  })

  it("refuses a tar cut between entries, without its end-of-archive blocks", async () => {
    const tar = await tarOf([
      { name: "a.txt", body: "a" },
      { name: "b.txt", body: "b" },
    ])
    await assert.rejects(extractSafely(gzipSync(tar.subarray(0, 1024)), await tempDir()), (error) =>
      isReductioError(error, "UNSAFE_ARCHIVE"),
    )
    await assert.rejects(extractSafely(gzipSync(tar.subarray(0, tar.length - 1024)), await tempDir()), (error) =>
      isReductioError(error, "UNSAFE_ARCHIVE"),
    )
  })

  it("refuses a gzip stream cut short", async () => {
    const bytes = await tarGz([{ name: "a.txt", body: "a".repeat(5000) }])
    await assert.rejects(extractSafely(bytes.subarray(0, bytes.length - 10), await tempDir()), (error) =>
      isReductioError(error, "UNSAFE_ARCHIVE"),
    )
  })

  it("refuses an empty gzip stream", async () => {
    await assert.rejects(extractSafely(gzipSync(Buffer.alloc(0)), await tempDir()), (error) => isReductioError(error, "UNSAFE_ARCHIVE"))
  })
})
