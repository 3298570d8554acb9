import assert from "node:assert/strict"
import { mkdir, readFile, readdir, readlink } from "node:fs/promises"
import { join } from "node:path"
import { describe, it } from "node:test"
import { type ArchiveLimits, extractSafely } from "../../agent/extract.js"
import { isReductioError } from "../../runtime/errors.js"
import { tempDir } from "./agent-harness.js"
import { type Item, tarGz } from "./archive-fixtures.js"

/** Extracts into `<sandbox>/out` and returns the error and what the sandbox holds afterwards. */
async function attempt(items: readonly Item[], limits?: ArchiveLimits): Promise<{ error: unknown; sandbox: string[]; out: string }> {
  const sandbox = await tempDir("reductio-extract-")
  const out = join(sandbox, "out", "deep")
  await mkdir(out, { recursive: true })
  let error: unknown
  try {
    await extractSafely(await tarGz(items), out, limits)
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
    [
      "chained links whose lexical targets stay inside (l0 -> ., l1 -> l0/.., x -> ../l1/..)",
      [
        { name: "l0", type: "symlink", linkname: "." },
        { name: "l1", type: "symlink", linkname: "l0/.." },
        { name: "d/x", type: "symlink", linkname: "../l1/.." },
        { name: "node_modules", type: "symlink", linkname: "l1" },
        { name: "node_modules/reductio-workflow/index.js", body: "owned" },
      ],
    ],
    [
      "a symlink to a directory inside",
      [
        { name: "d", type: "directory", mode: 0o755 },
        { name: "link", type: "symlink", linkname: "d" },
      ],
    ],
    ["a symlink to the archive root", [{ name: "sub/link", type: "symlink", linkname: ".." }]],
    [
      "a symlink through a link to a file",
      [
        { name: "f", body: "x" },
        { name: "lf", type: "symlink", linkname: "f" },
        { name: "x", type: "symlink", linkname: "lf/../f" },
      ],
    ],
    ["a symlink to a path that comes later (or never)", [{ name: "early", type: "symlink", linkname: "late.txt" }, { name: "late.txt" }]],
    [
      "a symlink with a backslash in its target",
      [
        { name: "f", body: "x" },
        { name: "l", type: "symlink", linkname: "..\\f" },
      ],
    ],
    ["a hard link to a file that comes later", [{ name: "hard", type: "link", linkname: "later.txt" }, { name: "later.txt" }]],
    [
      "a hard link to a symlink",
      [
        { name: "f", body: "x" },
        { name: "l", type: "symlink", linkname: "f" },
        { name: "h", type: "link", linkname: "l" },
      ],
    ],
    [
      "a hard link to a directory",
      [
        { name: "d", type: "directory", mode: 0o755 },
        { name: "h", type: "link", linkname: "d" },
      ],
    ],
    [
      "a file under a file",
      [
        { name: "a", body: "1" },
        { name: "a/b", body: "2" },
      ],
    ],
    [
      "a directory over a file",
      [
        { name: "a", body: "1" },
        { name: "a", type: "directory", mode: 0o755 },
      ],
    ],
    ["a pax long name with ..", [{ name: `${"long/".repeat(40)}${"../".repeat(42)}escape.txt`, body: "x" }]],
    ["a name longer than 4096 bytes", [{ name: "n/".repeat(2100), body: "x" }]],
    ["a name part longer than 255 bytes", [{ name: "p".repeat(300), body: "x" }]],
    ["a fifo", [{ name: "pipe", type: "fifo" }]],
    ["a block device", [{ name: "disk", type: "block-device", devmajor: 8, devminor: 0 }]],
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

  it("returns the tree it wrote: what each path is", async () => {
    const dir = await tempDir()
    const tree = await extractSafely(
      await tarGz([
        { name: "d/f.txt", body: "x" },
        { name: "d/l", type: "symlink", linkname: "f.txt" },
      ]),
      dir,
    )
    assert.deepEqual([...tree].sort(), [
      ["d", "dir"],
      ["d/f.txt", "file"],
      ["d/l", "symlink"],
    ])
  })

  it("allows a hard link to a file that came before it", async () => {
    const { error, out } = await attempt([
      { name: "a.txt", body: "same" },
      { name: "sub/b.txt", type: "link", linkname: "a.txt" },
    ])
    assert.equal(error, undefined)
    assert.equal(await readFile(join(out, "sub/b.txt"), "utf8"), "same")
  })

  it("refuses bytes that are not gzip", async () => {
    const dir = await tempDir()
    await assert.rejects(extractSafely(new TextEncoder().encode("not gzip"), dir), (error) => isReductioError(error, "UNSAFE_ARCHIVE"))
  })
})
