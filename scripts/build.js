// Builds the runtime to dist/ (plain ESM for the `reductio` bin and for Node apps that embed it)
// and, when present, the self-contained agent to agent/dist/.
import { readdirSync, rmSync, existsSync } from "node:fs"
import { join } from "node:path"
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return tsFiles(path)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : []
  })
}

rmSync(join(root, "dist"), { recursive: true, force: true })
await build({
  // bundler/ too: the process executor and `reductio bundle` load it from dist/runtime.
  entryPoints: [...tsFiles(join(root, "runtime")), ...tsFiles(join(root, "bundler"))],
  outdir: join(root, "dist"),
  outbase: root,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
})

const agentBuild = join(root, "agent/build.js")
if (existsSync(agentBuild)) await import(agentBuild)
