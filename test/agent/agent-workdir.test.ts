// The agent's work directory and extraction cache (private, sealed), its package scope, and
// SIGTERM, run as the image runs it.
import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { appendFile, chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { before, describe, it } from "node:test"
import { kernelShim, shimFingerprint } from "../../agent/kernel-link.js"
import { bundle } from "../../bundler/bundle.js"
import { decode } from "../../runtime/codec.js"
import type { ErrorRecord } from "../../runtime/errors.js"
import * as kernel from "../../runtime/index.js"
import { AGENT_EXIT, scratch } from "../../runtime/protocol.js"
import { builtAgent, entryFor, fixtureWorkflow, runBuiltAgent, startBuiltAgent, tempDir, writeJobInput } from "./agent-harness.js"

const uid = process.getuid?.() ?? 0
/** A uid that is not ours, for directories another user "planted" (only root can chown). */
const otherUid = uid === 0 ? 12345 : undefined

describe("the agent's work directory and extraction cache", () => {
  let root: string
  let code: string
  let sha256: string
  /** The cache directory's name for this bundle and this agent's kernel shim. */
  let key: string

  before(async () => {
    await builtAgent()
    root = await tempDir("reductio-scratch-")
    const built = await bundle(fixtureWorkflow, { scratch: root })
    code = built.uri as string
    sha256 = built.sha256
    key = `${sha256}-${shimFingerprint(kernelShim({ ...kernel }))}`
  })

  async function addInWorkdir(label: string, workdir: string | undefined, env: Record<string, string> = {}) {
    const job = entryFor(label, "fixture.add", [20, 22])
    const input = await writeJobInput(root, job)
    const flags = ["--code", code, "--input", input, "--scratch", root, ...(workdir === undefined ? [] : ["--workdir", workdir])]
    const run = await runBuiltAgent(flags, env)
    const output = run.code === AGENT_EXIT.done ? decode(await readFile(scratch.output(root, job.evalHash))) : undefined
    return { run, output }
  }

  it("extracts under <tmpdir>/reductio-<uid>/code by default, private to the user", async () => {
    const tmp = await tempDir("reductio-tmpdir-")
    const { run, output } = await addInWorkdir("default-workdir", undefined, { TMPDIR: tmp })
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    assert.equal(output, 42)
    for (const dir of [join(tmp, `reductio-${uid}`), join(tmp, `reductio-${uid}`, "code")]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir)
    }
    assert.ok(existsSync(join(tmp, `reductio-${uid}`, "code", key, "workflow.mjs")))
  })

  it("does not use a default directory another user planted, and still runs", async () => {
    const tmp = await tempDir("reductio-tmpdir-")
    const planted = join(tmp, `reductio-${uid}`)
    await mkdir(join(planted, "code", key), { recursive: true })
    await writeFile(join(planted, "code", key, "workflow.mjs"), 'throw new Error("planted code ran")\n')
    if (otherUid !== undefined) await chown(planted, otherUid, otherUid)
    else await chmod(planted, 0o777)
    const { run, output } = await addInWorkdir("planted-default", undefined, { TMPDIR: tmp })
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    assert.equal(output, 42)
    assert.match(run.stderr, /not using/)
    assert.deepEqual(await readdir(join(planted, "code", key)), ["workflow.mjs"], "nothing written in the planted directory")
  })

  it("refuses a --workdir writable by others (INVALID_ARGUMENT)", async () => {
    const workdir = await tempDir("reductio-open-work-")
    await chmod(workdir, 0o777)
    const { run } = await addInWorkdir("open-workdir", workdir)
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
    assert.deepEqual(await readdir(workdir), [])
  })

  it("refuses a --workdir owned by another user (INVALID_ARGUMENT)", async () => {
    const workdir = otherUid === undefined ? "/" : await tempDir("reductio-foreign-work-")
    if (otherUid !== undefined) await chown(workdir, otherUid, otherUid)
    const { run } = await addInWorkdir("foreign-workdir", workdir)
    assert.equal(run.code, AGENT_EXIT.infrastructure)
    assert.match(run.stderr, /\[INVALID_ARGUMENT\]/)
  })

  it("extracts again when a cached extraction was changed since it was sealed", async () => {
    const workdir = await tempDir("reductio-work-")
    assert.equal((await addInWorkdir("seal-first", workdir)).output, 42)
    const cached = join(workdir, key)
    await appendFile(join(cached, "workflow.mjs"), '\nthrow new Error("tampered code ran")\n')
    const second = await addInWorkdir("seal-tampered", workdir)
    assert.equal(second.run.code, AGENT_EXIT.done, second.run.stderr)
    assert.equal(second.output, 42)
    assert.match(second.run.stderr, /does not match its seal/)
    assert.doesNotMatch(await readFile(join(cached, "workflow.mjs"), "utf8"), /tampered/)
  })

  it("extracts again when a file was planted in, or removed from, a cached extraction", async () => {
    const workdir = await tempDir("reductio-work-")
    assert.equal((await addInWorkdir("plant-first", workdir)).output, 42)
    const cached = join(workdir, key)
    await writeFile(join(cached, "node_modules", "planted.mjs"), "export {}\n")
    const planted = await addInWorkdir("plant-extra", workdir)
    assert.equal(planted.output, 42)
    assert.match(planted.run.stderr, /does not match its seal/)
    assert.equal(existsSync(join(cached, "node_modules", "planted.mjs")), false)
    await rm(join(cached, "workflow.mjs.map"))
    const removed = await addInWorkdir("plant-removed", workdir)
    assert.equal(removed.output, 42)
    assert.match(removed.run.stderr, /does not match its seal/)
  })

  it("replaces a half-done extraction that has no seal", async () => {
    const workdir = await tempDir("reductio-work-")
    await mkdir(join(workdir, key))
    await writeFile(join(workdir, key, "workflow.mjs"), 'throw new Error("half-done code ran")\n')
    const { run, output } = await addInWorkdir("half-done", workdir)
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    assert.equal(output, 42)
  })

  it("reuses a sealed extraction without a word", async () => {
    const workdir = await tempDir("reductio-work-")
    assert.equal((await addInWorkdir("reuse-first", workdir)).output, 42)
    const again = await addInWorkdir("reuse-second", workdir)
    assert.equal(again.output, 42)
    assert.doesNotMatch(again.run.stderr, /seal/)
  })

  it("resolves its own kernel when the work directory sits inside a package named reductio", async () => {
    const pkg = await tempDir("reductio-enclosing-")
    await writeFile(
      join(pkg, "package.json"),
      JSON.stringify({ name: "reductio-workflow", type: "module", exports: { ".": "./index.js" } }),
    )
    await writeFile(join(pkg, "index.js"), 'throw new Error("the enclosing package was loaded instead of the agent kernel")\n')
    const { run, output } = await addInWorkdir("enclosing-package", join(pkg, "work"))
    assert.equal(run.code, AGENT_EXIT.done, run.stderr)
    assert.equal(output, 42)
  })
})

