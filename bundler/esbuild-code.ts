/**
 * @module esbuild-code
 * Bundles a workflow entry and its imports into one ESM file with esbuild. `reductio-workflow` stays
 * external (the agent provides its own kernel, so File, errors and the registry are one copy), and
 * so do native modules (`.node` files and packages built with node-gyp), which cannot be bundled.
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { type Plugin, build } from "esbuild"
import { ReductioError } from "../runtime/errors.js"
import { PACKAGE_NAME } from "../runtime/package-name.js"

/** The bundle's entry module inside the archive. */
export const BUNDLE_ENTRY = "workflow.mjs"

/** Packages every bundle leaves to the agent. */
export const KERNEL_EXTERNALS = [PACKAGE_NAME, `${PACKAGE_NAME}/*`] as const

/** What esbuild produced for one workflow. */
export interface BuiltCode {
  /** The ESM bundle. */
  readonly code: Uint8Array
  /** Its source map (paths relative to the project root, no sources content). */
  readonly map: Uint8Array
  /** The source files bundled, relative to the project root, sorted. */
  readonly inputs: readonly string[]
  /** The workflow entry, relative to the project root. */
  readonly entry: string
}

/** Options of {@link buildCode}. */
export interface BuildCodeOptions {
  /** Directory paths in the bundle are relative to; defaults to the nearest one with package.json. */
  readonly projectRoot?: string
  /** More packages to leave external (they must then exist in the image). */
  readonly external?: readonly string[]
}

// ESM output has no `require`; bundled CommonJS dependencies that require Node builtins need one.
const REQUIRE_BANNER =
  'import { createRequire as __reductioCreateRequire } from "node:module";\nconst require = __reductioCreateRequire(import.meta.url);'

/**
 * Bundles `entry` (an absolute path) with esbuild.
 *
 * @example
 * const { code, inputs } = await buildCode("./workflow.ts")
 */
export async function buildCode(entry: string, options: BuildCodeOptions = {}): Promise<BuiltCode> {
  if (!existsSync(entry)) throw new ReductioError("WORKFLOW_NOT_FOUND", `no workflow file at ${entry}`)
  const root = options.projectRoot ?? projectRootOf(entry)
  const outfile = join(root, BUNDLE_ENTRY)
  let result: Awaited<ReturnType<typeof build>>
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: root,
      outfile,
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "linked",
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      banner: { js: REQUIRE_BANNER },
      external: [...KERNEL_EXTERNALS, "*.node", ...(options.external ?? [])],
      plugins: [nativePackagesExternal()],
    })
  } catch (error) {
    const messages = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? []
    const text = messages.map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text)).join("\n")
    throw new ReductioError("WORKFLOW_LOAD_FAILED", `cannot bundle ${relative(root, entry)}:\n${text || (error as Error).message}`, {
      cause: error,
    })
  }
  const outputs = result.outputFiles ?? []
  const code = outputs.find((file) => file.path === outfile)
  const map = outputs.find((file) => file.path === `${outfile}.map`)
  if (code === undefined || map === undefined) throw new ReductioError("WORKFLOW_LOAD_FAILED", "esbuild produced no bundle")
  const inputs = Object.keys(result.metafile?.inputs ?? {}).sort()
  return { code: code.contents, map: map.contents, inputs, entry: toPosix(relative(root, entry)) }
}

/** The nearest directory at or above the entry that holds a package.json (else the entry's directory). */
export function projectRootOf(entry: string): string {
  let dir = dirname(entry)
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir
    const parent = dirname(dir)
    if (parent === dir) return dirname(entry)
    dir = parent
  }
}

/** Marks packages built with node-gyp (binding.gyp, or `gypfile` in package.json) as external. */
function nativePackagesExternal(): Plugin {
  const verdicts = new Map<string, boolean>()
  return {
    name: "reductio-native-externals",
    setup(context) {
      context.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === "reductio-native-check") return undefined
        const packageName = packageNameOf(args.path)
        if (packageName === undefined) return undefined
        const resolved = await context.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: "reductio-native-check",
        })
        if (resolved.errors.length > 0 || resolved.external || resolved.path === "") return undefined
        const packageDir = packageDirOf(resolved.path, packageName)
        if (packageDir === undefined) return undefined
        let native = verdicts.get(packageDir)
        if (native === undefined) verdicts.set(packageDir, (native = isNativePackage(packageDir)))
        return native ? { path: args.path, external: true } : undefined
      })
    },
  }
}

function packageNameOf(specifier: string): string | undefined {
  if (specifier.startsWith("node:")) return undefined
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? (parts.length >= 2 ? `${parts[0]}/${parts[1]}` : undefined) : parts[0]
}

function packageDirOf(resolvedPath: string, packageName: string): string | undefined {
  const marker = `${sep}node_modules${sep}${packageName.split("/").join(sep)}${sep}`
  const at = resolvedPath.lastIndexOf(marker)
  return at < 0 ? undefined : resolvedPath.slice(0, at + marker.length - 1)
}

function isNativePackage(packageDir: string): boolean {
  if (existsSync(join(packageDir, "binding.gyp"))) return true
  try {
    const json = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { gypfile?: boolean }
    return json.gypfile === true
  } catch {
    return false
  }
}

function toPosix(path: string): string {
  return path.split(sep).join("/")
}
