import assert from "node:assert/strict"
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { before, describe, it } from "node:test"
import { bundle } from "../../bundler/bundle.js"
import { packTarGz } from "../../bundler/tarball.js"
import { decode, encode } from "../../runtime/codec.js"
import { type ErrorRecord, fromErrorRecord, isReductioError } from "../../runtime/errors.js"
import { AGENT_EXIT, ARRAY_SLOT_BYTES, encodeArrayInput, encodeEntries, scratch } from "../../runtime/protocol.js"
import { builtAgent, bundleName, entryFor, fixtureWorkflow, hashOf, runBuiltAgent, tempDir, writeJobInput } from "./agent-harness.js"

describe("the agent, run as the image runs it", () => {
  let root: string
  let code: string
  let workdir: string

  before(async () => {
    await builtAgent()
    root = await tempDir("reductio-scratch-")
    workdir = await tempDir("reductio-work-")
    const built = await bundle(fixtureWorkflow, { scratch: root })
    code = built.uri as string
  })

  const flags = (input: string, ...more: string[]) => ["--code", code, "--input", input, "--scratch", root, "--workdir", workdir, ...more]

  it("runs a task from a bundle that imports reductio and writes its output and log", async () => {
    const input = await writeJobInput(root, entryFor("e-greet", "fixture.greet", ["ada"]))
    const run = await runBuiltAgent(flags(input))
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    const output = decode(await readFile(scratch.output(root, hashOf("e-greet")))) as { text: string; at: Map<string, string> }
    assert.equal(output.text, "hello, ada")
    assert.deepEqual([...output.at], [["name", "ada"]])
    assert.match(await readFile(scratch.log(root, hashOf("e-greet")), "utf8"), /greeting ada/)
  })

  it("marks the process as the agent while the bundle loads", async () => {
    const input = await writeJobInput(root, entryFor("e-mode", "fixture.mode", []))
    assert.equal((await runBuiltAgent(flags(input))).code, AGENT_EXIT.done)
    assert.equal(decode(await readFile(scratch.output(root, hashOf("e-mode")))), "agent")
  })

  it("writes the error record with the remote stack and exits 1 when the task throws", async () => {
    const input = await writeJobInput(root, entryFor("e-fail", "fixture.fail", ["boom"]))
    const run = await runBuiltAgent(flags(input))
    assert.equal(run.code, AGENT_EXIT.taskFailed)
    const record = decode(await readFile(scratch.error(root, hashOf("e-fail")))) as ErrorRecord
    assert.equal(record.message, "boom")
    assert.match(record.stack ?? "", /workflow\.ts:\d+:\d+/, "the stack is mapped to the TypeScript source")
    const rebuilt = fromErrorRecord(record)
    assert.equal(rebuilt.stack, record.stack)
  })

  it("keeps the code of a ReductioError thrown with the bundle's reductio (one kernel)", async () => {
    const input = await writeJobInput(root, entryFor("e-code", "fixture.failWithCode", ["bad"]))
    assert.equal((await runBuiltAgent(flags(input))).code, AGENT_EXIT.taskFailed)
    const record = decode(await readFile(scratch.error(root, hashOf("e-code")))) as ErrorRecord
    assert.equal(record.code, "INVALID_ARGUMENT")
    assert.ok(isReductioError(fromErrorRecord(record), "INVALID_ARGUMENT"))
  })

  it("records TASK_FAILED and exits 1 when the task's promise can never settle", async () => {
    const input = await writeJobInput(root, entryFor("e-never", "fixture.neverSettles", []))
    const run = await runBuiltAgent(flags(input))
    assert.equal(run.code, AGENT_EXIT.taskFailed, run.stderr)
    const record = decode(await readFile(scratch.error(root, hashOf("e-never")))) as ErrorRecord
    assert.equal(record.code, "TASK_FAILED")
    assert.match(record.message, /never settled/)
  })

  it("skips the task when a valid output already exists", async () => {
    const input = await writeJobInput(root, entryFor("e-skip", "fixture.fail", ["would fail"]))
    await writeFile(scratch.output(root, hashOf("e-skip")), encode(42))
    const run = await runBuiltAgent(flags(input))
    assert.equal(run.code, AGENT_EXIT.done)
    assert.equal(decode(await readFile(scratch.output(root, hashOf("e-skip")))), 42)
  })

  it("runs the task again when the existing output does not decode", async () => {
    const input = await writeJobInput(root, entryFor("e-corrupt", "fixture.add", [1, 2]))
    await writeFile(scratch.output(root, hashOf("e-corrupt")), new Uint8Array([0xff, 0xff, 0x1c]))
    assert.equal((await runBuiltAgent(flags(input))).code, AGENT_EXIT.done)
    assert.equal(decode(await readFile(scratch.output(root, hashOf("e-corrupt")))), 3)
  })

  describe("array inputs of protocol 1 (one encoded list, read whole)", () => {
    let arrayInput: string
    before(async () => {
      arrayInput = scratch.arrayInput(root, hashOf("a1").slice(0, 32))
      await mkdir(join(arrayInput, ".."), { recursive: true })
      await writeFile(arrayInput, encodeEntries([0, 1, 2].map((i) => entryFor(`e-array-${i}`, "fixture.add", [i, 100]))))
    })

    it("picks its entry by AWS_BATCH_JOB_ARRAY_INDEX", async () => {
      assert.equal((await runBuiltAgent(flags(arrayInput), { AWS_BATCH_JOB_ARRAY_INDEX: "2" })).code, AGENT_EXIT.done)
      assert.equal(decode(await readFile(scratch.output(root, hashOf("e-array-2")))), 102)
    })

    it("picks its entry by JOB_COMPLETION_INDEX", async () => {
      assert.equal((await runBuiltAgent(flags(arrayInput), { JOB_COMPLETION_INDEX: "0" })).code, AGENT_EXIT.done)
      assert.equal(decode(await readFile(scratch.output(root, hashOf("e-array-0")))), 100)
    })

    it("prefers --index over the environment", async () => {
      assert.equal((await runBuiltAgent(flags(arrayInput, "--index", "1"), { AWS_BATCH_JOB_ARRAY_INDEX: "2" })).code, AGENT_EXIT.done)
      assert.equal(decode(await readFile(scratch.output(root, hashOf("e-array-1")))), 101)
    })

    it("exits 2 without an index or with one out of range", async () => {
      assert.equal((await runBuiltAgent(flags(arrayInput))).code, AGENT_EXIT.infrastructure)
      assert.equal((await runBuiltAgent(flags(arrayInput, "--index", "7"))).code, AGENT_EXIT.infrastructure)
    })
  })

  describe("indexed array inputs (protocol 2)", () => {
    let arrayInput: string
    before(async () => {
      arrayInput = scratch.arrayInput(root, hashOf("a2").slice(0, 32))
      await mkdir(join(arrayInput, ".."), { recursive: true })
      await writeFile(arrayInput, encodeArrayInput([0, 1, 2].map((i) => entryFor(`e-indexed-${i}`, "fixture.add", [i, 200]))))
    })

    it("picks its entry by its slot", async () => {
      assert.equal((await runBuiltAgent(flags(arrayInput), { AWS_BATCH_JOB_ARRAY_INDEX: "1" })).code, AGENT_EXIT.done)
      assert.equal(decode(await readFile(scratch.output(root, hashOf("e-indexed-1")))), 201)
    })

    it("exits 2 with an index outside the array", async () => {
      const run = await runBuiltAgent(flags(arrayInput, "--index", "3"))
      assert.equal(run.code, AGENT_EXIT.infrastructure)
      assert.match(run.stderr, /no job entry at index 3 \(the array holds 3\)/)
    })

    it("refuses a slot whose offset points into the slot table or whose length runs past the file (INVALID_JOB_ENTRY)", async () => {
      const good = encodeArrayInput([0, 1].map((i) => entryFor(`e-hostile-${i}`, "fixture.add", [i, 1])))
      for (const [name, field, value] of [
        ["inside", 8, 4],
        ["past", 12, 1_000_000],
      ] as const) {
        const bytes = new Uint8Array(good)
        new DataView(bytes.buffer).setUint32(ARRAY_SLOT_BYTES * 2 + field, value)
        const input = scratch.arrayInput(root, hashOf(`hostile-${name}`).slice(0, 32))
        await mkdir(join(input, ".."), { recursive: true })
        await writeFile(input, bytes)
        const run = await runBuiltAgent(flags(input, "--index", "1"))
        assert.equal(run.code, AGENT_EXIT.infrastructure)
        assert.match(run.stderr, /INVALID_JOB_ENTRY/)
      }
    })
  })

  it("refuses an entry of another protocol version with PROTOCOL_MISMATCH", async () => {
    const input = await writeJobInput(root, { ...entryFor("e-proto", "fixture.add", [1, 1]), protocol: 999 })
    const run = await runBuiltAgent(flags(input))
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /PROTOCOL_MISMATCH/)
  })

  it("records TASK_NOT_FOUND for a task the bundle does not register", async () => {
    const input = await writeJobInput(root, entryFor("e-missing", "fixture.nope", []))
    assert.equal((await runBuiltAgent(flags(input))).code, AGENT_EXIT.taskFailed)
    assert.equal((decode(await readFile(scratch.error(root, hashOf("e-missing")))) as ErrorRecord).code, "TASK_NOT_FOUND")
  })

  it("refuses a bundle whose bytes do not match its sha256 name (BUNDLE_TAMPERED)", async () => {
    const original = await readFile(code)
    const tampered = Buffer.from(original)
    tampered[tampered.length - 9] = (tampered[tampered.length - 9] as number) ^ 0xff
    const name = bundleName(original)
    const tamperedRoot = await tempDir("reductio-tampered-")
    const tamperedCode = scratch.code(tamperedRoot, name)
    await mkdir(join(tamperedCode, ".."), { recursive: true })
    await writeFile(tamperedCode, tampered)
    const input = await writeJobInput(tamperedRoot, entryFor("e-tamper", "fixture.add", [1, 1]))
    const freshWork = await tempDir("reductio-work-")
    const run = await runBuiltAgent(["--code", tamperedCode, "--input", input, "--scratch", tamperedRoot, "--workdir", freshWork])
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.equal((decode(await readFile(scratch.error(tamperedRoot, hashOf("e-tamper")))) as ErrorRecord).code, "BUNDLE_TAMPERED")
    assert.deepEqual(await readdir(freshWork).catch(() => []), [])
  })

  it("refuses a malicious archive (UNSAFE_ARCHIVE) and writes nothing outside its directory", async () => {
    const evilRoot = await tempDir("reductio-evil-")
    const bytes = await packTarGz([
      { path: "workflow.mjs", bytes: new TextEncoder().encode("export {}") },
      { path: "../../escaped.txt", bytes: new TextEncoder().encode("owned") },
    ])
    const evilCode = scratch.code(evilRoot, bundleName(bytes))
    await mkdir(join(evilCode, ".."), { recursive: true })
    await writeFile(evilCode, bytes)
    const input = await writeJobInput(evilRoot, entryFor("e-evil", "fixture.add", [1, 1]))
    const work = join(evilRoot, "work")
    const run = await runBuiltAgent(["--code", evilCode, "--input", input, "--scratch", evilRoot, "--workdir", work])
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.equal((decode(await readFile(scratch.error(evilRoot, hashOf("e-evil")))) as ErrorRecord).code, "UNSAFE_ARCHIVE")
    assert.deepEqual((await readdir(evilRoot)).sort(), ["code", "jobs", "work"])
    assert.deepEqual(await readdir(work), [])
  })

  it("exits 2 with a usage error when an argument is missing", async () => {
    const run = await runBuiltAgent(["--code", code])
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /INVALID_ARGUMENT/)
  })
})