describe("the agent on SIGTERM", () => {
  before(() => builtAgent())

  it("stops the task promptly, writes a CANCELLED error record and exits 143", async () => {
    const root = await tempDir("reductio-scratch-")
    const code = (await bundle(fixtureWorkflow, { scratch: root })).uri as string
    const job = entryFor("sigterm", "fixture.hang", [60_000])
    const input = await writeJobInput(root, job)
    const agent = await startBuiltAgent(["--code", code, "--input", input, "--scratch", root, "--workdir", await tempDir("reductio-work-")])
    const deadline = Date.now() + 20_000
    while (!agent.printed().includes("hanging")) {
      assert.ok(Date.now() < deadline, `the task never started: ${agent.printed()}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const sent = Date.now()
    agent.child.kill("SIGTERM")
    const run = await agent.done
    assert.ok(Date.now() - sent < 3_000, `took ${Date.now() - sent} ms`)
    assert.equal(run.code, AGENT_EXIT.cancelled)
    const record = decode(await readFile(scratch.error(root, job.evalHash))) as ErrorRecord
    assert.equal(record.code, "CANCELLED")
    assert.equal(existsSync(scratch.output(root, job.evalHash)), false)
    assert.match(await readFile(scratch.log(root, job.evalHash), "utf8"), /hanging/)
  })

  it("aborts the task's currentSignal() so the body can stop its own work", async () => {
    const root = await tempDir("reductio-scratch-")
    const marker = join(await tempDir("reductio-marker-"), "aborted")
    const code = (await bundle(fixtureWorkflow, { scratch: root })).uri as string
    const job = entryFor("sigterm-signal", "fixture.hangUntilAborted", [marker])
    const input = await writeJobInput(root, job)
    const agent = await startBuiltAgent(["--code", code, "--input", input, "--scratch", root, "--workdir", await tempDir("reductio-work-")])
    const deadline = Date.now() + 20_000
    while (!agent.printed().includes("hanging")) {
      assert.ok(Date.now() < deadline, `the task never started: ${agent.printed()}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    agent.child.kill("SIGTERM")
    const run = await agent.done
    assert.equal(run.code, AGENT_EXIT.cancelled, agent.printed())
    assert.equal(await readFile(marker, "utf8"), "CANCELLED")
    const record = decode(await readFile(scratch.error(root, job.evalHash))) as ErrorRecord
    assert.equal(record.code, "CANCELLED")
  })
})
