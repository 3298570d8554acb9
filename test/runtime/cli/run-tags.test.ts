import assert from "node:assert/strict"
import { execFileSync } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { hostname } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { task } from "reductio-workflow"
export const hello = task("hello", (name: string) => "hello " + name)
`

describe("reductio run --tag", () => {
  let project: TempProject
  const cli = (args: string[]) => runCli(args, { cwd: project.dir })
  const latestTags = async () => {
    const [latest] = JSON.parse((await cli(["log", "--json", "--limit", "1"])).stdout) as { tags: Record<string, string> }[]
    return latest?.tags ?? {}
  }
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
      cwd: project.dir,
      encoding: "utf8",
    }).trim()

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
  })
  after(() => project.remove())

  it("records the tags given, before or after the task's own flags, over the automatic ones", async () => {
    const result = await cli(["run", "--tag", "release=v1", "workflow.ts", "hello", "--name", "Ada", "--tag", "user=pipeline-bot"])
    assert.equal(result.code, 0, result.stderr)
    const tags = await latestTags()
    assert.equal(tags.release, "v1")
    assert.equal(tags.user, "pipeline-bot")
    assert.equal(tags.host, hostname())
    assert.match(tags.reductio_version ?? "", /^\d+\.\d+\.\d+/)
    assert.equal("git_commit" in tags, false, "not a git repository: no git tags")
  })

  it("records the workflow's git commit and whether its working tree has changes", async () => {
    git("init", "-q")
    git("add", "workflow.ts", "package.json")
    git("commit", "-q", "-m", "workflow")
    assert.equal((await cli(["run", "workflow.ts", "hello", "--name", "Bo"])).code, 0)
    const clean = await latestTags()
    assert.equal(clean.git_commit, git("rev-parse", "HEAD"))
    assert.equal(clean.git_dirty, "false")
    await writeFile(join(project.dir, "workflow.ts"), `${workflow}// edited\n`)
    assert.equal((await cli(["run", "workflow.ts", "hello", "--name", "Cy"])).code, 0)
    assert.equal((await latestTags()).git_dirty, "true")
  })

  it("refuses a malformed tag with INVALID_ARGUMENT before anything runs", async () => {
    for (const tag of ["=v1", "no-value", "1key=v", `key=${"\u001b"}[2J`]) {
      const result = await cli(["run", "workflow.ts", "hello", "--name", "Di", "--tag", tag])
      assert.equal(result.code, 2, tag)
      assert.match(result.stderr, /INVALID_ARGUMENT/)
    }
  })
})
