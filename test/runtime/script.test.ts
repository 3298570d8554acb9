import assert from "node:assert/strict"
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { after, afterEach, before, beforeEach, describe, it } from "node:test"
import { encode, prepareForEncoding } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import { expressionOf, type CallExpression, type Lazy } from "../../runtime/expression.js"
import { Dir, File, isDir, isFile } from "../../runtime/file.js"
import { type ScriptResult, script, stdout } from "../../runtime/script.js"
import { configureS3 } from "../../runtime/storage/storage-registry.js"
import { lookupTask } from "../../runtime/task.js"
import { callWithSignal } from "../../runtime/task-context.js"
import { createBucket, s3Options, startMoto } from "../support/moto.js"

/** Runs a script call's task body directly, as an executor would (no scheduler needed). */
async function runCall<T>(lazy: Lazy<T>): Promise<T> {
  const call = expressionOf(lazy) as CallExpression
  assert.equal(call.kind, "call")
  const definition = lookupTask(call.task)
  const fn = definition.fn as (...args: readonly unknown[]) => Promise<unknown>
  return (await callWithSignal(new AbortController().signal, () => fn(...call.args))) as T
}

async function rejectsCode(promise: Promise<unknown>, code: string, check?: (details: Record<string, unknown>) => void) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isReductioError(error), String(error))
    assert.equal(error.code, code, error.message)
    check?.(error.details ?? {})
    return true
  })
}

// Compile-time: outputs map to Files and stdout to a string.
type Expected = { bam: File; log: string; many: File[] }
const typed: (value: ScriptResult<{ bam: ReturnType<File["stage"]>; log: typeof stdout; many: File[] }>) => Expected = (v) => v
void typed

describe("script (local files)", () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-script-test-"))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("returns the command's standard output by default", async () => {
    assert.equal(await runCall(script("echo hello; echo world")), "hello\nworld\n")
  })

  it("runs in a fresh directory with the given environment", async () => {
    const out = await runCall(script('pwd; echo "$GREETING"; ls -A | wc -l', { env: { GREETING: "hi" } }))
    const [cwd, greeting, count] = out.trim().split("\n")
    assert.notEqual(cwd, process.cwd())
    assert.equal(greeting, "hi")
    assert.equal(count?.trim(), "0")
  })

  it("stages inputs in and outputs out, returning Files and stdout", async () => {
    await writeFile(join(dir, "reads.txt"), "c\na\nb\na\n")
    const result = await runCall(
      script("sort -u reads.txt > sorted.txt && wc -l < sorted.txt", {
        inputs: [new File(join(dir, "reads.txt")).stage("reads.txt")],
        outputs: { sorted: new File(join(dir, "out", "sorted.txt")).stage("sorted.txt"), lines: stdout },
      }),
    )
    assert.ok(isFile(result.sorted))
    assert.equal(result.sorted.path, join(dir, "out", "sorted.txt"))
    assert.equal(await readFile(result.sorted.path, "utf8"), "a\nb\nc\n")
    assert.equal(result.lines.trim(), "3")
  })

  it("keys the call by output paths, not by whether the outputs exist yet", async () => {
    const out = new File(join(dir, "o.txt"))
    const make = () => script("echo x > o.txt", { outputs: out.stage("o.txt") })
    const before = encode((expressionOf(make()) as CallExpression).args)
    await writeFile(out.path, "now it exists")
    const args = (expressionOf(make()) as CallExpression).args
    await prepareForEncoding(args)
    assert.deepEqual(encode(args), before)
  })

  it("fails with SCRIPT_FAILED, the exit code and the stderr tail", async () => {
    await rejectsCode(runCall(script("echo doomed >&2; exit 3")), "SCRIPT_FAILED", (details) => {
      assert.equal(details["exitCode"], 3)
      assert.match(String(details["stderrTail"]), /doomed/)
    })
  })

  it("fails a pipeline whose first command fails (pipefail)", async () => {
    await rejectsCode(runCall(script("false | cat")), "SCRIPT_FAILED")
  })

  it("fails with OUTPUT_MISSING naming the output the script did not write", async () => {
    const call = script("echo nothing", { outputs: { a: new File(join(dir, "a.txt")).stage("a.txt") } })
    await rejectsCode(runCall(call), "OUTPUT_MISSING", (details) => {
      assert.equal(details["file"], "a.txt")
      assert.equal(details["task"], "reductio.script")
    })
    assert.equal(await new File(join(dir, "a.txt")).exists(), false)
  })

  it("fails with FILE_NOT_FOUND naming a missing input", async () => {
    const missing = join(dir, "missing.txt")
    await rejectsCode(runCall(script("cat in.txt", { inputs: [new File(missing).stage("in.txt")] })), "FILE_NOT_FOUND", (details) => {
      assert.equal(details["uri"], missing)
    })
  })

  it("stages a directory in and a directory out, returning a Dir", async () => {
    await mkdir(join(dir, "ref", "sub"), { recursive: true })
    await writeFile(join(dir, "ref", "a.txt"), "a")
    await writeFile(join(dir, "ref", "sub", "b.txt"), "b")
    const result = await runCall(
      script("mkdir -p index && cat ref/a.txt ref/sub/b.txt > index/all.txt && ls ref/sub > index/listing.txt", {
        inputs: [new Dir(join(dir, "ref")).stage("ref")],
        outputs: { index: new Dir(join(dir, "index-out")).stage("index") },
      }),
    )
    assert.ok(isDir(result.index))
    assert.equal(result.index.path, join(dir, "index-out"))
    assert.equal(await readFile(join(dir, "index-out", "all.txt"), "utf8"), "ab")
    assert.equal(await readFile(join(dir, "index-out", "listing.txt"), "utf8"), "b.txt\n")
  })

  it("fails with OUTPUT_MISSING when a staged output directory was not made, and FILE_NOT_FOUND for a missing input one", async () => {
    await rejectsCode(runCall(script("true", { outputs: new Dir(join(dir, "o")).stage("never") })), "OUTPUT_MISSING")
    await rejectsCode(runCall(script("true", { inputs: [new Dir(join(dir, "no-such")).stage("in")] })), "FILE_NOT_FOUND", (details) => {
      assert.equal(details["uri"], join(dir, "no-such"))
    })
  })

  it("runs in a given cwd: inputs staged into it, outputs read from it, nothing removed after", async () => {
    const work = join(dir, "work-here")
    await mkdir(work)
    await writeFile(join(work, "existing.txt"), "kept\n")
    await writeFile(join(dir, "in.txt"), "x\n")
    const result = await runCall(
      script("pwd; cat existing.txt in.txt > both.txt", {
        cwd: work,
        inputs: [new File(join(dir, "in.txt")).stage("in.txt")],
        outputs: { both: new File(join(dir, "both-out.txt")).stage("both.txt"), log: stdout },
      }),
    )
    assert.equal(result.log.trim(), work)
    assert.equal(await readFile(join(dir, "both-out.txt"), "utf8"), "kept\nx\n")
    assert.equal(await readFile(join(work, "both.txt"), "utf8"), "kept\nx\n")
    // The cwd is part of the cache key, as an absolute path.
    const relative = expressionOf(script("true", { cwd: "data" })) as CallExpression
    assert.equal((relative.args[3] as { cwd: string }).cwd, join(dirname(process.argv[1] ?? ""), "data"))
    await rejectsCode(runCall(script("true", { cwd: join(dir, "missing") })), "FILE_NOT_FOUND")
  })

  it("removes its temporary directory after the command, also when it fails", async () => {
    const where = (await runCall(script("pwd"))).trim()
    assert.equal(await stat(where).catch(() => undefined), undefined)
    let failedIn = ""
    await rejectsCode(
      runCall(script(`pwd > ${join(dir, "failed-in.txt")}; exit 3`)).finally(async () => {
        failedIn = (await readFile(join(dir, "failed-in.txt"), "utf8")).trim()
      }),
      "SCRIPT_FAILED",
    )
    assert.equal(await stat(failedIn).catch(() => undefined), undefined)
  })

  it("returns an in-place output File the script wrote by absolute path", async () => {
    const target = join(dir, "direct.txt")
    const result = await runCall(script(`echo direct > ${JSON.stringify(target)}`, { outputs: [new File(target)] }))
    assert.equal(await (result[0] as File).read(), "direct\n")
  })
})

