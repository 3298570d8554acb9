// Runs every test/**/*.test.ts with node:test on the TypeScript sources (through tsx and the
// `reductio-source` export condition, so `import "reductio-workflow"` in examples resolves to the sources).
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("..", import.meta.url).pathname
const filter = process.argv.slice(2)

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === "fixtures" ? [] : testFiles(path)
    return entry.name.endsWith(".test.ts") ? [path] : []
  })
}

const files = testFiles(join(root, "test"))
  .map((file) => relative(root, file))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort()
const result = spawnSync(
  process.execPath,
  ["--conditions=reductio-source", "--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit" },
)
process.exit(result.status ?? 1)
