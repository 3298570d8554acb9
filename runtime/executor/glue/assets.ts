/**
 * @module assets
 * What a Glue run needs besides the code bundle, uploaded once under scratch and named by content:
 *
 * ```
 * <scratch>/glue/<sha256>/reductio_glue_shim.py     the Glue job script
 * <scratch>/agent/<sha256>.js                        the agent (agent/dist/agent.js)
 * <scratch>/agent/<sha256>.js                        the partition mapper (agent/partition-mapper.ts, built here)
 * <scratch>/runtime/<sha256>/node-<v>-linux-x64.tar.xz   the Node runtime the user provides
 * ```
 */
import { createHash } from "node:crypto"
import { createReadStream, existsSync } from "node:fs"
import { mkdtemp, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { packageFile } from "../../package-root.js"
import { ReductioError } from "../../errors.js"
import { sha256 } from "../../hashing.js"
import { scratchPath } from "../../protocol.js"
import { storageFor } from "../../storage/storage-registry.js"

/** One uploaded, content-addressed asset. */
export interface Asset {
  readonly uri: string
  readonly sha256: string
}

/** Everything a Glue run fetches besides the bundle. */
export interface GlueAssets {
  readonly shim: Asset
  readonly agent: Asset
  readonly mapper: Asset
  readonly runtime: Asset
}

/** Where the assets come from on the host. */
export interface AssetSources {
  /** The Node linux-x64 tarball (`.tar.xz` or `.tar.gz`, as nodejs.org ships it). */
  readonly nodeRuntime: string
  /** Default: agent/dist/agent.js of this package. */
  readonly agentPath?: string | undefined
  /** Default: built from agent/partition-mapper.ts with esbuild, once per process. */
  readonly mapperPath?: string | undefined
  /** Default: docker/glue/reductio_glue_shim.py of this package. */
  readonly shimPath?: string | undefined
}

/** Uploads what is missing and returns where each asset is. */
export async function uploadAssets(root: string, sources: AssetSources): Promise<GlueAssets> {
  const runtimePath = resolve(sources.nodeRuntime)
  if (!existsSync(runtimePath)) {
    throw new ReductioError(
      "CONFIG_INVALID",
      `the aws_glue executor's nodeRuntime ${runtimePath} does not exist: download node-v20.x-linux-x64.tar.xz from nodejs.org and point nodeRuntime at it`,
      { details: { key: "nodeRuntime" } },
    )
  }
  const [shim, agent, mapper, runtime] = await Promise.all([
    readFile(sources.shimPath ?? packagePath("docker", "glue", "reductio_glue_shim.py")).then((bytes) =>
      uploadBytes(root, (hash) => ["glue", hash, "reductio_glue_shim.py"], bytes),
    ),
    readFile(sources.agentPath ?? builtAgentPath()).then((bytes) => uploadBytes(root, (hash) => ["agent", `${hash}.js`], bytes)),
    readFile(sources.mapperPath ?? (await builtMapperPath())).then((bytes) => uploadBytes(root, (hash) => ["agent", `${hash}.js`], bytes)),
    uploadFile(root, runtimePath),
  ])
  return { shim, agent, mapper, runtime }
}

async function uploadBytes(root: string, name: (hash: string) => string[], bytes: Uint8Array): Promise<Asset> {
  const hash = sha256(bytes)
  const uri = scratchPath(root, ...name(hash))
  const storage = await storageFor(uri)
  if (!(await storage.exists(uri))) await storage.writeBytes(uri, bytes)
  return { uri, sha256: hash }
}

async function uploadFile(root: string, path: string): Promise<Asset> {
  const digest = createHash("sha256")
  for await (const chunk of createReadStream(path)) digest.update(chunk as Buffer)
  const hash = digest.digest("hex")
  const uri = scratchPath(root, "runtime", hash, basename(path))
  const storage = await storageFor(uri)
  if (!(await storage.exists(uri))) await storage.upload(path, uri)
  return { uri, sha256: hash }
}

/** A file of this package. */
function packagePath(...parts: string[]): string {
  return packageFile(parts)
}

function builtAgentPath(): string {
  try {
    return packagePath("agent", "dist", "agent.js")
  } catch (error) {
    throw new ReductioError("INVALID_ARGUMENT", "the agent is not built (agent/dist/agent.js): run npm run build", { cause: error })
  }
}

let mapperBuild: Promise<string> | undefined

/** agent/dist/partition-mapper.js when built, else a build of agent/partition-mapper.ts (once per process). */
export function builtMapperPath(): Promise<string> {
  mapperBuild ??= (async () => {
    const prebuilt = join(dirname(builtAgentPathOrEmpty()), "partition-mapper.js")
    if (prebuilt !== "partition-mapper.js" && existsSync(prebuilt)) return prebuilt
    // The agent's build (one file, host-only packages stubbed out) with the mapper as its entry.
    // By path at run time: bundled into dist, build-agent.js would lose the import.meta.url it
    // finds the package's sources with.
    const buildAgentUrl = pathToFileURL(packagePath("agent", "build-agent.js")).href
    const { buildAgent } = (await import(buildAgentUrl)) as typeof import("../../../agent/build-agent.js")
    const outfile = join(await mkdtemp(join(tmpdir(), "reductio-mapper-")), "partition-mapper.js")
    await buildAgent(outfile, packagePath("agent", "partition-mapper.ts"))
    return outfile
  })()
  mapperBuild.catch(() => {
    mapperBuild = undefined
  })
  return mapperBuild
}

function builtAgentPathOrEmpty(): string {
  try {
    return builtAgentPath()
  } catch {
    return ""
  }
}
