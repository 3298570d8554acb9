/**
 * Bundling a typical example (examples/sequencing/workflow.ts, and hello.ts) as the remote
 * executors do: esbuild → reproducible tar.gz → sha256. Reports the first (cold) and the median of
 * later (warm) bundles, and the archive size. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/agent-bundle.ts [runs]
 */
import { performance } from "node:perf_hooks"
import { bundle } from "../bundler/bundle.js"

const runs = Number(process.argv[2] ?? 10)
const examples = ["examples/sequencing/workflow.ts", "examples/hello.ts"]
const results: Record<string, unknown> = {}
for (const example of examples) {
  const path = new URL(`../${example}`, import.meta.url).pathname
  const times: number[] = []
  let last: Awaited<ReturnType<typeof bundle>> | undefined
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    last = await bundle(path)
    times.push(performance.now() - started)
  }
  const warm = times.slice(1).sort((a, b) => a - b)
  results[example] = {
    coldMs: +(times[0] as number).toFixed(1),
    warmMedianMs: +(warm[Math.floor(warm.length / 2)] as number).toFixed(1),
    archiveBytes: last?.bytes.length,
    codeBytes: last?.files.find((file) => file.path === "workflow.mjs")?.size,
    sourceModules: last?.inputs.length,
    sha256: last?.sha256,
  }
}
console.log(JSON.stringify({ benchmark: "agent-bundle", runs, results }, null, 2))
