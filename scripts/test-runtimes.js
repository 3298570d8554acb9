// Runs the SQLite backend suite (Backend and lease conformance, SQLite specs) under Bun and Deno,
// which drive node:sqlite; Node's own run (scripts/test.js) drives better-sqlite3. The whole CLI
// is tested under both by test/runtime/cli/runtimes.test.ts. A runtime that is not installed is
// skipped with a message: `npm install` installs both (devDependencies).
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const suite = "test/runtime/backend/sqlite-backend.test.ts"
const runtimes = {
  bun: ["test", "--conditions=reductio-source", `./${suite}`],
  deno: ["test", "-A", "--no-check", "--sloppy-imports", "--conditions=reductio-source", suite],
}

let failed = 0
for (const [runtime, args] of Object.entries(runtimes)) {
  const binary = join(root, "node_modules", ".bin", runtime)
  if (!existsSync(binary)) {
    console.log(`skipped: ${runtime} is not installed (npm install installs it as a devDependency)`)
    continue
  }
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]
  console.log(`# ${suite} under ${runtime} ${version}`)
  const result = spawnSync(binary, args, { cwd: root, stdio: "inherit", env: { ...process.env, NO_COLOR: "1" } })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
