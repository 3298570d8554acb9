/**
 * The built command loading TypeScript workflows through its own module hooks (plain `node`, as
 * installed from npm): tsx's resolution and output, so tsx and `reductio run` share the cache.
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { inThreadHooksAvailable } from "../../../runtime/config/typescript-loader.js"
import { runBuiltCli, runCli, runNode } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const tsconfig = `{
  // JSON with comments, as tsconfig allows
  "compilerOptions": {
    "target": "ES2020",
    "useDefineForClassFields": false,
    "paths": { "@lib/*": ["./src/*"], "shadowed": ["./src/shadow.ts"] }
  },
  "include": ["*.ts", "src"],
}
`

const packageJson = JSON.stringify({ name: "workflow-project", private: true, type: "module", imports: { "#local/*": "./src/*.js" } })

const workflow = `
import { run, task } from "reductio-workflow"
import { offset } from "@lib/offset"
import { twice } from "./src/twice.js"
import { label } from "./src/labels"
import settings from "./src/settings.json"
import { suffix } from "#local/suffix"
import { seenByDependency } from "dependency"

class Counter {
  count = 0
  constructor(public start: number) {}
}

export const step = task("step", async (x: number) => {
  class Local { value = x }
  const { basename } = await import("node:path")
  return twice(new Local().value) + new Counter(offset).start + basename("/a/0").length - 1
})
export const main = task("main", (n: number) => ({
  label: \`\${label}\${suffix}\${settings.mark}\${seenByDependency}\`,
  values: Array.from({ length: n }, (_, i) => step(i)),
}))
export const broken = task("broken", (why: string) => {
  throw new Error("broken on purpose: " + why)
})

await run(main, 3)
`

describe("TypeScript workflows in the built command", () => {
  let project: TempProject

  before(async () => {
    project = await tempProject()
    await project.write("tsconfig.json", tsconfig)
    await project.write("src/offset.ts", "export const offset: number = 100\n")
    await project.write("src/twice.ts", "export const twice = (x: number): number => x * 2\n")
    await project.write("src/labels/index.ts", 'export const label: string = "steps"\n')
    await project.write("package.json", packageJson)
    await project.write("src/settings.json", '{ "mark": "!" }\n')
    await project.write("src/suffix.ts", 'export const suffix: string = "+"\n')
    // Compiled output next to a source: tsx (and reductio) load the source.
    await project.write("src/twice.js", "export const twice = () => { throw new Error('stale compiled output') }\n")
    // A dependency's own import of "shadowed" is not the project's tsconfig alias.
    await project.write("src/shadow.ts", 'export const shadow = "alias"\n')
    await project.write("node_modules/dependency/package.json", JSON.stringify({ name: "dependency", type: "module", main: "index.js" }))
    await project.write("node_modules/dependency/index.js", 'export { seenByDependency } from "shadowed"\n')
    await project.write("node_modules/shadowed/package.json", JSON.stringify({ name: "shadowed", type: "module", main: "index.js" }))
    await project.write("node_modules/shadowed/index.js", 'export const seenByDependency = "?"\n')
    await project.write("workflow.ts", workflow)
  })
  after(() => project.remove())

  it("resolves tsconfig paths, .js and extensionless imports, and runs the workflow", async () => {
    const result = await runBuiltCli(["run", "workflow.ts", "main", "--n", "3"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "steps+!?", values: [100, 102, 104] })
    assert.match(result.stderr, /4 jobs, 4 done, 0 cached/)
  })

  it("gives every task the hash tsx gives it: the plain tsx script replays the whole run", async () => {
    const script = await runNode(["workflow.ts"], { cwd: project.dir })
    assert.equal(script.code, 0, script.stderr)
    assert.deepEqual(JSON.parse(script.stdout), { label: "steps+!?", values: [100, 102, 104] })
    const list = await runCli(["log", "--json", "--limit", "1"], { cwd: project.dir })
    const [latest] = JSON.parse(list.stdout) as { id: string }[]
    const tree = await runCli(["log", latest?.id ?? "", "--json"], { cwd: project.dir })
    const { jobs } = JSON.parse(tree.stdout) as { jobs: { status: string; reusedCalls?: number }[] }
    assert.deepEqual(
      jobs.map((job) => [job.status, job.reusedCalls]),
      [["CACHED", 3]],
    )
  })

  it("loads the same way through tsx when REDUCTIO_TS_LOADER=tsx", async () => {
    const result = await runBuiltCli(["run", "workflow.ts", "main", "--n", "3"], {
      cwd: project.dir,
      env: { REDUCTIO_TS_LOADER: "tsx" },
    })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /4 jobs, 0 done, 4 cached/)
  })

  it("points a failed task's stack at its line in the TypeScript source", async () => {
    const result = await runBuiltCli(["run", "workflow.ts", "broken", "--why", "testing"], { cwd: project.dir })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /broken on purpose: testing/)
    assert.match(result.stderr, /workflow\.ts:25:\d+/, "line 25 of the source throws")
  })

  it("refuses CommonJS TypeScript with the way to load it through tsx", async () => {
    await project.write("src/legacy.cts", 'module.exports = { legacy: "cts" as string }\n')
    await project.write(
      "legacy.ts",
      'import legacy from "./src/legacy.cts"\nimport { task } from "reductio-workflow"\nexport const show = task("show", () => legacy)\n',
    )
    const refused = await runBuiltCli(["run", "legacy.ts", "show"], { cwd: project.dir })
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /WORKFLOW_LOAD_FAILED.*legacy\.cts is CommonJS TypeScript.*REDUCTIO_TS_LOADER=tsx/)
    const viaTsx = await runBuiltCli(["run", "legacy.ts", "show"], { cwd: project.dir, env: { REDUCTIO_TS_LOADER: "tsx" } })
    assert.equal(viaTsx.code, 0, viaTsx.stderr)
    assert.deepEqual(JSON.parse(viaTsx.stdout), { legacy: "cts" })
  })

  it("names the file and line of a syntax error (WORKFLOW_LOAD_FAILED)", async () => {
    await project.write("broken.ts", 'import { task } from "reductio-workflow"\nexport const x: number = ;\n')
    const result = await runBuiltCli(["run", "broken.ts", "x"], { cwd: project.dir })
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /WORKFLOW_LOAD_FAILED/)
    assert.match(result.stderr, /broken\.ts:2:\d+/)
  })
})

describe("TypeScript workflows in the built command, resolved and compiled as tsx does", () => {
  const workflow = `import { task } from "reductio-workflow"
import { aliased } from "#alias/aliased"
import { which } from "./lib/helper.js"
export const show = task("show", (x: number) => {
  class Box { size = x }
  return { aliased, which, size: new Box().size }
})
`
  const setUp = async (compilerOptions: object): Promise<TempProject> => {
    const project = await tempProject()
    await project.write("tsconfig.json", JSON.stringify({ compilerOptions: { ...compilerOptions, paths: { "#alias/*": ["./lib/*"] } } }))
    await project.write("lib/aliased.ts", 'export const aliased: string = "alias"\n')
    // A JavaScript importer of ./other.js gets other.js, even with other.ts beside it.
    await project.write("lib/helper.js", 'export { which } from "./other.js"\n')
    await project.write("lib/other.js", 'export const which = "js"\n')
    await project.write("lib/other.ts", 'export const which: string = "ts"\n')
    await project.write("workflow.ts", workflow)
    await project.write("script.ts", 'import { run } from "reductio-workflow"\nimport { show } from "./workflow.ts"\nawait run(show, 3)\n')
    return project
  }

  /** Runs `show` with the built command, then as a tsx script: it must replay (same task hash). */
  const runBoth = async (project: TempProject) => {
    const result = await runBuiltCli(["run", "workflow.ts", "show", "--x", "3"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { aliased: "alias", which: "js", size: 3 })
    const script = await runNode(["script.ts"], { cwd: project.dir })
    assert.equal(script.code, 0, script.stderr)
    const list = await runCli(["log", "--json", "--limit", "1"], { cwd: project.dir })
    const [latest] = JSON.parse(list.stdout) as { id: string }[]
    const tree = await runCli(["log", latest?.id ?? "", "--json"], { cwd: project.dir })
    const { jobs } = JSON.parse(tree.stdout) as { jobs: { status: string }[] }
    assert.deepEqual(
      jobs.map((job) => job.status),
      ["CACHED"],
      "the tsx run finds the task under the same hash",
    )
  }

  it("follows tsconfig paths for # aliases and keeps ./x.js for JavaScript importers", async () => {
    const project = await setUp({ target: "ES2022" })
    try {
      await runBoth(project)
    } finally {
      await project.remove()
    }
  })

  it("compiles class fields as tsx does when tsconfig has no target and TypeScript 5 is installed", async () => {
    const project = await setUp({})
    try {
      await project.write("node_modules/typescript/package.json", JSON.stringify({ name: "typescript", version: "5.4.5" }))
      await runBoth(project)
    } finally {
      await project.remove()
    }
  })

  it("runs with a tsconfig whose extends is not installed, as tsx does", async () => {
    const project = await tempProject()
    try {
      await project.write("tsconfig.json", JSON.stringify({ extends: "@missing/tsconfig-base" }))
      await project.write(
        "workflow.ts",
        'import { task } from "reductio-workflow"\nexport const hello = task("hello", (): string => "hi")\n',
      )
      const result = await runBuiltCli(["run", "workflow.ts", "hello"], { cwd: project.dir })
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout.trim(), "hi")
    } finally {
      await project.remove()
    }
  })
})

