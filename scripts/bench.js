// `npm run bench`: builds, then runs every bench/*.ts (or those named on the command line) one
// after another; each prints one JSON object.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const only = process.argv.slice(2)
const build = spawnSync(process.execPath, [join(root, "scripts/build.js")], { stdio: "inherit" })
if (build.status !== 0) process.exit(build.status ?? 1)
const benches = readdirSync(join(root, "bench"))
  .filter((name) => name.endsWith(".ts"))
  .filter((name) => only.length === 0 || only.some((filter) => name.includes(filter)))
  .sort()
let failed = 0
for (const name of benches) {
  process.stderr.write(`bench/${name}\n`)
  const result = spawnSync(process.execPath, ["--import", "tsx", join(root, "bench", name)], { cwd: root, stdio: "inherit" })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
