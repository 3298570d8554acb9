/**
 * @module typescript-hooks
 * Node module hooks that load TypeScript ES modules as tsx does: the same esbuild options and
 * post-processing (its interop step on dynamic `import()`), the same tsconfig lookup
 * (get-tsconfig, from the working directory, with `include`/`exclude` and `paths`), and tsx's
 * resolution of `.js`, extensionless and `#imports` specifiers onto `.ts` files. A task's source
 * text, and with it its task hash, is then the same under `tsx workflow.ts` and `reductio run`.
 * Transformed files are kept in a disk cache keyed by source, options and this module's version,
 * so a run whose files did not change never loads esbuild.
 *
 * CommonJS TypeScript (`.cts`, or `.ts` outside a `"type": "module"` package) is refused with a
 * pointer to `REDUCTIO_TS_LOADER=tsx`, which loads everything through tsx instead.
 *
 * Two sets of hooks share one implementation: `resolve`/`load` (asynchronous, for `module.register`,
 * which runs them on a hooks thread) and `resolveSync`/`loadSync` (for `module.registerHooks`, which
 * runs them in the thread that loads the modules). Each hook is written once as a generator that
 * yields what it needs from outside (the next hook in the chain, an esbuild transform); a driver
 * performs those steps synchronously or asynchronously. Everything else (file reads, the cache,
 * the lexer) is synchronous in both, so both give the same output byte for byte.
 *
 * It imports nothing from the kernel: node builtins, get-tsconfig, resolve-pkg-maps and
 * es-module-lexer (bundled into this file), and esbuild (tsx's copy, on a cache miss only).
 */
import { createHash, randomBytes } from "node:crypto"
import { readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, extname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { initSync as initLexer, parse as parseModule } from "es-module-lexer"
import { createFilesMatcher, createPathsMatcher, type FileMatcher, getTsconfig, type PathsMatcher } from "get-tsconfig"
import { resolveImports } from "resolve-pkg-maps"
import { debugLine, debugs } from "./debug.js"
import { insertMapped, type SourceMapV3 } from "./insert-mapped.js"
import { nearestPackageJson, packageType } from "./package-json.js"

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
interface LoadContext {
  readonly format?: string | null | undefined
  readonly conditions?: readonly string[]
  readonly importAttributes?: Record<string, string>
}
interface LoadResult {
  readonly format: string | null | undefined
  readonly source?: string | ArrayBuffer | ArrayBufferView | null | undefined
  readonly shortCircuit?: boolean
}
type NextResolve = (specifier: string, context?: NodeResolveContext) => Promise<ResolveResult>
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>
type NextResolveSync = (specifier: string, context?: NodeResolveContext) => ResolveResult
type NextLoadSync = (url: string, context?: LoadContext) => LoadResult
type Esbuild = typeof import("esbuild")
type EsbuildOptions = import("esbuild").TransformOptions

/**
 * What a hook asks its driver for: the next hook in the chain (`nextResolve` or `nextLoad`, with
 * the hook's own arguments) or esbuild's transform. The answer comes back from `yield`, an error
 * is thrown at the `yield`.
 */
type Step =
  | { readonly kind: "next"; readonly target: string; readonly context: NodeResolveContext | LoadContext }
  | { readonly kind: "transform"; readonly source: string; readonly options: EsbuildOptions }
type Steps<T> = Generator<Step, T, unknown>

/** Bumped whenever this module's output for a given input changes: old cache entries then miss. */
const HOOKS_VERSION = 2
/** What these hooks compile (`.jsx` too, as tsx does). */
const TYPESCRIPT = new Set([".ts", ".mts", ".tsx", ".cts", ".jsx"])
/** Importers for which tsx resolves `./x.js` to `x.ts` first. */
const TYPESCRIPT_IMPORTER = /\.([cm]?ts|[tj]sx)$/
/** tsx's resolution order for a specifier written with a JavaScript extension. */
const SWAPS: Readonly<Record<string, readonly string[]>> = {
  ".js": [".ts", ".tsx", ".js", ".jsx"],
  ".jsx": [".tsx", ".ts", ".jsx", ".js"],
  ".mjs": [".mts", ".mjs"],
}
/** Extensionless and directory imports, as tsx resolves them. */
const SUFFIXES = [".ts", ".tsx", ".mts", ".js", ".jsx", ".mjs", "/index.ts", "/index.tsx", "/index.js", "/index.jsx"]
const RETRIED = new Set(["ERR_MODULE_NOT_FOUND", "ERR_UNSUPPORTED_DIR_IMPORT"])
/**
 * What tsx appends to every dynamic `import()` (its interop for CommonJS modules that set
 * `__esModule`), character for character: it is part of a task's source text, so of its hash.
 */
const DYNAMIC_IMPORT_INTEROP = '.then(s=>{const e="default";return s[e]&&typeof s[e]=="object"&&"__esModule"in s[e]?s[e]:s})'

const require = createRequire(import.meta.url)
const hooksUrl = import.meta.url
let settings: TypeScriptHooksData = { cwd: process.cwd(), cacheDir: null }
let tsconfig: { files: FileMatcher | undefined; paths: PathsMatcher | null; allowJs: boolean } | undefined
let esbuild: Esbuild | undefined
let esbuildPackageVersion: string | undefined
const packageTypes = new Map<string, string>()
/** `REDUCTIO_DEBUG=typescript`: every specifier and URL the hooks see goes to stderr. */
const debug = debugs("typescript")

export function initialize(data: TypeScriptHooksData | undefined): void {
  if (data !== undefined) settings = data
}

/** The `resolve` hook of `module.register` (on the hooks thread). */
export function resolve(specifier: string, context: NodeResolveContext, next: NextResolve): Promise<ResolveResult> {
  return performAsync(resolveSteps(specifier, context), next)
}

/** The `load` hook of `module.register` (on the hooks thread). */
export function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  return performAsync(loadSteps(url, context), next)
}

