// Opt-in: a real podman runs the agent image. Skipped unless REDUCTIO_TEST_PODMAN=1 and podman is
// on PATH; builds the image first (`npm run build` must have run). See README, "Trying Batch jobs locally".
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const hasPodman = spawnSync("podman", ["--version"], { stdio: "ignore" }).status === 0
const enabled = process.env.REDUCTIO_TEST_PODMAN === "1" && hasPodman
const image = "localhost/reductio-agent:podman-test"

const workflow = `
import { task } from "reductio-workflow"

export const greet = task("greet", (name: string) => \`\${process.env.GREETING} \${name} from \${process.env.API_TOKEN?.length}\`, {
  executor: "batch",
  vcpus: 1,
  memory: 512,
})
`

const config = `
export default {
  executors: {
    batch: {
      type: "aws_batch",
      image: ${JSON.stringify(image)},
      queue: "spot",
      scratch: "s3://bucket/reductio",
      environment: { GREETING: "hello" },
      secrets: { API_TOKEN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token" },
      local: { engine: "podman" },
    },
  },
}
`

describe("reductio run with an aws_batch executor run locally by podman", {
  skip: enabled ? false : "set REDUCTIO_TEST_PODMAN=1 (needs podman)",
}, () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    await project.write("reductio.config.ts", config)
    const built = await runCli(["image", "build", "--docker", "podman", "--tag", image], { cwd: project.dir })
    assert.equal(built.code, 0, built.stderr)
  })
  after(() => project?.remove())

  it("runs the call in the agent image and caches its result", async () => {
    const env = { API_TOKEN: "s3cret" }
    const first = await runCli(["run", "workflow.ts", "greet", "--name", "ada", "--json"], { cwd: project.dir, env })
    assert.equal(first.code, 0, first.stderr)
    assert.equal((JSON.parse(first.stdout) as { result: unknown }).result, "hello ada from 6")
    const second = await runCli(["run", "workflow.ts", "greet", "--name", "ada"], { cwd: project.dir, env })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, "hello ada from 6\n")
    assert.match(second.stderr, /0 done, 1 cached/)
  })
})
