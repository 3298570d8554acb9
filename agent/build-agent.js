// Builds the agent (agent/main.ts) into one self-contained ESM file: the kernel, cborg, tar-stream
// and the S3 adapter are bundled in, so only `node` is needed at run time. Host-only packages are
// replaced by stubs that throw when loaded: the kernel reaches them only through lazy imports the
// agent never takes, and marking them external instead would hoist `import "kysely"` to the top of
// the file, where it fails without node_modules.
//
// The S3 adapter (with the AWS SDK, most of the file) is built separately and embedded as a
// `data:` URL module that the storage registry's dynamic import loads: V8 then only scans it as a
// string at startup instead of compiling it, so agents on local scratch start as fast as without
// it, and agents on s3:// scratch pay for the SDK when they use it.
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

/** Drivers the kernel may import lazily on the host; never needed inside the container. */
export const HOST_ONLY = ["better-sqlite3", "pg", "pg-native", "kysely", "tsx", "esbuild", "commander", "get-tsconfig"]
/**
 * Also stubbed in the agent's main module: the AWS SDK reaches it only through host-side executors
 * (Batch, Glue, ECR) and the S3 adapter, which is embedded on its own (see below).
 */
const AGENT_STUBBED = [...HOST_ONLY, "@aws-sdk/*", "@smithy/*", "@aws-crypto/*"]

// ESM output has no `require`; bundled CommonJS dependencies that require Node builtins need one.
const REQUIRE_BANNER =
  'import { createRequire as __agentCreateRequire } from "node:module";\nconst require = __agentCreateRequire(import.meta.url);'

/** The S3 adapter as one self-contained ESM module (only `node:` imports), as a string. */
async function buildS3Adapter() {
  const result = await build({
    entryPoints: [`${root}runtime/storage/s3-storage.ts`],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    keepNames: true,
    legalComments: "none",
    // A data: URL module has no file URL to create `require` from; builtins resolve from anywhere.
    banner: { js: 'import { createRequire as __s3CreateRequire } from "node:module";\nconst require = __s3CreateRequire("/");' },
    plugins: [stubs(HOST_ONLY)],
    logLevel: "warning",
  })
  return result.outputFiles[0].text
}

/** Resolves the storage registry's `import("./s3-storage.js")` to the embedded module. */
function s3AdapterAsDataUrl(code) {
  const url = `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`
  return {
    name: "reductio-s3-data-url",
    setup(context) {
      context.onResolve({ filter: /^\.\/s3-storage\.js$/ }, (args) =>
        args.importer.endsWith("storage-registry.ts") && args.kind === "dynamic-import" ? { path: url, external: true } : undefined,
      )
    },
  }
}

/** Replaces the named packages (`scope/*` for a whole scope) with modules that throw when loaded. */
function stubs(packages) {
  const escaped = (text) => text.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&")
  const names = packages.map((name) => (name.endsWith("/*") ? `${escaped(name.slice(0, -2))}/[^/]+` : escaped(name)))
  const filter = new RegExp(`^(${names.join("|")})(/.*)?$`)
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
    plugins: [s3AdapterAsDataUrl(await buildS3Adapter()), stubs(AGENT_STUBBED)],
    logLevel: "warning",
    metafile: true,
  })
  return result.metafile
}
