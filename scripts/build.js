// Builds the runtime to dist/ (plain ESM for the `reductio` bin and for Node apps that embed it)
// and, when present, the self-contained agent to agent/dist/.
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

rmSync(join(root, "dist"), { recursive: true, force: true })
// One bundle with code splitting: the package root and the CLI share one copy of the kernel (a
// workflow's `import "reductio-workflow"` finds it already loaded), and a run loads a few chunks instead of
// hundreds of modules. Drivers, SDKs and tools with native parts or of their own weight stay
// external and load lazily where used.
const runtime = await build({
  entryPoints: {
    index: join(root, "runtime/index.ts"),
    "cli/main": join(root, "runtime/cli/main.ts"),
    // Registered with module.register by the CLI: loads TypeScript workflows on the hooks thread.
    "config/typescript-hooks": join(root, "runtime/config/typescript-hooks.ts"),
  },
  outdir: join(root, "dist/runtime"),
  bundle: true,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  // No keepNames: it wraps every function expression in a `__name` call that redefines its
  // `name`, which made each closure on the scheduler's hot path about 3.5 times larger and
  // slower to create. Names then come from the declarations themselves; checkNames() below fails
  // the build if bundling had to rename a class, whose name previews and errors show.
  metafile: true,
  external: ["better-sqlite3", "pg", "pg-native", "@aws-sdk/*", "@smithy/*", "esbuild", "tsx", "tsx/*"],
  // Bundled CommonJS dependencies require Node builtins; ESM output needs a `require` for them.
  banner: {
    js: 'import { createRequire as __reductioCreateRequire } from "node:module";\nconst require = __reductioCreateRequire(import.meta.url);',
  },
  logLevel: "warning",
})

checkNames(runtime.metafile)

// The web UI (`reductio ui`, `reductio report`): the browser code in ui/ with preact and dagre in
// one minified script and one stylesheet, shipped in dist/ui (no CDN at run time).
await build({
  entryPoints: { app: join(root, "ui/app.tsx") },
  outdir: join(root, "dist/ui"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  legalComments: "none",
  loader: { ".css": "css" },
  logLevel: "warning",
})

const agentBuild = join(root, "agent/build.js")
if (existsSync(agentBuild)) await import(agentBuild)

/**
 * Fails when the bundle renamed a class to avoid a clash (`File` → `File2`): without keepNames its
 * `name`, shown in value previews and error messages, would change with it. A function renamed so
 * only reads differently in a stack trace.
 */
function checkNames(metafile) {
  const declared = new Set()
  const renamed = []
  for (const output of Object.keys(metafile.outputs)) {
    if (!output.endsWith(".js")) continue
    const text = readFileSync(join(root, output), "utf8")
    for (const match of text.matchAll(/\b(?:class (?!extends\b)([A-Za-z_$][\w$]*)|var ([A-Za-z_$][\w$]*) = class (?:extends\b|\{))/g)) {
      const name = match[1] ?? match[2]
      declared.add(name)
      if (/\d$/.test(name)) renamed.push({ name, output })
    }
  }
  const clashes = renamed.filter(({ name }) => declared.has(name.replace(/\d+$/, "")))
  if (clashes.length > 0) {
    throw new Error(
      `the runtime bundle renamed classes to avoid name clashes: ${clashes.map((c) => `${c.name} in ${c.output}`).join(", ")}; give the classes distinct names`,
    )
  }
}
