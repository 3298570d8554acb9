/**
 * What call leases cost on one SQLite file (in-process scheduler, trivial task inc(x) = x + 1):
 * each workload runs cold once alone (no other execution: no lease is written) and once sharing
 * (another live execution is recorded, so every call is claimed before it runs and released with
 * its evaluation). Wall and CPU seconds (CPU is steadier on a loaded machine). Prints one JSON object.
 *
 *   npx tsx bench/call-leases.ts
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteBackend } from "../runtime/backend/sqlite-backend.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import { task } from "../runtime/task.js"

const inc = task("bench.leases.inc", (x: number) => x + 1)
const fanout = task("bench.leases.fanout", (n: number, salt: number) => Array.from({ length: n }, (_, i) => inc(salt + i)))
const chain = task("bench.leases.chain", (n: number, salt: number) => {
  let x: ReturnType<typeof inc> | number = salt
  for (let i = 0; i < n; i++) x = inc(x)
  return x
})

const runs = Number(process.env.BENCH_RUNS ?? 3)
const dir = mkdtempSync(join(tmpdir(), "reductio-bench-leases-"))
let salt = 0

/** One cold run in a fresh database; `sharing`: another execution is running there. */
async function timed(expression: (salt: number) => unknown, sharing: boolean): Promise<{ wall: number; cpu: number }> {
  const backend = new SqliteBackend(join(dir, `run-${++salt}.db`))
  await backend.open()
  try {
    if (sharing) {
      const other = {
        id: "bench-other-host",
        startedAt: Date.now(),
        endedAt: null,
        status: "RUNNING" as const,
        command: "bench",
        rootCallHash: null,
        error: null,
      }
      await backend.write({ executions: [{ ...other, leaseExpiresAt: Date.now() + 3_600_000, callLeases: true }] })
    }
    const cpu = process.cpuUsage()
    const started = performance.now()
    await new Scheduler({ backend }).run(expression(salt * 10_000_000))
    const used = process.cpuUsage(cpu)
    return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 }
  } finally {
    await backend.close()
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
const round = (value: number) => Math.round(value * 1000) / 1000

async function compare(name: string, expression: (salt: number) => unknown, times: number) {
  const alone: { wall: number; cpu: number }[] = []
  const sharing: { wall: number; cpu: number }[] = []
  for (let i = 0; i < times; i++) {
    alone.push(await timed(expression, false))
    sharing.push(await timed(expression, true))
  }
  const pick = (xs: { wall: number; cpu: number }[], key: "wall" | "cpu") => round(median(xs.map((x) => x[key])))
  return {
    [name]: {
      aloneWallSeconds: pick(alone, "wall"),
      sharingWallSeconds: pick(sharing, "wall"),
      aloneCpuSeconds: pick(alone, "cpu"),
      sharingCpuSeconds: pick(sharing, "cpu"),
    },
  }
}

try {
  const results = {
    ...(await compare("fanout10k", (s) => fanout(10_000, s), runs)),
    ...(await compare("chain10k", (s) => chain(10_000, s), runs)),
    ...(await compare("fanout100k", (s) => fanout(100_000, s), 1)),
  }
  console.log(JSON.stringify({ bench: "call-leases", runs, ...results }, null, 2))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
