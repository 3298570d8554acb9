import assert from "node:assert/strict"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, sep } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { LocalStorage } from "../../../runtime/storage/local-storage.js"
import { storageConformance } from "./storage-conformance.js"

storageConformance("LocalStorage", async () => {
  const root = await mkdtemp(join(tmpdir(), "reductio-local-storage-"))
  return {
    storage: new LocalStorage(),
    root: root + sep,
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})

describe("LocalStorage names that are not UTF-8", {
  skip: process.platform !== "linux" && "needs a file system that takes any bytes",
}, () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "reductio-local-names-"))
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it("lists a file whose name is Latin-1 bytes by a percent-encoded path, and reads it by that path", async () => {
    const bytes = Buffer.concat([Buffer.from(`${root}/caf`), Buffer.of(0xe9), Buffer.from(".txt")])
    await writeFile(bytes, "latin-1 name")
    await writeFile(join(root, "plain.txt"), "plain")
    const storage = new LocalStorage()
    const listed = []
    for await (const entry of storage.list(`${root}/`)) listed.push(entry.uri)
    assert.deepEqual(listed, [join(root, "caf%E9.txt"), join(root, "plain.txt")])
    assert.equal(Buffer.from(await storage.readBytes(join(root, "caf%E9.txt"))).toString(), "latin-1 name")
    assert.equal((await storage.stat(join(root, "caf%E9.txt")))?.size, 12)
    await storage.copy(join(root, "caf%E9.txt"), join(root, "sub", "b%FF"))
    assert.equal((await readFile(Buffer.concat([Buffer.from(`${root}/sub/b`), Buffer.of(0xff)]))).toString(), "latin-1 name")
  })

  it("keeps a literal name that looks like an escape apart from the bytes it would stand for", async () => {
    await writeFile(join(root, "caf%E9.txt"), "literal")
    await writeFile(Buffer.concat([Buffer.from(`${root}/caf`), Buffer.of(0xe9), Buffer.from(".txt")]), "bytes")
    const storage = new LocalStorage()
    const listed = []
    for await (const entry of storage.list(`${root}/`)) listed.push(entry.uri)
    assert.deepEqual(listed, [join(root, "caf%25E9.txt"), join(root, "caf%E9.txt")])
    assert.equal(Buffer.from(await storage.readBytes(join(root, "caf%25E9.txt"))).toString(), "literal")
    assert.equal(Buffer.from(await storage.readBytes(join(root, "caf%E9.txt"))).toString(), "bytes")
  })

  it("reads a literal name spelt like an escape when no file has the bytes it stands for", async () => {
    await writeFile(join(root, "100%FF.txt"), "literal")
    assert.equal(Buffer.from(await new LocalStorage().readBytes(join(root, "100%FF.txt"))).toString(), "literal")
  })
})
