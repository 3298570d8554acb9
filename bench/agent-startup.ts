/**
 * Agent start to task function running, download excluded: the bundle is already in a local
 * scratch directory. Runs the agent as the image does (`node agent.js`, clean env, empty cwd) on a
 * task returning `performance.now()` (ms since its process started). "cold" extracts the bundle,
 * "warm" finds it extracted by an earlier agent. `node -e 0` is the floor. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/agent-startup.ts [runs]
 */
import { spawn } from "node:child_process"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { buildAgent } from "../agent/build-agent.js"
import { bundle } from "../bundler/bundle.js"
import { decode } from "../runtime/codec.js"
import { PROTOCOL_VERSION, encodeEntries, scratch } from "../runtime/protocol.js"

const runs = Number(process.argv[2] ?? 15)
const dir = await mkdtemp(join(tmpdir(), "reductio-bench-startup-"))
try {
  const agent = join(dir, "agent.js")
  await buildAgent(agent)
  const workflow = join(dir, "project", "workflow.ts")
  await mkdir(join(dir, "project"))
  await writeFile(join(dir, "project", "package.json"), "{}\n")
  await writeFile(workflow, 'import { task } from "reductio-workflow"\nexport const up = task("bench.up", () => performance.now())\n')
  const root = join(dir, "scratch")
  const code = (await bundle(workflow, { scratch: root })).uri as string
  const evalHash = "0".repeat(64)
  const input = scratch.jobInput(root, evalHash)
  await mkdir(join(input, ".."), { recursive: true })
  await writeFile(input, encodeEntries({ protocol: PROTOCOL_VERSION, evalHash, task: "bench.up", args: [], options: {} }))
  const cwd = join(dir, "cwd")
  await mkdir(cwd)

  const spawnMs = (args: string[]) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now()
      const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" })
      child.once("error", reject)
      child.once("close", (exit) => (exit === 0 ? resolve(performance.now() - started) : reject(new Error(`exit ${exit}`))))
    })
  const agentRun = async (workdir: string) => {
    const wallMs = await spawnMs([agent, "--code", code, "--input", input, "--scratch", root, "--workdir", workdir])
    const taskRunningMs = decode(await readFile(scratch.output(root, evalHash))) as number
    await rm(scratch.output(root, evalHash))
    return { wallMs, taskRunningMs }
  }

  const floor: number[] = []
  const cold: { wallMs: number; taskRunningMs: number }[] = []
  const warm: { wallMs: number; taskRunningMs: number }[] = []
  await spawnMs(["-e", "0"])
  for (let i = 0; i < runs; i++) {
    floor.push(await spawnMs(["-e", "0"]))
    cold.push(await agentRun(join(dir, `work-${i}`)))
    warm.push(await agentRun(join(dir, "work-0")))
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    return +(sorted[Math.floor(sorted.length / 2)] as number).toFixed(1)
  }
  console.log(
    JSON.stringify(
      {
        benchmark: "agent-startup",
        runs,
        nodeFloorWallMs: median(floor),
        cold: { wallMs: median(cold.map((r) => r.wallMs)), processStartToTaskMs: median(cold.map((r) => r.taskRunningMs)) },
        warm: { wallMs: median(warm.map((r) => r.wallMs)), processStartToTaskMs: median(warm.map((r) => r.taskRunningMs)) },
      },
      null,
      2,
    ),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
