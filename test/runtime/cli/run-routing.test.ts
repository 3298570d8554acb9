import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { task } from "reductio-workflow"

export const align = task("align.bwa", (x: number) => x + 1, { memory: 1024 })
export const flaky = task("flaky", (marker: string) => {
  const g = globalThis as { attempts?: number }
  g.attempts = (g.attempts ?? 0) + 1
  if (g.attempts < 3) throw new Error("flaky " + g.attempts)
  return g.attempts
})
export const strict = task("strict", (marker: string) => flaky.options({ retries: 0 })(marker))
export const main = task("main", (n: number) => align(n))
`

const config = `
export default {
  routes: [
    { match: "align.*", name: "aligners", memory: 16384, vcpus: 4, image: "repo/aligner@sha256:${"a".repeat(64)}" },
    { match: /^fla/, retries: 3 },
  ],
  profiles: { big: { routes: [{ match: (task) => task.name === "align.bwa", memory: 65536 }] } },
}
`

describe("reductio run with routing rules", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    await project.write("reductio.config.ts", config)
  })
  after(() => project.remove())

  it("--explain-routing prints the rule that places each task, and runs nothing", async () => {
    const explained = await runCli(["run", "workflow.ts", "main", "--explain-routing"], { cwd: project.dir })
    assert.equal(explained.code, 0, explained.stderr)
    const line = (task: string) => explained.stdout.split("\n").find((l) => l.trimStart().startsWith(`${task} `)) ?? ""
    assert.match(line("align.bwa"), /rule 1 "align\.\*" "aligners" \(config\)/)
    assert.match(line("align.bwa"), /memory 16384, vcpus 4/)
    assert.match(line("flaky"), /rule 2 \/\^fla\/ \(config\).*retries 3/)
    assert.match(line("main"), /no rule/)
    const json = await runCli(["run", "workflow.ts", "--explain-routing", "--json", "--profile", "big"], { cwd: project.dir })
    const routing = (
      JSON.parse(json.stdout) as { routing: { task: string; rule?: number; origin?: string; placement: Record<string, unknown> }[] }
    ).routing
    const aligner = routing.find((entry) => entry.task === "align.bwa")
    assert.equal(aligner?.rule, 1)
    assert.equal(aligner?.origin, "profile big")
    assert.equal(aligner?.placement.memory, 65536)
  })

  it("applies a rule's retries, and a call site's options still win over it", async () => {
    const routed = await runCli(["run", "workflow.ts", "flaky", "--marker", "a", "--json"], { cwd: project.dir })
    assert.equal(routed.code, 0, routed.stderr)
    assert.equal((JSON.parse(routed.stdout) as { result: unknown }).result, 3)
    const pinned = await runCli(["run", "workflow.ts", "strict", "--marker", "b", "--json"], { cwd: project.dir })
    assert.equal(pinned.code, 1, pinned.stdout)
  })

  it("--dryrun ends with the rules of the tasks that would run", async () => {
    const planned = await runCli(["run", "workflow.ts", "align", "--x", "5", "--dryrun"], { cwd: project.dir })
    assert.equal(planned.code, 0, planned.stderr)
    assert.match(planned.stdout, /routing: 2 rules/)
    assert.match(planned.stdout, /align\.bwa +rule 1/)
    assert.doesNotMatch(planned.stdout, /flaky/)
  })
})
