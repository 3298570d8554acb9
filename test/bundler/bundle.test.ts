import assert from "node:assert/strict"
import { cp, readFile, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { before, describe, it } from "node:test"
import { extract } from "tar-stream"
import { BUNDLE_MANIFEST, bundle } from "../../bundler/bundle.js"
import { isReductioError } from "../../runtime/errors.js"
import { sha256 } from "../../runtime/hashing.js"
import { PROTOCOL_VERSION, scratch } from "../../runtime/protocol.js"
import { tempDir } from "../agent/agent-harness.js"

const fixtureDir = new URL("../fixtures/agent/", import.meta.url).pathname

/** Copies the fixture workflow into a fresh project directory (so a test may edit it). */
async function project(): Promise<string> {
  const dir = await tempDir("reductio-bundle-")
  await cp(fixtureDir, dir, { recursive: true })
  await writeFile(join(dir, "package.json"), '{ "name": "fixture", "type": "module" }\n')
  return dir
}

async function tarHeaders(tarGz: Uint8Array) {
  const headers = []
  const entries = extract()
  entries.end(gunzipSync(tarGz))
  for await (const entry of entries) {
    headers.push(entry.header)
    entry.resume()
  }
  return headers
}

describe("bundle", () => {
  let dir: string
  before(async () => {
    dir = await project()
  })

  it("gives the same bytes and hash for the same source, from another checkout too", async () => {
    const first = await bundle(join(dir, "workflow.ts"))
    const second = await bundle(join(dir, "workflow.ts"))
    const elsewhere = await project()
    const third = await bundle(join(elsewhere, "workflow.ts"))
    assert.equal(first.sha256, second.sha256)
    assert.deepEqual(first.bytes, second.bytes)
    assert.equal(first.sha256, third.sha256)
  })

  it("is named by the sha256 of its uncompressed tar, not of the gzip bytes (which differ between zlib builds)", async () => {
    const built = await bundle(join(dir, "workflow.ts"))
    assert.equal(built.sha256, sha256(gunzipSync(built.bytes)))
    assert.notEqual(built.sha256, sha256(built.bytes))
  })

  it("gives a new hash after an edit", async () => {
    const edited = await project()
    const before = await bundle(join(edited, "workflow.ts"))
    await writeFile(join(edited, "helper.ts"), "export function greeting(name: string): string {\n  return `hi, ${name}`\n}\n")
    const after = await bundle(join(edited, "workflow.ts"))
    assert.notEqual(before.sha256, after.sha256)
  })

  it("writes a reproducible archive: sorted entries, zero mtimes, root owner, fixed modes and gzip header", async () => {
    const built = await bundle(join(dir, "workflow.ts"))
    assert.equal(built.bytes[3], 0, "no file name or other gzip flags")
    assert.deepEqual([...built.bytes.subarray(4, 8)], [0, 0, 0, 0], "gzip mtime 0")
    assert.equal(built.bytes[9], 3, "gzip OS byte: Unix")
    const headers = await tarHeaders(built.bytes)
    assert.deepEqual(
      headers.map((h) => h.name),
      [BUNDLE_MANIFEST, "workflow.mjs", "workflow.mjs.map"],
    )
    for (const header of headers) {
      assert.equal(header.mtime?.getTime(), 0)
      assert.equal(header.uid, 0)
      assert.equal(header.gid, 0)
      assert.equal(header.mode, 0o644)
    }
    assert.deepEqual(
      built.files.map((f) => f.path),
      headers.map((h) => h.name),
    )
    assert.deepEqual(built.inputs, ["helper.ts", "workflow.ts"])
    assert.deepEqual(built.manifest, { format: 1, entry: "workflow.mjs", protocol: PROTOCOL_VERSION, source: "workflow.ts" })
  })

  it("leaves reductio external and bundles the workflow's own imports", async () => {
    const built = await bundle(join(dir, "workflow.ts"))
    const code = await codeOf(built.bytes)
    assert.match(code, /from "reductio-workflow"/)
    assert.match(code, /function greeting/)
  })

  it("uploads to <scratch>/code/<sha256>.tar.gz only when absent", async () => {
    const root = await tempDir("reductio-scratch-")
    const first = await bundle(join(dir, "workflow.ts"), { scratch: root })
    assert.equal(first.uploaded, true)
    assert.equal(first.uri, scratch.code(root, first.sha256))
    const mtime = (await stat(first.uri as string)).mtimeMs
    const second = await bundle(join(dir, "workflow.ts"), { scratch: root })
    assert.equal(second.uploaded, false)
    assert.equal((await stat(first.uri as string)).mtimeMs, mtime)
    assert.deepEqual(new Uint8Array(await readFile(first.uri as string)), first.bytes)
  })

  it("fails with WORKFLOW_NOT_FOUND and WORKFLOW_LOAD_FAILED", async () => {
    await assert.rejects(bundle(join(dir, "missing.ts")), (error) => isReductioError(error, "WORKFLOW_NOT_FOUND"))
    await writeFile(join(dir, "broken.ts"), 'import { nothing } from "./does-not-exist.js"\nexport const x = nothing\n')
    await assert.rejects(bundle(join(dir, "broken.ts")), (error) => isReductioError(error, "WORKFLOW_LOAD_FAILED"))
  })
})

async function codeOf(tarGz: Uint8Array): Promise<string> {
  const entries = extract()
  entries.end(gunzipSync(tarGz))
  let code = ""
  for await (const entry of entries) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk as Buffer)
    if (entry.header.name === "workflow.mjs") code = Buffer.concat(chunks).toString("utf8")
  }
  return code
}
