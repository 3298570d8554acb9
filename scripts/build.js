// Builds the runtime to dist/ (plain ESM for the `reductio` bin and for Node apps that embed it)
// and, when present, the self-contained agent to agent/dist/.
import { rmSync, existsSync } from "node:fs"
import { join } from "node:path"
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

rmSync(join(root, "dist"), { recursive: true, force: true })
// One bundle with code splitting: the package root and the CLI share one copy of the kernel (a
// workflow's `import "reductio-workflow"` finds it already loaded), and a run loads a few chunks instead of
// hundreds of modules. Drivers, SDKs and tools with native parts or of their own weight stay
// external and load lazily where used.
await build({
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
  keepNames: true,
  external: ["better-sqlite3", "pg", "pg-native", "@aws-sdk/*", "@smithy/*", "esbuild", "tsx", "tsx/*"],
  // Bundled CommonJS dependencies require Node builtins; ESM output needs a `require` for them.
  banner: {
    js: 'import { createRequire as __reductioCreateRequire } from "node:module";\nconst require = __reductioCreateRequire(import.meta.url);',
  },
  logLevel: "warning",
})

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