describe("TypeScript workflows in the built command, in-thread or on Node's hooks thread", () => {
  const workflow = `import { task } from "reductio-workflow"
import { settings } from "legacy-settings"
import { twice } from "./lib/twice.js"
export const show = task("show", async (x: number) => {
  const { basename } = await import("node:path")
  return { mark: settings.mark, value: twice(x), base: basename("/a/b") }
})
`
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write("lib/twice.ts", "export const twice = (x: number): number => x * 2\n")
    // A CommonJS dependency that requires JSON: in-thread hooks see require() too, and leave it to Node.
    await project.write("node_modules/legacy-settings/package.json", JSON.stringify({ name: "legacy-settings", main: "index.js" }))
    await project.write("node_modules/legacy-settings/index.js", 'exports.settings = require("./settings.json")\n')
    await project.write("node_modules/legacy-settings/settings.json", '{ "mark": "!" }\n')
    await project.write("workflow.ts", workflow)
    await project.write("script.ts", 'import { run } from "reductio-workflow"\nimport { show } from "./workflow.ts"\nawait run(show, 4)\n')
  })
  after(() => project.remove())

  /** Runs `show` with the built command (REDUCTIO_DEBUG on), then as a tsx script that must replay it; the command's stderr. */
  const runBoth = async (): Promise<string> => {
    const result = await runBuiltCli(["run", "workflow.ts", "show", "--x", "4"], {
      cwd: project.dir,
      env: { REDUCTIO_DEBUG: "typescript" },
    })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { mark: "!", value: 8, base: "b" })
    const script = await runNode(["script.ts"], { cwd: project.dir })
    assert.equal(script.code, 0, script.stderr)
    const list = await runCli(["log", "--json", "--limit", "1"], { cwd: project.dir })
    const [latest] = JSON.parse(list.stdout) as { id: string }[]
    const tree = await runCli(["log", latest?.id ?? "", "--json"], { cwd: project.dir })
    const { jobs } = JSON.parse(tree.stdout) as { jobs: { status: string }[] }
    assert.deepEqual(
      jobs.map((job) => job.status),
      ["CACHED"],
      "the tsx run finds the task under the same hash",
    )
    return result.stderr
  }
  const loaderOf = (stderr: string) => /reductio: TypeScript loader: (\S+)/.exec(stderr)?.[1] ?? "(not reported)"

  it("loads in-thread through module.registerHooks, giving the hashes tsx gives", {
    skip: inThreadHooksAvailable()
      ? false
      : `Node ${process.versions.node} has no module.registerHooks reductio uses (Node 22.22.3+, 24.11.1+, 25.1+): ` +
        "scripts/test-runtimes.js runs this spec under such a Node named by REDUCTIO_TEST_NODE22",
  }, async () => {
    assert.equal(loaderOf(await runBoth()), "in-thread")
  })

  it("loads on Node's hooks thread (module.register) where module.registerHooks is missing, giving the hashes tsx gives", {
    skip: inThreadHooksAvailable() ? `Node ${process.versions.node} loads TypeScript in-thread` : false,
  }, async () => {
    assert.equal(loaderOf(await runBoth()), "hooks-thread")
  })

  it("passes only the workflow's modules through the hooks: the backend and its SQLite binding load before", async () => {
    const stderr = await runBoth()
    const resolved = [...stderr.matchAll(/reductio: TypeScript hooks resolve (\S+)/g)].map((match) => match[1] ?? "")
    assert.ok(resolved.includes("reductio-workflow") && resolved.includes("./lib/twice.js"), stderr)
    assert.deepEqual(
      resolved.filter((specifier) => /sqlite|kysely|chunks|^\.\/[\w-]+-[A-Z0-9]{8}\.js$/.test(specifier)),
      [],
      "nothing of reductio's own is resolved after the hooks start",
    )
  })
})