/** The `resolve` hook of `module.registerHooks` (in-thread): {@link resolve}, synchronously. */
export function resolveSync(specifier: string, context: NodeResolveContext, next: NextResolveSync): ResolveResult {
  return performSync(resolveSteps(specifier, context), next)
}

/** The `load` hook of `module.registerHooks` (in-thread): {@link load}, synchronously. */
export function loadSync(url: string, context: LoadContext, next: NextLoadSync): LoadResult {
  return performSync(loadSteps(url, context), next)
}

/** Runs a hook's steps, each awaited: the next hook's promise, esbuild's `transform`. */
async function performAsync<T>(steps: Steps<T>, next: (target: string, context: never) => Promise<unknown>): Promise<T> {
  let step = steps.next()
  while (!step.done) {
    const { value } = step
    let answer: unknown
    try {
      answer =
        value.kind === "next"
          ? await next(value.target, value.context as never)
          : await loadEsbuild().transform(value.source, value.options)
    } catch (error) {
      step = steps.throw(error)
      continue
    }
    step = steps.next(answer)
  }
  return step.value
}

/** Runs a hook's steps at once: the next hook's result, esbuild's `transformSync`. */
function performSync<T>(steps: Steps<T>, next: (target: string, context: never) => unknown): T {
  let step = steps.next()
  while (!step.done) {
    const { value } = step
    let answer: unknown
    try {
      answer = value.kind === "next" ? next(value.target, value.context as never) : loadEsbuild().transformSync(value.source, value.options)
    } catch (error) {
      step = steps.throw(error)
      continue
    }
    step = steps.next(answer)
  }
  return step.value
}

function* nextResolve(specifier: string, context: NodeResolveContext): Steps<ResolveResult> {
  return (yield { kind: "next", target: specifier, context }) as ResolveResult
}

function* nextLoad(url: string, context: LoadContext): Steps<LoadResult> {
  return (yield { kind: "next", target: url, context }) as LoadResult
}

