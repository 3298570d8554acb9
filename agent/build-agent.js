// Builds the agent (agent/main.ts) into one self-contained ESM file: the kernel, cborg and
// tar-stream are bundled in, so only `node` is needed at run time. Host-only drivers are left out:
// the kernel loads them lazily and the agent never calls the code that would.
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

/** Drivers the kernel may import lazily on the host; never needed inside the container. */
export const HOST_ONLY = ["better-sqlite3", "pg", "pg-native", "kysely", "tsx", "esbuild", "commander"]

// ESM output has no `require`; bundled CommonJS dependencies that require Node builtins need one.
const REQUIRE_BANNER =
  'import { createRequire as __agentCreateRequire } from "node:module";\nconst require = __agentCreateRequire(import.meta.url);'

/** Builds the agent to `outfile` and returns esbuild's metafile. */
export async function buildAgent(outfile = `${root}agent/dist/agent.js`) {
  const result = await build({
    entryPoints: [`${root}agent/main.ts`],
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
    external: HOST_ONLY,
    logLevel: "warning",
    metafile: true,
  })
  return result.metafile
}
