/**
 * The agent's size: builds agent/main.ts into a temp file as `npm run build` does and prints its
 * bytes, gzipped bytes and the largest inputs. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/agent-size.ts
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { gzipSync } from "node:zlib"
import { buildAgent } from "../agent/build-agent.js"

const dir = await mkdtemp(join(tmpdir(), "reductio-bench-agent-"))
try {
  const outfile = join(dir, "agent.js")
  const started = performance.now()
  const metafile = await buildAgent(outfile)
  const buildMs = performance.now() - started
  const bytes = await readFile(outfile)
  const output = Object.values(metafile.outputs)[0]
  const byPackage = new Map<string, number>()
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
    const key = match?.[1] ?? path.split("/")[0] ?? path
    byPackage.set(key, (byPackage.get(key) ?? 0) + input.bytesInOutput)
  }
  const largest = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)
  console.log(
    JSON.stringify(
      {
        benchmark: "agent-size",
        bytes: bytes.length,
        mib: +(bytes.length / 1024 / 1024).toFixed(3),
        gzipBytes: gzipSync(bytes).length,
        limitBytes: 3 * 1024 * 1024,
        buildMs: Math.round(buildMs),
        largestInputs: Object.fromEntries(largest),
      },
      null,
      2,
    ),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
