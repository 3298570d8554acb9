import assert from "node:assert/strict"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { MemoryBackend } from "../../runtime/backend/memory-backend.js"
import { isReductioError } from "../../runtime/errors.js"
import { Dir, File } from "../../runtime/file.js"
import { copyDir, copyFile, globFile } from "../../runtime/file-tasks.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"

describe("copyFile, copyDir and globFile tasks", () => {
  let dir: string
  const backend = new MemoryBackend()
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-file-tasks-"))
  })
  afterEach(() => rm(dir, { recursive: true, force: true }))

  const run = async (expression: unknown) => {
    const statuses: string[] = []
    const scheduler = new Scheduler({
      backend,
      onEvent: (event) => {
        if (event.type === "job" && (event.status === "DONE" || event.status === "CACHED")) statuses.push(event.status)
      },
    })
    return { value: await scheduler.run(expression), statuses }
  }

  it("copies a file, and replays the copy while source and copy are intact", async () => {
    await writeFile(join(dir, "a.txt"), "payload")
    const first = await run(copyFile(new File(join(dir, "a.txt")), join(dir, "out", "a.txt")))
    assert.equal((first.value as File).path, join(dir, "out", "a.txt"))
    assert.equal(await readFile(join(dir, "out", "a.txt"), "utf8"), "payload")
    assert.deepEqual((await run(copyFile(new File(join(dir, "a.txt")), join(dir, "out", "a.txt")))).statuses, ["CACHED"])
    await rm(join(dir, "out", "a.txt"))
    assert.deepEqual((await run(copyFile(new File(join(dir, "a.txt")), join(dir, "out", "a.txt")))).statuses, ["DONE"])
  })

  it("copies a directory", async () => {
    await mkdir(join(dir, "src", "sub"), { recursive: true })
    await writeFile(join(dir, "src", "sub", "b.txt"), "b")
    const { value } = await run(copyDir(new Dir(join(dir, "src")), join(dir, "copy")))
    assert.equal((value as Dir).path, join(dir, "copy"))
    assert.equal(await readFile(join(dir, "copy", "sub", "b.txt"), "utf8"), "b")
  })

  it("globs files by pattern, every time it runs", async () => {
    await mkdir(join(dir, "run", "lane1"), { recursive: true })
    await writeFile(join(dir, "run", "a.fastq"), "")
    await writeFile(join(dir, "run", "lane1", "b.fastq"), "")
    const first = await run(globFile(`${dir}/run/**/*.fastq`))
    assert.deepEqual(
      (first.value as File[]).map((file) => file.path),
      [join(dir, "run", "a.fastq"), join(dir, "run", "lane1", "b.fastq")],
    )
    await writeFile(join(dir, "run", "c.fastq"), "")
    const second = await run(globFile(`${dir}/run/*.fastq`))
    assert.deepEqual(
      (second.value as File[]).map((file) => file.basename),
      ["a.fastq", "c.fastq"],
    )
    await assert.rejects(run(globFile(`${dir}/run/plain.txt`)), (error: unknown) => isReductioError(error))
  })
})
