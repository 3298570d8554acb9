/**
 * @module typescript-loader
 * Lets `import()` load TypeScript files (workflows, configs), once per process: through reductio's
 * own module hooks (typescript-hooks.ts: tsx's transform with a disk cache, about 0.1 s faster
 * to start than tsx's loader) where they apply, else through tsx. The hooks run in-thread
 * (`module.registerHooks`) where the runtime has it, else on Node's hooks thread (`module.register`).
 */
import { lstatSync, mkdirSync } from "node:fs"
import nodeModule, { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, extname, join } from "node:path"
import { debugLine, debugs } from "./debug.js"
import { packageType } from "./package-json.js"
import type * as TypeScriptHooks from "./typescript-hooks.js"
import type { TypeScriptHooksData } from "./typescript-hooks.js"

/**
 * How TypeScript files load in this process (written to stderr when REDUCTIO_DEBUG names
 * "typescript"): reductio's hooks in-thread or on Node's hooks thread, tsx's loader, or the
 * runtime's own (tsx already on, Bun).
 */
export type TypeScriptLoaderKind = "in-thread" | "hooks-thread" | "tsx" | "native"

/** The subset of `node:module`'s `registerHooks` used here (Node 22.15+, Deno). */
type RegisterHooks = (hooks: { resolve: typeof TypeScriptHooks.resolveSync; load: typeof TypeScriptHooks.loadSync }) => unknown

/**
 * The Node releases from which the in-thread hooks are used (and every major after 25): those from
 * which tsx trusts `module.registerHooks` too (tsx 4.23's own gate); older ones keep the hooks
 * thread. Deno reports a Node version past them.
 */
const IN_THREAD_FROM: readonly (readonly [number, number, number])[] = [
  [22, 22, 3],
  [24, 11, 1],
  [25, 1, 0],
]

let registered: Promise<void> | undefined

/**
 * Registers a TypeScript loader for a TypeScript `file` (a JavaScript one needs none: every module
 * loaded after passes through a loader, on Node 20 through its worker thread), unless TypeScript
 * already loads (running under tsx, or Bun, which compiles TypeScript itself and runs no module
 * hooks). `REDUCTIO_TS_LOADER=tsx` always uses tsx.
 */
export function ensureTypeScriptLoader(file: string): Promise<void> {
  if (/\.(c|m)?js$/.test(file)) return registered ?? Promise.resolve()
  registered ??= (async () => debugLoader(await registerLoader(file)))()
  return registered
}

async function registerLoader(file: string): Promise<TypeScriptLoaderKind> {
  if (import.meta.url.endsWith(".ts") || process.execArgv.some((arg) => arg.includes("tsx"))) return "native"
  if ((process.versions as { bun?: string }).bun !== undefined) return "native"
  const hooks = builtHooksUrl()
  if (hooks !== undefined && (await ownHooksApply(file))) {
    const data: TypeScriptHooksData = { cwd: process.cwd(), cacheDir: privateCacheDir() }
    const registerHooks = inThreadRegisterHooks()
    let kind: TypeScriptLoaderKind
    if (registerHooks !== undefined) {
      const own = (await import(hooks)) as typeof TypeScriptHooks
      own.initialize(data)
      registerHooks({ resolve: own.resolveSync, load: own.loadSync })
      kind = "in-thread"
    } else {
      nodeModule.register(hooks, { data })
      kind = "hooks-thread"
    }
    // Stacks point into the TypeScript source through the inline source maps, as under tsx.
    process.setSourceMapsEnabled(true)
    return kind
  }
  const { register } = await import("tsx/esm/api")
  register()
  return "tsx"
}

/** True when this runtime loads TypeScript through the in-thread hooks (see {@link IN_THREAD_FROM}). */
export function inThreadHooksAvailable(): boolean {
  return inThreadRegisterHooks() !== undefined
}

/** `module.registerHooks` where the in-thread hooks are used (see {@link IN_THREAD_FROM}). */
function inThreadRegisterHooks(): RegisterHooks | undefined {
  const registerHooks = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks
  if (typeof registerHooks !== "function") return undefined
  const [major = 0, minor = 0, patch = 0] = process.versions.node.split(".").map(Number)
  const supported =
    major > 25 ||
    IN_THREAD_FROM.some(
      ([from, fromMinor, fromPatch]) => major === from && (minor > fromMinor || (minor === fromMinor && patch >= fromPatch)),
    )
  return supported ? registerHooks.bind(nodeModule) : undefined
}

function debugLoader(kind: TypeScriptLoaderKind): void {
  if (debugs("typescript")) debugLine(`TypeScript loader: ${kind}`)
}

/** The built hooks module next to the built runtime; undefined when running from sources. */
function builtHooksUrl(): string | undefined {
  const marker = "/dist/runtime/"
  const at = import.meta.url.lastIndexOf(marker)
  return at < 0 ? undefined : `${import.meta.url.slice(0, at + marker.length)}config/typescript-hooks.js`
}

/**
 * Reductio's hooks load ES modules: a `.mts` file, or a `.ts`/`.tsx` file in a package of
 * `"type": "module"`. The rest is tsx's: TypeScript as CommonJS; a tsconfig chosen by
 * TSX_TSCONFIG_PATH; a tsconfig without `target` where TypeScript is installed (tsx then takes
 * the target from TypeScript's version, which changes how class fields compile).
 */
async function ownHooksApply(file: string): Promise<boolean> {
  if (process.env.REDUCTIO_TS_LOADER === "tsx" || process.env.TSX_TSCONFIG_PATH) return false
  const extension = extname(file)
  const esm = extension === ".mts" || ((extension === ".ts" || extension === ".tsx") && packageType(dirname(file)) === "module")
  return esm && !(await targetFromTypeScript(process.cwd()))
}

/** True when tsx would give the tsconfig a target from the installed TypeScript's version. */
async function targetFromTypeScript(cwd: string): Promise<boolean> {
  const { getTsconfig } = await import("get-tsconfig")
  let target: unknown
  try {
    const found = getTsconfig(cwd)
    if (found === null) return false
    target = found.config.compilerOptions?.target
  } catch {
    return false
  }
  if (target !== undefined) return false
  try {
    createRequire(join(cwd, "workflow.js")).resolve("typescript/package.json")
    return true
  } catch {
    return false
  }
}

/**
 * A cache directory in the temp dir that only this user can write (anything cached there is run
 * as code); null when that cannot be ensured.
 */
export function privateCacheDir(purpose = "typescript"): string | null {
  const uid = process.getuid?.()
  const dir = join(tmpdir(), `reductio-${purpose}-${uid ?? "user"}`)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const stat = lstatSync(dir)
    if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0) return null
    return dir
  } catch {
    return null
  }
}
