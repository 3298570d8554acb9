import assert from "node:assert/strict"
import { mkdir, readFile, readdir, readlink } from "node:fs/promises"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { describe, it } from "node:test"
import { type Header, pack } from "tar-stream"
import { extractSafely } from "../../agent/extract.js"
import { isReductioError } from "../../runtime/errors.js"
import { tempDir } from "./agent-harness.js"

interface Item {
  readonly name: string
  readonly type?: Header["type"]
  readonly linkname?: string
  readonly mode?: number
  readonly devmajor?: number
  readonly devminor?: number
  readonly body?: string
}

async function tarGz(items: readonly Item[]): Promise<Uint8Array> {
  const archive = pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const chunk of archive) chunks.push(chunk as Buffer)
  })()
  for (const { body, ...header } of items) {
    await new Promise<void>((resolve, reject) =>
      archive.entry({ ...header, mode: header.mode ?? 0o644 }, body ?? "", (error) => (error ? reject(error) : resolve())),
    )
  }
  archive.finalize()
  await done
  return gzipSync(Buffer.concat(chunks))
}

/** Extracts into `<sandbox>/out` and returns the error and what the sandbox holds afterwards. */
async function attempt(items: readonly Item[]): Promise<{ error: unknown; sandbox: string[]; out: string }> {
  const sandbox = await tempDir("reductio-extract-")
  const out = join(sandbox, "out", "deep")
  await mkdir(out, { recursive: true })
  let error: unknown
  try {
    await extractSafely(await tarGz(items), out)
  } catch (thrown) {
    error = thrown
  }
  return { error, sandbox: (await readdir(sandbox, { recursive: true })).sort(), out }
}

describe("extractSafely", () => {
  it("extracts files and directories", async () => {
    const { error, out } = await attempt([
      { name: "dir", type: "directory", mode: 0o755 },
      { name: "dir/a.txt", body: "a" },
      { name: "b.mjs", body: "export {}" },
    ])
    assert.equal(error, undefined)
    assert.equal(await readFile(join(out, "dir/a.txt"), "utf8"), "a")
  })

  it("allows a symlink that stays inside", async () => {
    const { error, out } = await attempt([
      { name: "real.txt", body: "x" },
      { name: "alias.txt", type: "symlink", linkname: "real.txt" },
    ])
    assert.equal(error, undefined)
    assert.equal(await readlink(join(out, "alias.txt")), "real.txt")
  })

  const refused: [string, Item[]][] = [
    ["a path with ..", [{ name: "../escape.txt", body: "x" }]],
    ["a nested path with ..", [{ name: "ok/../../escape.txt", body: "x" }]],
    ["an absolute path", [{ name: "/tmp/reductio-escape.txt", body: "x" }]],
    ["a symlink to an absolute path", [{ name: "link", type: "symlink", linkname: "/etc" }]],
    ["a symlink that leaves the directory", [{ name: "sub/link", type: "symlink", linkname: "../../.." }]],
    [
      "a file written through a symlink",
      [
        { name: "sub", type: "directory", mode: 0o755 },
        { name: "up", type: "symlink", linkname: "sub" },
        { name: "up/file.txt", body: "x" },
      ],
    ],
    [
      "a chain of links that would leave the directory",
      [
        { name: "d", type: "directory", mode: 0o755 },
        { name: "d/x", type: "symlink", linkname: ".." },
        { name: "d/x/y", type: "symlink", linkname: "../.." },
      ],
    ],
    ["a hard link that leaves the directory", [{ name: "hard", type: "link", linkname: "../../etc/passwd" }]],
    ["a device file", [{ name: "dev", type: "character-device", devmajor: 1, devminor: 3 }]],
    [
      "a duplicate entry replacing a file",
      [
        { name: "a.txt", body: "1" },
        { name: "a.txt", body: "2" },
      ],
    ],
  ]
  for (const [what, items] of refused) {
    it(`refuses ${what} with UNSAFE_ARCHIVE and writes nothing outside`, async () => {
      const { error, sandbox } = await attempt(items)
      assert.ok(isReductioError(error, "UNSAFE_ARCHIVE"), `expected UNSAFE_ARCHIVE, got ${String(error)}`)
      assert.ok(
        sandbox.every((path) => path === "out" || path.startsWith("out/deep")),
        `written outside: ${sandbox.join(", ")}`,
      )
    })
  }

  it("refuses bytes that are not gzip", async () => {
    const dir = await tempDir()
    await assert.rejects(extractSafely(new TextEncoder().encode("not gzip"), dir), (error) => isReductioError(error, "UNSAFE_ARCHIVE"))
  })
})