const moto = await startMoto()
after(() => moto.stop())

describe("script (S3 files)", { skip: moto.skip }, () => {
  let bucket: string
  before(async () => {
    if (moto.skip !== false) return
    await moto.reset()
    configureS3(s3Options(moto))
  })
  after(() => configureS3({}))
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "script")
  })

  it("stages S3 inputs in and S3 outputs out", async () => {
    const input = new File(`s3://${bucket}/in/reads.txt`)
    await input.write("x\ny\n")
    const result = await runCall(
      script("tr a-z A-Z < reads.txt > upper.txt; mkdir -p nested && cp upper.txt nested/copy.txt", {
        inputs: { reads: input.stage("reads.txt") },
        outputs: [
          new File(`s3://${bucket}/out/upper.txt`).stage("upper.txt"),
          new File(`s3://${bucket}/out/copy.txt`).stage("nested/copy.txt"),
        ],
      }),
    )
    assert.equal(await (result[0] as File).read(), "X\nY\n")
    assert.equal(await (result[1] as File).read(), "X\nY\n")
  })

  it("stages an S3 directory in and out", async () => {
    await new File(`s3://${bucket}/ref/x.txt`).write("x")
    await new File(`s3://${bucket}/ref/y/z.txt`).write("z")
    const result = await runCall(
      script("mkdir out && cat ref/x.txt ref/y/z.txt > out/xz.txt", {
        inputs: [new Dir(`s3://${bucket}/ref`).stage("ref")],
        outputs: new Dir(`s3://${bucket}/result`).stage("out"),
      }),
    )
    assert.ok(isDir(result))
    assert.deepEqual(
      (await result.files()).map((file) => file.path),
      [`s3://${bucket}/result/xz.txt`],
    )
    assert.equal(await result.file("xz.txt").read(), "xz")
  })

  it("raises FILE_NOT_FOUND for a missing S3 input", async () => {
    const uri = `s3://${bucket}/in/none.txt`
    await rejectsCode(runCall(script("cat in", { inputs: [new File(uri).stage("in")] })), "FILE_NOT_FOUND", (details) => {
      assert.equal(details["uri"], uri)
    })
  })
})
