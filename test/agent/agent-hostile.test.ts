// The agent against hostile inputs, run as the image runs it: every case ends with exit 2 and a
// coded message (with an error record when the entry could be read), and nothing outside the
// scratch and work directories.
import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { before, describe, it } from "node:test"
import { gzipSync } from "node:zlib"
import { bundle } from "../../bundler/bundle.js"
import { packTarGz } from "../../bundler/tarball.js"
import { decode, encode } from "../../runtime/codec.js"
import type { ErrorRecord } from "../../runtime/errors.js"
import { AGENT_EXIT, PROTOCOL_VERSION, scratch } from "../../runtime/protocol.js"
import { builtAgent, entryFor, fixtureWorkflow, hashOf, runBuiltAgent, tempDir, writeBundle, writeJobInput } from "./agent-harness.js"
import { type Item, manyFiles, tarGz, tarOf, zeroBomb } from "./archive-fixtures.js"

/** A sandbox holding a scratch root and a work directory, and nothing else. */
async function sandbox(): Promise<{ dir: string; root: string; work: string }> {
  const dir = await tempDir("reductio-hostile-")
  const root = join(dir, "scratch")
  const work = join(dir, "work")
  await mkdir(root)
  return { dir, root, work }
}

/** Writes `value` (any encodable value, not necessarily an entry) as a job input and returns its path. */
async function writeRawInput(root: string, value: unknown, bytes?: Uint8Array): Promise<string> {
  const path = join(root, "jobs", hashOf(JSON.stringify(value) ?? "raw"), "input")
  await mkdir(join(path, ".."), { recursive: true })
  await writeFile(path, bytes ?? encode(value))
  return path
}

const text = (value: string) => new TextEncoder().encode(value)

describe("the agent on hostile job entries and arguments", () => {
  let code: string

  before(async () => {
    await builtAgent()
    code = (await bundle(fixtureWorkflow, { scratch: (await sandbox()).root })).uri as string
  })

  /** Runs the agent on a raw input in a fresh sandbox; returns the run and the sandbox's top level. */
  async function runOn(value: unknown, extra: string[] = [], bytes?: Uint8Array) {
    const box = await sandbox()
    const input = await writeRawInput(box.root, value, bytes)
    const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", box.root, "--workdir", box.work, ...extra])
    return { run, box, top: (await readdir(box.dir)).sort() }
  }

  const entry = (fields: Record<string, unknown>) => ({ ...entryFor("hostile", "fixture.add", [1, 2]), ...fields })

  for (const evalHash of ["../../x", "../../../tmp/reductio-hostile-x", "A".repeat(64), "a".repeat(63), 42]) {
    it(`refuses evalHash ${JSON.stringify(evalHash)} with INVALID_JOB_ENTRY and writes no output or log anywhere`, async () => {
      const { run, box, top } = await runOn(entry({ evalHash }))
      assert.equal(run.code, AGENT_EXIT.infrastructure)
      assert.match(run.stderr, /\[INVALID_JOB_ENTRY\]/)
      assert.deepEqual(top, ["scratch"])
      if (typeof evalHash === "string") assert.equal(existsSync(resolve(box.root, "jobs", evalHash)), false)
    })
  }

  const malformed: [string, unknown][] = [
    ["a null entry", null],
    ["a number for an entry", 7],
    ["a string for an entry", "entry"],
    ["an entry whose args are a string", entry({ args: "1,2" })],
    ["an entry whose args are an object", entry({ args: { 0: 1, 1: 2 } })],
    ["an entry whose options are null", entry({ options: null })],
    ["an entry without a task name", entry({ task: 12 })],
    ["a Map for an entry", new Map([["protocol", PROTOCOL_VERSION]])],
  ]
  for (const [what, value] of malformed) {
    it(`refuses ${what} with INVALID_JOB_ENTRY`, async () => {
      const { run, top } = await runOn(value)
      assert.equal(run.code, AGENT_EXIT.infrastructure)
      assert.match(run.stderr, /\[INVALID_JOB_ENTRY\]/)
      assert.deepEqual(top, ["scratch"])
    })
  }

  it("refuses a null element of an array input", async () => {
    const { run } = await runOn([entry({}), null], ["--index", "1"])
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[INVALID_JOB_ENTRY\]/)
  })

  for (const index of ["2", "-1", "1.5", "1e3", "abc", "0x1", "1234567890", " 1"]) {
    it(`refuses the array index ${JSON.stringify(index)} with INVALID_ARGUMENT`, async () => {
      const { run } = await runOn([entry({}), entry({ evalHash: hashOf("second") })], ["--index", index])
      assert.equal(run.code, AGENT_EXIT.infrastructure)
      assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
    })
  }

  it("refuses an array index from the environment that is not an integer", async () => {
    const box = await sandbox()
    const input = await writeRawInput(box.root, [entry({})])
    const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", box.root, "--workdir", box.work], {
      AWS_BATCH_JOB_ARRAY_INDEX: "0; rm -rf /",
    })
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
  })

  it("refuses input bytes that are not an encoding with UNDECODABLE_VALUE", async () => {
    const { run } = await runOn("garbage", [], new Uint8Array([0xff, 0x00, 0x13, 0x37]))
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[UNDECODABLE_VALUE\]/)
  })

  const badFlags: [string, string[]][] = [
    ["a flag given twice", ["--index", "0", "--index", "1"]],
    ["an empty value", ["--workdir="]],
    ["a flag as the value of another", ["--workdir", "--index"]],
    ["an unknown flag", ["--eval", "x"]],
    ["a byte limit of 0", ["--max-bundle-bytes", "0"]],
    ["a negative entry limit", ["--max-bundle-entries=-5"]],
    ["a limit that is not a number", ["--max-entry-bytes", "lots"]],
  ]
  for (const [what, flags] of badFlags) {
    it(`refuses ${what} with INVALID_ARGUMENT`, async () => {
      const { run } = await runOn(entry({}), flags)
      assert.equal(run.code, AGENT_EXIT.infrastructure)
      assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
    })
  }

  it("refuses a bad limit from the environment", async () => {
    const box = await sandbox()
    const input = await writeJobInput(box.root, entryFor("env-limit", "fixture.add", [1, 2]))
    const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", box.root, "--workdir", box.work], {
      REDUCTIO_MAX_BUNDLE_BYTES: "1MiB",
    })
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
  })
})

