import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { File, task } from "reductio"

export const write = task("write", async (path: string, text: string) => {
  const file = new File(path)
  await file.write(text)
  return file
})
export const shout = task("shout", async (input: File, path: string) => {
  const file = new File(path)
  await file.write((await input.read()).toUpperCase())
  return file
})
export const relay = task("relay", (input: File) => shout(input, "relayed.txt"))
export const main = task("main", () => [shout(write("lower.txt", "hello"), "upper.txt"), relay(write("lower.txt", "hello"))])
`

describe("reductio log", () => {
  let project: TempProject
  let executionId: string

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    const result = await runCli(["run", "workflow.ts", "main", "--json"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    executionId = (JSON.parse(result.stdout) as { executionId: string }).executionId
  })
  after(() => project.remove())

  it("lists executions as JSON", async () => {
    const result = await runCli(["log", "--json"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    const executions = JSON.parse(result.stdout) as { id: string; status: string }[]
    assert.deepEqual(
      executions.map((e) => [e.id, e.status]),
      [[executionId, "DONE"]],
    )
  })

  it("prints an execution's job tree by id prefix", async () => {
    const result = await runCli(["log", executionId.slice(0, 18)], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /5 jobs: 5 DONE/)
    assert.match(result.stdout, /\n {2}DONE\s+main[^\n]*\n {4}DONE\s+(write|shout)/)
  })

  it("shows which call produced a file and which consumed it", async () => {
    const result = await runCli(["log", "--file", "lower.txt"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    const [, produced, consumed] = result.stdout.split(/produced by:|consumed by:/)
    assert.match(produced ?? "", /write\s+call [0-9a-f]{12}/)
    assert.doesNotMatch(produced ?? "", /relay|shout/)
    assert.match(consumed ?? "", /shout\s+call [0-9a-f]{12}/)
    assert.match(consumed ?? "", /relay\s+call [0-9a-f]{12}/)
    const json = await runCli(["log", "--file", "upper.txt", "--json"], { cwd: project.dir })
    const { uses } = JSON.parse(json.stdout) as { uses: { taskName: string; role: string; executionId: string }[] }
    assert.deepEqual(
      uses.map((use) => [use.taskName, use.role, use.executionId]),
      [["shout", "output", executionId]],
    )
  })

  it("filters executions by tag", async () => {
    const tagged = await runCli(["tag", executionId, "release=v1"], { cwd: project.dir })
    assert.equal(tagged.code, 0, tagged.stderr)
    const hit = await runCli(["log", "--tag", "release=v1", "--json"], { cwd: project.dir })
    assert.equal((JSON.parse(hit.stdout) as unknown[]).length, 1)
    const miss = await runCli(["log", "--tag", "release=v2", "--json"], { cwd: project.dir })
    assert.equal((JSON.parse(miss.stdout) as unknown[]).length, 0)
  })

  it("says NOT_FOUND for an unknown execution", async () => {
    const result = await runCli(["log", "nope"], { cwd: project.dir })
    assert.equal(result.code, 4)
    assert.match(result.stderr, /NOT_FOUND/)
  })
})
