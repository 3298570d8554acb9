/**
 * @module typescript-hooks
 * Node module hooks that load TypeScript as tsx does: the same esbuild options and the same
 * tsconfig lookup (get-tsconfig, from the working directory, with `include`/`exclude` and `paths`),
 * so a task's source text, and with it its task hash, is the same whether a workflow runs as
 * `tsx workflow.ts` or `reductio run workflow.ts`. Transformed files are kept in a disk cache
 * keyed by their source and the options, so a run whose files did not change never loads esbuild.
 *
 * Runs on Node's module-hooks thread (`module.register`), so it imports nothing from the kernel:
 * node builtins, get-tsconfig (bundled into this file) and esbuild (on a cache miss only).
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { readFile, rename, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { extname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { createFilesMatcher, createPathsMatcher, type FileMatcher, getTsconfig, type PathsMatcher } from "get-tsconfig"

/** What the main thread passes to {@link initialize}. */
export interface TypeScriptHooksData {
  /** Where tsconfig.json is looked up from (tsx: the working directory). */
  readonly cwd: string
  /** A directory only this user can write, for transformed files; null: no disk cache. */
  readonly cacheDir: string | null
}

interface NodeResolveContext {
  readonly parentURL?: string | undefined
  readonly conditions?: readonly string[]
  readonly importAttributes?: Record<string, string>
}
interface ResolveResult {
  readonly url: string
  readonly format?: string | null | undefined
  readonly shortCircuit?: boolean
}
interface LoadResult {
  readonly format: string | null | undefined
  readonly source?: string | ArrayBuffer | Uint8Array | null | undefined
  readonly shortCircuit?: boolean
}
type NextResolve = (specifier: string, context?: NodeResolveContext) => Promise<ResolveResult>
type NextLoad = (url: string, context?: { readonly format?: string | null | undefined }) => Promise<LoadResult>

const TYPESCRIPT = new Set([".ts", ".mts", ".tsx"])
/** Import extensions TypeScript lets a source write for a TypeScript file. */
const SWAPS: Readonly<Record<string, readonly string[]>> = {
  ".js": [".ts", ".tsx"],
  ".jsx": [".tsx"],
  ".mjs": [".mts"],
}
/** Extensionless and directory imports, as tsx resolves them. */
const SUFFIXES = [".ts", ".tsx", ".mts", ".js", "/index.ts", "/index.tsx", "/index.js"]
const RETRIED = new Set(["ERR_MODULE_NOT_FOUND", "ERR_UNSUPPORTED_DIR_IMPORT"])

let settings: TypeScriptHooksData = { cwd: process.cwd(), cacheDir: null }
let tsconfig: { files: FileMatcher | undefined; paths: PathsMatcher | null } | undefined
let esbuild: Promise<typeof import("esbuild")> | undefined
let esbuildVersion: string | undefined

export function initialize(data: TypeScriptHooksData | undefined): void {
  if (data !== undefined) settings = data
}

export async function resolve(specifier: string, context: NodeResolveContext, next: NextResolve): Promise<ResolveResult> {
  const { paths } = tsconfigOf()
  if (paths !== null && isBare(specifier)) {
    for (const candidate of paths(specifier)) {
      try {
        return await resolveTypeScript(pathToFileURL(candidate).href, context, next)
      } catch {
        // The next mapping, then the package itself.
      }
    }
  }
  return resolveTypeScript(specifier, context, next)
}

export async function load(url: string, context: { readonly format?: string | null }, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith("file:")) return next(url, context)
  const path = fileURLToPath(url.replace(/[?#].*$/, ""))
  const extension = extname(path)
  if (!TYPESCRIPT.has(extension)) return next(url, context)
  const source = await readFile(path, "utf8")
  const options = {
    // tsx's options: its output (and so every task's source text) is what this must reproduce.
    target: `node${process.versions.node}`,
    loader: extension === ".tsx" ? ("tsx" as const) : ("ts" as const),
    format: "esm" as const,
    sourcemap: "inline" as const,
    sourcesContent: false,
    sourcefile: path,
    minifyWhitespace: true,
    keepNames: true,
    tsconfigRaw: tsconfigOf().files?.(path) as import("esbuild").TransformOptions["tsconfigRaw"],
  }
  return { format: "module", source: await transformed(source, options), shortCircuit: true }
}

async function resolveTypeScript(specifier: string, context: NodeResolveContext, next: NextResolve): Promise<ResolveResult> {
  try {
    return await next(specifier, context)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (!isPathLike(specifier) || typeof code !== "string" || !RETRIED.has(code)) throw error
    for (const candidate of candidates(specifier)) {
      try {
        return await next(candidate, context)
      } catch {
        // Try the next spelling.
      }
    }
    throw error
  }
}

function candidates(specifier: string): string[] {
  const [path = specifier, rest = ""] = specifier.split(/(?=[?#])/, 2)
  const extension = extname(path)
  const swaps = SWAPS[extension]
  if (swaps !== undefined) return swaps.map((swap) => path.slice(0, -extension.length) + swap + rest)
  return extension === "" || path.endsWith("/") ? SUFFIXES.map((suffix) => path.replace(/\/$/, "") + suffix + rest) : []
}

function isPathLike(specifier: string): boolean {
  return /^(\.{1,2}\/|\/|file:)/.test(specifier)
}

function isBare(specifier: string): boolean {
  return !isPathLike(specifier) && !/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !specifier.startsWith("#")
}

function tsconfigOf(): NonNullable<typeof tsconfig> {
  if (tsconfig === undefined) {
    const found = getTsconfig(settings.cwd)
    tsconfig = { files: found === null ? undefined : createFilesMatcher(found), paths: found === null ? null : createPathsMatcher(found) }
  }
  return tsconfig
}

/** esbuild's output for `source`, from the disk cache when an identical transform ran before. */
async function transformed(source: string, options: import("esbuild").TransformOptions): Promise<string> {
  esbuildVersion ??= (createRequire(import.meta.url)("esbuild/package.json") as { version: string }).version
  const key = createHash("sha256")
    .update(JSON.stringify([esbuildVersion, options]))
    .update("\0")
    .update(source)
    .digest("hex")
  const cached = settings.cacheDir === null ? undefined : join(settings.cacheDir, `${key}.mjs`)
  if (cached !== undefined) {
    try {
      return readFileSync(cached, "utf8")
    } catch {
      // Not transformed yet.
    }
  }
  esbuild ??= import("esbuild")
  const { code } = await (await esbuild).transform(source, options)
  if (cached !== undefined) {
    // Written aside and renamed: a concurrent run reads the old state or the whole file.
    const partial = `${cached}.${process.pid}.partial`
    await writeFile(partial, code)
      .then(() => rename(partial, cached))
      .catch(() => {})
  }
  return code
}