function* resolveSteps(specifier: string, context: NodeResolveContext): Steps<ResolveResult> {
  if (debug) debugLine(`TypeScript hooks resolve ${specifier}`)
  // esbuild, loaded by this module on a cache miss.
  if (context.parentURL === hooksUrl) return yield* nextResolve(specifier, context)
  const fromDependency = context.parentURL?.includes("/node_modules/") === true
  const { paths, allowJs } = tsconfigOf()
  if (paths !== null && isBare(specifier) && !fromDependency) {
    for (const candidate of paths(specifier)) {
      try {
        return yield* resolveTypeScript(pathToFileURL(candidate).href, context, true)
      } catch {
        // The next mapping, then the package itself.
      }
    }
  }
  if (specifier.startsWith("#")) return yield* resolvePackageImport(specifier, context)
  const parent = context.parentURL?.replace(/[?#].*$/, "") ?? ""
  return yield* resolveTypeScript(specifier, context, TYPESCRIPT_IMPORTER.test(parent) || (allowJs && !fromDependency))
}

function* loadSteps(url: string, context: LoadContext): Steps<LoadResult> {
  if (debug) debugLine(`TypeScript hooks load ${url}`)
  if (url.startsWith("file:")) {
    const path = fileURLToPath(url.replace(/[?#].*$/, ""))
    const extension = extname(path)
    if (TYPESCRIPT.has(extension)) return { format: "module", source: yield* loadTypeScript(path, extension), shortCircuit: true }
    // Dynamic imports in plain JavaScript get tsx's interop too (below).
    // tsx lets TypeScript import JSON without `with { type: "json" }`, as a module with named
    // exports. In-thread hooks see `require()` too: a required JSON file stays Node's.
    const required = context.conditions?.includes("require") === true
    if (extension === ".json" && context.importAttributes?.type === undefined && !required) {
      const options = { ...baseOptions(path), loader: "json" as const }
      return { format: "module", source: yield* transformed(readFileSync(path, "utf8"), options), shortCircuit: true }
    }
  }
  const loaded = yield* nextLoad(url, context)
  if (loaded.format !== "module" || loaded.source == null) return loaded
  const source = typeof loaded.source === "string" ? loaded.source : Buffer.from(loaded.source as Uint8Array).toString("utf8")
  const ends = dynamicImportEnds(source)
  return ends.length === 0 ? loaded : { ...loaded, source: insertAt(source, ends, DYNAMIC_IMPORT_INTEROP) }
}

function* loadTypeScript(path: string, extension: string): Steps<string> {
  if (extension === ".cts" || (extension !== ".mts" && cachedPackageType(dirname(path)) !== "module")) {
    throw new Error(
      `${path} is CommonJS TypeScript (${extension === ".cts" ? ".cts" : `.ts outside a package of "type": "module"`}), which reductio's TypeScript loader does not load; set REDUCTIO_TS_LOADER=tsx to load the workflow through tsx`,
    )
  }
  const options: EsbuildOptions = {
    ...baseOptions(path),
    loader: extension === ".tsx" ? "tsx" : extension === ".jsx" ? "jsx" : "ts",
    tsconfigRaw: tsconfigOf().files?.(path) as EsbuildOptions["tsconfigRaw"],
  }
  return yield* transformed(readFileSync(path, "utf8"), options)
}

/** tsx's esbuild options for an ES module: its output is what this must reproduce. */
function baseOptions(path: string): EsbuildOptions {
  return {
    target: `node${process.versions.node}`,
    format: "esm",
    sourcemap: "external",
    sourcesContent: false,
    sourcefile: path,
    minifyWhitespace: true,
    keepNames: true,
  }
}

function* resolveTypeScript(specifier: string, context: NodeResolveContext, typeScriptFirst: boolean): Steps<ResolveResult> {
  const [path = specifier, rest = ""] = specifier.split(/(?=[?#])/, 2)
  const extension = extname(path)
  const swaps = isPathLike(specifier) ? SWAPS[extension] : undefined
  // tsx prefers `x.ts` over `x.js` for `./x.js`: compiled output next to the sources is not run.
  if (swaps !== undefined && typeScriptFirst) {
    // When no spelling exists, the error names the specifier as written.
    try {
      return yield* firstResolving(swapped(path, extension, swaps, rest), context)
    } catch {
      return yield* nextResolve(specifier, context)
    }
  }
  try {
    return yield* nextResolve(specifier, context)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (!isPathLike(specifier) || typeof code !== "string" || !RETRIED.has(code)) throw error
    const candidates =
      swaps !== undefined
        ? swapped(path, extension, swaps, rest)
        : extension === "" || path.endsWith("/")
          ? SUFFIXES.map((suffix) => path.replace(/\/$/, "") + suffix + rest)
          : []
    try {
      return yield* firstResolving(candidates, context)
    } catch {
      throw error
    }
  }
}

/** `#name` through the importing package's `imports`, then tsx's TypeScript spellings. */
function* resolvePackageImport(specifier: string, context: NodeResolveContext): Steps<ResolveResult> {
  try {
    return yield* nextResolve(specifier, context)
  } catch (error) {
    const parent = context.parentURL?.startsWith("file:") ? fileURLToPath(context.parentURL) : undefined
    const manifest = parent === undefined ? undefined : nearestPackageJson(dirname(parent))
    const imports = manifest?.json.imports
    if (manifest === undefined || imports === undefined || imports === null) throw error
    const targets = resolveImports(imports as never, specifier, [...(context.conditions ?? ["node", "import"])])
    for (const target of targets) {
      if (!target.startsWith("./")) continue
      try {
        return yield* resolveTypeScript(pathToFileURL(join(manifest.dir, target)).href, context, true)
      } catch {
        // The next target.
      }
    }
    throw error
  }
}

function* firstResolving(candidates: readonly string[], context: NodeResolveContext): Steps<ResolveResult> {
  let last: unknown
  for (const candidate of candidates) {
    try {
      return yield* nextResolve(candidate, context)
    } catch (error) {
      last = error
    }
  }
  throw last
}

function swapped(path: string, extension: string, swaps: readonly string[], rest: string): string[] {
  return swaps.map((swap) => path.slice(0, -extension.length) + swap + rest)
}

function isPathLike(specifier: string): boolean {
  return /^(\.{1,2}\/|\/|file:)/.test(specifier)
}

/** A specifier tsconfig `paths` may map: a bare name or an alias such as `#/x` (not a path or URL). */
function isBare(specifier: string): boolean {
  return !isPathLike(specifier) && !/^[a-z][a-z0-9+.-]*:/i.test(specifier)
}

function tsconfigOf(): NonNullable<typeof tsconfig> {
  if (tsconfig === undefined) {
    let found: ReturnType<typeof getTsconfig> = null
    try {
      found = getTsconfig(settings.cwd)
    } catch {
      // A tsconfig that cannot be read (an `extends` not installed): tsx runs without one too.
    }
    tsconfig = {
      files: found === null ? undefined : createFilesMatcher(found),
      paths: found === null ? null : createPathsMatcher(found),
      allowJs: found?.config.compilerOptions?.allowJs === true,
    }
  }
  return tsconfig
}

/** The `type` of the nearest package.json above `dir` ("commonjs" when none says "module"). */
function cachedPackageType(dir: string): string {
  let type = packageTypes.get(dir)
  if (type === undefined) packageTypes.set(dir, (type = packageType(dir)))
  return type
}

/** Where tsx's post-processing inserts its interop call: the end of every dynamic `import()`. */
function dynamicImportEnds(code: string): number[] {
  // As tsx: any "import" may be a dynamic one (`import (x)` with a space or a comment).
  if (!code.includes("import")) return []
  initLexer()
  try {
    const [imports] = parseModule(code)
    return imports.filter((entry) => entry.d > -1).map((entry) => entry.se)
  } catch {
    // Not parseable as a module: left as it is (Node reports the syntax error).
    return []
  }
}

function insertAt(code: string, offsets: readonly number[], text: string): string {
  return insertMapped(code, { version: 3, mappings: "" }, offsets, text).code
}

/** esbuild's output (with tsx's post-processing), from the disk cache when it ran before. */
function* transformed(source: string, options: EsbuildOptions): Steps<string> {
  const key = createHash("sha256")
    .update(JSON.stringify([HOOKS_VERSION, esbuildVersion(), options]))
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
  const result = (yield { kind: "transform", source, options }) as import("esbuild").TransformResult
  // The interop shifts what follows on its line: the source map moves with it.
  const { code, map } = insertMapped(
    result.code,
    JSON.parse(result.map) as SourceMapV3,
    dynamicImportEnds(result.code),
    DYNAMIC_IMPORT_INTEROP,
  )
  const output = `${code}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`
  if (cached !== undefined) {
    // Written aside under a name no other writer uses, then renamed: readers see all or nothing.
    const partial = `${cached}.${randomBytes(6).toString("hex")}.partial`
    try {
      writeFileSync(partial, output, { flag: "wx" })
      renameSync(partial, cached)
    } catch {
      // No cache entry: the next run transforms again.
    }
  }
  return output
}

/** tsx's esbuild, loaded on the first cache miss. */
function loadEsbuild(): Esbuild {
  esbuild ??= require(tsxEsbuildPath()) as Esbuild
  return esbuild
}

/** The version of tsx's esbuild (part of every cache key), read without loading esbuild. */
function esbuildVersion(): string {
  if (esbuildPackageVersion === undefined) {
    const manifest = join(dirname(dirname(tsxEsbuildPath())), "package.json")
    esbuildPackageVersion = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version
  }
  return esbuildPackageVersion
}

/** The esbuild tsx itself uses, so both compile with one version. */
function tsxEsbuildPath(): string {
  return createRequire(require.resolve("tsx/package.json")).resolve("esbuild")
}
