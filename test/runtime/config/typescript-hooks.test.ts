/**
 * reductio's TypeScript hooks in both forms: the asynchronous ones of `module.register` and the
 * synchronous ones of `module.registerHooks` are one implementation, and give the same results
 * byte for byte (a task's source text, so its hash, must not depend on the Node that loads it).
 * Node's own resolution is stood in for by a `next` that knows only the files on disk.
 */
import assert from "node:assert/strict"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { fileURLToPath, pathToFileURL } from "node:url"
import { initialize, load, loadSync, resolve, resolveSync } from "../../../runtime/config/typescript-hooks.js"
import { type TempProject, tempProject } from "../../support/project.js"

interface Resolved {
  readonly url: string
}
interface Loaded {
  readonly format: string
  readonly source: string
}

/** Node's resolution, reduced to files that exist (with its error codes for a missing file and a directory). */
function nextResolveSync(specifier: string, context?: { parentURL?: string | undefined }): Resolved {
  const url = new URL(specifier, context?.parentURL)
  const path = fileURLToPath(url)
  if (!existsSync(path)) throw Object.assign(new Error(`cannot find ${specifier}`), { code: "ERR_MODULE_NOT_FOUND" })
  if (statSync(path).isDirectory()) throw Object.assign(new Error(`${specifier} is a directory`), { code: "ERR_UNSUPPORTED_DIR_IMPORT" })
  return { url: url.href }
}
const nextResolve = async (specifier: string, context?: { parentURL?: string | undefined }) => nextResolveSync(specifier, context)
/** Node's loading of a JavaScript module. */
const nextLoadSync = (url: string): Loaded => ({ format: "module", source: readFileSync(fileURLToPath(url), "utf8") })
const nextLoad = async (url: string) => nextLoadSync(url)

describe("reductio's TypeScript hooks, asynchronous and synchronous", () => {
  let project: TempProject
  let cacheDir: string
  const url = (path: string) => pathToFileURL(join(project.dir, path)).href

  before(async () => {
    project = await tempProject()
    cacheDir = await mkdtemp(join(tmpdir(), "reductio-hooks-cache-"))
    await project.write("tsconfig.json", JSON.stringify({ compilerOptions: { target: "ES2022", paths: { "@lib/*": ["./lib/*"] } } }))
    await project.write("lib/twice.ts", "export const twice = (x: number): number => x * 2\n")
    await project.write("lib/index.ts", 'export const index: string = "index"\n')
    await project.write("lib/settings.json", '{ "mark": "!" }\n')
    await project.write("plain.js", 'export const later = () => import("./lib/twice.js")\n')
    await project.write(
      "workflow.ts",
      [
        'import { twice } from "./lib/twice.js"',
        "class Box {",
        "  size = 1",
        "  constructor(public label: string) {}",
        "}",
        'export const run = async (x: number) => (await import("node:path")).basename(new Box("b").label) + twice(x)',
        "",
      ].join("\n"),
    )
  })
  after(async () => {
    await project.remove()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it("compiles a TypeScript file to the same bytes, through esbuild's transform and its transformSync", async () => {
    initialize({ cwd: project.dir, cacheDir: null })
    const fromAsync = await load(url("workflow.ts"), {}, nextLoad)
    const fromSync = loadSync(url("workflow.ts"), {}, nextLoadSync)
    assert.equal(fromAsync.format, "module")
    assert.match(String(fromAsync.source), /class Box/)
    assert.match(String(fromAsync.source), /\.then\(s=>\{const e="default"/, "tsx's interop on the dynamic import")
    assert.deepEqual(fromSync, fromAsync)
  })

  it("reads what one form cached as the other would compile it", async () => {
    initialize({ cwd: project.dir, cacheDir })
    const cachedByAsync = await load(url("workflow.ts"), {}, nextLoad)
    assert.equal(readdirSync(cacheDir).filter((name) => name.endsWith(".mjs")).length, 1, "one entry cached")
    const readBySync = loadSync(url("workflow.ts"), {}, nextLoadSync)
    initialize({ cwd: project.dir, cacheDir: null })
    assert.deepEqual(readBySync, cachedByAsync)
    assert.deepEqual(loadSync(url("workflow.ts"), {}, nextLoadSync), cachedByAsync)
  })

  it("loads JSON without an import attribute as a module with named exports, and JavaScript with tsx's interop, alike", async () => {
    initialize({ cwd: project.dir, cacheDir: null })
    for (const path of ["lib/settings.json", "plain.js"]) {
      const fromAsync = await load(url(path), {}, nextLoad)
      assert.equal(fromAsync.format, "module", path)
      assert.deepEqual(loadSync(url(path), {}, nextLoadSync), fromAsync, path)
    }
  })

  it("leaves a required JSON file to Node (in-thread hooks see require() too)", () => {
    const required = loadSync(url("lib/settings.json"), { format: "json", conditions: ["require", "node"] }, () => ({
      format: "json",
      source: '{ "mark": "!" }\n',
    }))
    assert.deepEqual(required, { format: "json", source: '{ "mark": "!" }\n' })
  })

  it("resolves ./x.js onto x.ts, extensionless and directory imports, and tsconfig paths, alike", async () => {
    initialize({ cwd: project.dir, cacheDir: null })
    const parentURL = url("workflow.ts")
    const cases: [string, string][] = [
      ["./lib/twice.js", "lib/twice.ts"],
      ["./lib/twice", "lib/twice.ts"],
      ["./lib", "lib/index.ts"],
      ["@lib/twice", "lib/twice.ts"],
    ]
    for (const [specifier, file] of cases) {
      const fromAsync = await resolve(specifier, { parentURL }, nextResolve)
      assert.equal(fromAsync.url, url(file), specifier)
      assert.deepEqual(resolveSync(specifier, { parentURL }, nextResolveSync), fromAsync, specifier)
    }
  })

  it("fails alike, with Node's error for the specifier as written, when nothing resolves", async () => {
    initialize({ cwd: project.dir, cacheDir: null })
    const parentURL = url("workflow.ts")
    const asyncError = await resolve("./missing.js", { parentURL }, nextResolve).then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.throws(() => resolveSync("./missing.js", { parentURL }, nextResolveSync), asyncError as Error)
    assert.match((asyncError as Error).message, /cannot find \.\/missing\.js/)
  })
})