describe("the agent on hostile bundles", () => {
  before(() => builtAgent())

  /**
   * Runs fixture.add from `bundleBytes` in a fresh sandbox: exit 2, an error record with the
   * expected code, and nothing outside the scratch root and an empty work directory.
   */
  async function refusesBundle(bundleBytes: Uint8Array, code: string, extra: string[] = [], env: Record<string, string> = {}) {
    const box = await sandbox()
    const codeUri = await writeBundle(box.root, bundleBytes)
    const job = entryFor(`bundle-${code}`, "fixture.add", [1, 2])
    const input = await writeJobInput(box.root, job)
    const run = await runBuiltAgent(["--code", codeUri, "--input", input, "--scratch", box.root, "--workdir", box.work, ...extra], env)
    assert.equal(run.code, AGENT_EXIT.infrastructure, run.stderr)
    const record = decode(await readFile(scratch.error(box.root, job.evalHash))) as ErrorRecord
    assert.equal(record.code, code, record.message)
    assert.deepEqual((await readdir(box.dir)).sort(), ["scratch", "work"])
    assert.deepEqual(await readdir(box.work), [], "no staging directory is left behind")
    assert.equal(existsSync(scratch.output(box.root, job.evalHash)), false)
  }

  const workflow: Item = {
    name: "workflow.mjs",
    body: 'import { task } from "reductio-workflow"\nexport const add = task("fixture.add", (a, b) => a + b)\n',
  }

  it("refuses a truncated tar inside a valid gzip stream (UNSAFE_ARCHIVE)", async () => {
    const tar = await tarOf([workflow, { name: "more.txt", body: "x".repeat(4000) }])
    await refusesBundle(gzipSync(tar.subarray(0, tar.length - 3000)), "UNSAFE_ARCHIVE")
    await refusesBundle(gzipSync(tar.subarray(0, tar.length - 1024)), "UNSAFE_ARCHIVE")
  })

  it("refuses chained links that would carry the kernel shim outside (UNSAFE_ARCHIVE)", async () => {
    await refusesBundle(
      await tarGz([
        workflow,
        { name: "l0", type: "symlink", linkname: "." },
        { name: "l1", type: "symlink", linkname: "l0/.." },
        { name: "node_modules", type: "symlink", linkname: "l1" },
      ]),
      "UNSAFE_ARCHIVE",
    )
  })

  it("refuses a bundle that brings its own reductio", async () => {
    await refusesBundle(
      await tarGz([workflow, { name: "node_modules/reductio-workflow/index.js", body: "export const task = () => 0" }]),
      "UNSAFE_ARCHIVE",
    )
    await refusesBundle(await tarGz([workflow, { name: "node_modules", body: "not a directory" }]), "UNSAFE_ARCHIVE")
  })

  it("refuses a bundle that brings the agent's seal file", async () => {
    await refusesBundle(await tarGz([workflow, { name: ".reductio-seal.json", body: "{}" }]), "UNSAFE_ARCHIVE")
  })

  it("refuses a manifest whose entry leaves the bundle, or that is not JSON", async () => {
    await refusesBundle(await packTarGz([{ path: "reductio-bundle.json", bytes: text('{"entry":"../../x.mjs"}') }]), "UNSAFE_ARCHIVE")
    await refusesBundle(await packTarGz([{ path: "reductio-bundle.json", bytes: text("{not json") }]), "UNSAFE_ARCHIVE")
  })

  it("refuses a 1 MiB bundle holding a 1 GiB file (ARCHIVE_TOO_LARGE) before writing it", async () => {
    await refusesBundle(zeroBomb(1, 1024 * 1024 * 1024), "ARCHIVE_TOO_LARGE")
  })

  it("refuses more than 10,000 entries by default", async () => {
    await refusesBundle(await manyFiles(10_001), "ARCHIVE_TOO_LARGE")
  })

  it("takes its limits from flags and environment variables", async () => {
    const ordinary = await tarGz([workflow, { name: "a.txt", body: "a" }, { name: "b.txt", body: "b".repeat(5000) }])
    await refusesBundle(ordinary, "ARCHIVE_TOO_LARGE", ["--max-bundle-entries", "2"])
    await refusesBundle(ordinary, "ARCHIVE_TOO_LARGE", ["--max-entry-bytes=4096"])
    await refusesBundle(ordinary, "ARCHIVE_TOO_LARGE", [], { REDUCTIO_MAX_BUNDLE_BYTES: "100" })
    await refusesBundle(ordinary, "ARCHIVE_TOO_LARGE", [], { REDUCTIO_MAX_BUNDLE_ENTRIES: "1" })
  })
})
