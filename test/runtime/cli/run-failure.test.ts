import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { script, task } from "reductio-workflow"

export const align = task("align", (sample: string) =>
  script(\`echo "aligning \${sample}" >&2; echo "cannot open \${sample}.fq: No such file" >&2; exit 3\`),
)
export const count = task("count", (sample: string) => script("exit 4", { name: "count-reads" }))
export const main = task("main", (samples: string[]) => samples.map((sample) => align(sample)))
`

describe("a failed run", () => {
  let project: TempProject
  const cli = (args: string[]) => runCli(args, { cwd: project.dir })

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
  })
  after(() => project.remove())

  it("names the task that built the failing script, its command, exit code and stderr, and how to see the call", async () => {
    const result = await cli(["run", "workflow.ts", "main", "--samples", '["s1"]'])
    assert.equal(result.code, 1)
    assert.match(
      result.stderr,
      /error \[TASK_FAILED\]: script in task align \(args "echo \\"aligning s1\\" >&2; .*exit 3"\) failed: ReductioError: script exited with code 3/,
    )
    assert.doesNotMatch(result.stderr, /reductio\.script/)
    assert.match(result.stderr, /\n {2}exit code: 3\n {2}stderr \(tail\):\n {4}aligning s1\n {4}cannot open s1\.fq: No such file\n/)
    const hint = result.stderr.match(/\n {2}call ([0-9a-f]{12}) \(job \S+\/3\): reductio log \1 shows it/)
    assert.ok(hint, result.stderr)
    const log = await cli(["log", hint[1] as string])
    assert.equal(log.code, 0, log.stderr)
    assert.match(log.stdout, /\n {2}call +script in task align /)
    assert.match(log.stdout, /\n {2}args +"echo \\"aligning s1\\" >&2;/)
    assert.match(log.stdout, /\n {2}error +ReductioError \[SCRIPT_FAILED\]: script exited with code 3/)
    assert.match(log.stdout, /\n {2}exit code 3\n {2}stderr \(tail\):\n {4}aligning s1\n {4}cannot open s1\.fq: No such file\n/)
    assert.match(log.stdout, /\n {2}parent +\S+\/2 {2}task align\n/)
  })

  it("names a script by its name option, and says all of it in --json", async () => {
    const result = await cli(["run", "workflow.ts", "count", "--sample", "s2", "--json"])
    assert.equal(result.code, 1)
    const { error } = JSON.parse(result.stdout) as { error: Record<string, string> }
    assert.equal(error.code, "TASK_FAILED")
    assert.equal(error.label, "script count-reads in task count")
    assert.equal(error.argsPreview, '"exit 4"')
    assert.match(error.evalHash ?? "", /^[0-9a-f]{64}$/)
    assert.match(error.message ?? "", /^script count-reads in task count \(args "exit 4"\) failed/)
  })
})
