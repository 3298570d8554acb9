import assert from "node:assert/strict"
import { existsSync, readFileSync } from "node:fs"
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { containerLauncher } from "../../../runtime/executor/container-launcher.js"
import { builtAgent } from "../../agent/agent-harness.js"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { task } from "reductio-workflow"

export const greet = task("greet", (name: string) => \`\${process.env.GREETING} \${name}, token \${process.env.API_TOKEN?.length}\`, {
  executor: "batch",
  vcpus: 2,
  memory: 1024,
})
export const nap = task("nap", async (ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return ms
}, { executor: "batch" })
export const main = task("main", (name: string) => greet(name))
`

const config = (local: string) => `
export default {
  executors: {
    batch: {
      type: "aws_batch",
      image: "registry.example/reductio-agent:1",
      queue: "spot",
      scratch: "s3://bucket/reductio",
      environment: { GREETING: "hello" },
      secrets: { API_TOKEN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token" },
      ${local}
    },
  },
}
`

/**
 * A stand-in container engine: records each argv (one JSON line), then runs what `run` names as
 * the image's entrypoint would (`node agent.js` and the agent's flags), with only the variables
 * passed by `-e NAME` (their values from its own environment, as docker takes them).
 */
function standInEngine(agent: string, record: string): string {
  return `#!${process.execPath}
import { appendFileSync } from "node:fs"
import { spawn } from "node:child_process"
const argv = process.argv.slice(2)
appendFileSync(${JSON.stringify(record)}, JSON.stringify(argv) + "\\n")
if (argv[0] !== "run") process.exit(0)
const valued = new Set(["--name", "--cpus", "--memory", "--gpus", "--user", "-e", "-v"])
const env = { PATH: process.env.PATH }
let i = 1
for (; i < argv.length && argv[i].startsWith("-"); i++) {
  if (argv[i] === "-e" && process.env[argv[i + 1]] !== undefined) env[argv[i + 1]] = process.env[argv[i + 1]]
  if (valued.has(argv[i])) i++
}
const child = spawn(process.execPath, [${JSON.stringify(agent)}, ...argv.slice(i + 1)], { env, stdio: "inherit" })
process.on("SIGTERM", () => child.kill("SIGTERM"))
child.on("close", (code, signal) => process.exit(code ?? (signal === "SIGTERM" ? 143 : 1)))
`
}

describe("reductio run with an aws_batch executor run locally", () => {
  let project: TempProject
  let bin: string
  let record: string
  const runs = async () =>
    existsSync(record)
      ? (await readFile(record, "utf8"))
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as string[])
      : []
  const env = () => ({ PATH: `${bin}:${process.env.PATH}`, API_TOKEN: "s3cret-value" })

  before(async () => {
    project = await tempProject()
    bin = join(project.dir, "bin")
    record = join(project.dir, "engine.argv")
    await mkdir(bin)
    await writeFile(join(bin, "docker"), standInEngine(await builtAgent(), record))
    await chmod(join(bin, "docker"), 0o755)
    await project.write("workflow.ts", workflow)
  })
  after(() => project.remove())

  it("runs the call in a container of the executor's image, with its limits and variables by name, and caches it", async () => {
    await project.write("reductio.config.ts", config("local: true,"))
    const first = await runCli(["run", "workflow.ts", "main", "--name", "ada", "--json"], { cwd: project.dir, env: env() })
    assert.equal(first.code, 0, first.stderr)
    assert.equal((JSON.parse(first.stdout) as { result: unknown }).result, "hello ada, token 12")
    const [argv, ...others] = await runs()
    assert.equal(others.length, 0)
    assert.ok(argv !== undefined)
    const scratch = join(project.dir, ".reductio", "scratch")
    const at = (flag: string) => argv[argv.indexOf(flag) + 1]
    assert.deepEqual(argv.slice(0, 3), ["run", "--rm", "--init"])
    assert.equal(at("--cpus"), "2")
    assert.equal(at("--memory"), "1024m")
    assert.equal(at("-v"), `${scratch}:${scratch}`)
    const names = argv.flatMap((arg, index) => (arg === "-e" ? [argv[index + 1]] : []))
    assert.deepEqual(names, ["API_TOKEN", "GREETING"])
    const image = argv.indexOf("registry.example/reductio-agent:1")
    assert.ok(image > 0)
    assert.deepEqual(
      argv.slice(image + 1).filter((arg) => arg.startsWith("--")),
      ["--code", "--input", "--scratch"],
    )
    assert.equal(at("--scratch"), scratch)
    assert.ok(!argv.some((arg) => arg.includes("s3cret") || arg.includes("hello")), "no variable's value on the command line")

    const second = await runCli(["run", "workflow.ts", "main", "--name", "ada"], { cwd: project.dir, env: env() })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, "hello ada, token 12\n")
    assert.match(second.stderr, /0 done, 2 cached/)
    assert.equal((await runs()).length, 1, "the cached call starts no container")
  })

  it("--executor-local runs a configured Batch executor locally for one run; another name is refused", async () => {
    await project.write("reductio.config.ts", config(""))
    const result = await runCli(["run", "workflow.ts", "greet", "--name", "bob", "--executor-local", "batch", "--quiet"], {
      cwd: project.dir,
      env: env(),
    })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, "hello bob, token 12\n")
    const refused = await runCli(["run", "workflow.ts", "greet", "--name", "eve", "--executor-local", "nope"], {
      cwd: project.dir,
      env: env(),
    })
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /INVALID_ARGUMENT/)
  })

  it("stops the container on Ctrl-C", async () => {
    await project.write("reductio.config.ts", config("local: true,"))
    const before = (await runs()).length
    const result = await runCli(["run", "workflow.ts", "nap", "--ms", "60000", "--quiet"], {
      cwd: project.dir,
      env: env(),
      interruptWhen: () => existsSync(record) && lineCount(record) > before,
    })
    assert.notEqual(result.code, 0)
    const calls = (await runs()).slice(before)
    const name = calls[0]?.[calls[0].indexOf("--name") + 1]
    assert.ok(
      calls.some((argv) => argv[0] === "stop" && argv.at(-1) === name),
      JSON.stringify(calls),
    )
  })

  it("fails a call whose engine cannot start with an infrastructure failure naming podman", async () => {
    const engine = join(bin, "no-such-engine")
    await project.write("reductio.config.ts", config(`local: { engine: ${JSON.stringify(engine)} },`))
    const result = await runCli(["run", "workflow.ts", "greet", "--name", "zed"], { cwd: project.dir, env: env() })
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /INFRASTRUCTURE_FAILURE.*cannot run .*no-such-engine.*podman/)
    const launcher = containerLauncher({ engine, image: "agent:1", scratch: project.dir })
    assert.equal(launcher.launchFailure?.({ code: null, tail: "", spawnError: new Error("ENOENT") })?.code, "CONTAINER_ENGINE_FAILED")
    assert.equal(launcher.launchFailure?.({ code: 125, tail: "Cannot connect to the Docker daemon" })?.code, "CONTAINER_ENGINE_FAILED")
    assert.equal(launcher.launchFailure?.({ code: 1, tail: "" }), undefined, "the agent's own exit is read from scratch")
  })

  it("refuses a bad local option with CONFIG_INVALID", async () => {
    await project.write("reductio.config.ts", config(`local: { scratch: "s3://bucket/x" },`))
    const result = await runCli(["run", "workflow.ts", "greet", "--name", "x"], { cwd: project.dir, env: env() })
    assert.match(result.stderr, /CONFIG_INVALID/)
    assert.match(result.stderr, /executors\.batch\.local\.scratch/)
  })
})

/** Lines in a file. */
function lineCount(path: string): number {
  return readFileSync(path, "utf8").trim().split("\n").length
}
