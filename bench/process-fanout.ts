/**
 * A fan-out of N calls (default 1,000) through the ProcessExecutor: one array input, at most 2
 * agents per core at once, on reusable agent workers (the default) or, with `--fresh`, one fresh
 * agent process per call. The task itself is trivial, so the figures are the executor's and the
 * agent's overhead; agentCpuMsPerCall counts the agents' CPU time (measured once they all exited).
 * Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/process-fanout.ts [calls] [--fresh]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { buildAgent } from "../agent/build-agent.js"
import { encode } from "../runtime/codec.js"
import type { JobRequest } from "../runtime/executor/executor.js"
import { ProcessExecutor } from "../runtime/executor/process-executor.js"
import { argsHashOf, evalHashOf } from "../runtime/hashing.js"
import { task } from "../runtime/task.js"

const fresh = process.argv.includes("--fresh")
const calls = Number(process.argv.slice(2).find((arg) => !arg.startsWith("--")) ?? 1000)
const cores = availableParallelism()
const concurrency = 2 * cores
const dir = await mkdtemp(join(tmpdir(), "reductio-bench-fanout-"))
try {
  const agentPath = join(dir, "agent.js")
  await buildAgent(agentPath)
  await mkdir(join(dir, "project"))
  await writeFile(join(dir, "project", "package.json"), '{ "type": "module" }\n')
  const workflowPath = join(dir, "project", "workflow.ts")
  await writeFile(
    workflowPath,
    'import { task } from "reductio-workflow"\nexport const double = task("bench.double", (x: number) => 2 * x)\n',
  )
  // The host's side of the same task (the agent registers it from the bundle).
  const double = task("bench.double", (x: number) => 2 * x)

  const executor = new ProcessExecutor({ scratch: join(dir, "scratch"), agentPath, concurrency, workdir: join(dir, "work"), reuse: !fresh })
  const startedAt = performance.now()
  await executor.start({ executionId: "bench", workflowPath, log: () => undefined })
  const bundledMs = performance.now() - startedAt
  const signal = new AbortController().signal
  const requests: JobRequest[] = Array.from({ length: calls }, (_, i) => {
    const args = [i]
    const encodedArgs = encode(args)
    const argsHash = argsHashOf(encodedArgs)
    return {
      executionId: "bench",
      jobId: `bench/${i}`,
      evalHash: evalHashOf(double.definition.hash, argsHash),
      argsHash,
      task: double.definition,
      args,
      encodedArgs,
      options: {},
      attempt: 1,
      signal,
    }
  })
  const childCpuBefore = await childCpuMs()
  const fanOutStart = performance.now()
  const outcomes = requests.map((request) => executor.submit(request))
  executor.idle()
  const settled = await Promise.all(outcomes)
  const fanOutMs = performance.now() - fanOutStart
  // Workers are counted once they exited (a process's CPU time reaches its parent when it is reaped).
  await executor.stop()
  const childCpuAfter = await childCpuMs()
  const agentCpuMsPerCall =
    childCpuBefore === undefined || childCpuAfter === undefined ? undefined : +((childCpuAfter - childCpuBefore) / calls).toFixed(1)
  const failed = settled.filter((outcome) => outcome.status !== "done").length
  const wrong = settled.filter((outcome, i) => outcome.status === "done" && outcome.value !== 2 * i).length
  console.log(
    JSON.stringify(
      {
        benchmark: "process-fanout",
        calls,
        mode: fresh ? "fresh" : "reuse",
        cores,
        concurrency,
        bundleMs: Math.round(bundledMs),
        fanOutMs: Math.round(fanOutMs),
        callsPerSecond: +((calls / fanOutMs) * 1000).toFixed(1),
        wallMsPerCall: +(fanOutMs / calls).toFixed(2),
        processMsPerCall: +((fanOutMs * concurrency) / calls).toFixed(1),
        agentCpuMsPerCall,
        failed,
        wrong,
        loadavg1: +(loadavg()[0] as number).toFixed(2),
      },
      null,
      2,
    ),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}

/**
 * CPU time of this process's waited-for children (user + system), from /proc (Linux): unlike wall
 * time, it does not depend on what else the machine is running. Undefined elsewhere.
 */
async function childCpuMs(): Promise<number | undefined> {
  const stat = await readFile("/proc/self/stat", "utf8").catch(() => undefined)
  if (stat === undefined) return undefined
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // Fields 16 and 17 of /proc/<pid>/stat (cutime, cstime), in clock ticks of 10 ms on Linux.
  return (Number(fields[13]) + Number(fields[14])) * 10
}
