// Builds the agent (agent/main.ts) into one self-contained ESM file: the kernel, cborg, tar-stream
// and the S3 adapter are bundled in, so only `node` is needed at run time. Host-only packages are
// replaced by stubs that throw when loaded: the kernel reaches them only through lazy imports the
// agent never takes, and marking them external instead would hoist `import "kysely"` to the top of
// the file, where it fails without node_modules.
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

/** Drivers the kernel may import lazily on the host; never needed inside the container. */
export const HOST_ONLY = ["better-sqlite3", "pg", "pg-native", "kysely", "tsx", "esbuild", "commander"]

// ESM output has no `require`; bundled CommonJS dependencies that require Node builtins need one.
const REQUIRE_BANNER =
  'import { createRequire as __agentCreateRequire } from "node:module";\nconst require = __agentCreateRequire(import.meta.url);'

function hostOnlyStubs() {
  const filter = new RegExp(`^(${HOST_ONLY.map((name) => name.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|")})(/.*)?$`)
  return {
    name: "reductio-host-only-stubs",
    setup(context) {
      context.onResolve({ filter }, (args) => ({ path: args.path, namespace: "host-only" }))
      context.onLoad({ filter: /.*/, namespace: "host-only" }, (args) => ({
        // CommonJS, so esbuild binds named imports at run time (it never gets that far).
        contents: `module.exports = {}\nthrow new Error(${JSON.stringify(`${args.path} is host-only and not part of the reductio agent`)})`,
        loader: "js",
      }))
    },
  }
}

/** Builds the agent (or another agent entry, e.g. agent/partition-mapper.ts) to `outfile` and returns esbuild's metafile. */
export async function buildAgent(outfile = `${root}agent/dist/agent.js`, entry = `${root}agent/main.ts`) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    keepNames: true,
    sourcemap: false,
    legalComments: "none",
    banner: { js: REQUIRE_BANNER },
    plugins: [hostOnlyStubs()],
    logLevel: "warning",
    metafile: true,
  })
  return result.metafile
}
