import assert from "node:assert/strict"
import { pathToFileURL } from "node:url"
import { after, before, describe, it } from "node:test"
import { taskHash } from "../../runtime/hashing.js"
import { lookupTask } from "../../runtime/task.js"
import { type TempProject, tempProject } from "../support/project.js"

const module = `
import { task } from "reductio-workflow"
const K = 3
/** Adds K. */
export const addK = task("written.addK", (x: number): number => {
  // Bun would inline K here; the hash is taken over the text as written.
  return x + K
})
export const scaled = task("scaled", (x: number) => x * K, { namespace: "written" })
const names = ["written", "computed"]
export const computed = task(names.join("."), (x: number) => x - 1)
`

describe("task source as written", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await import(pathToFileURL(await project.write("written.ts", module)).href)
  })
  after(() => project.remove())

  it("records the TypeScript of a literal task(name, fn) as its source, types and comments included", () => {
    const { source } = lookupTask("written.addK")
    assert.match(source, /^\(x: number\): number => \{/)
    assert.match(source, /Bun would inline K here/)
  })

  it("hashes the function's tokens as written, whatever fn.toString() gives under this runtime", () => {
    assert.equal(lookupTask("written.addK").hash, taskHash("written.addK", { source: "( x : number ) : number => { return x + K }" }))
    assert.equal(lookupTask("written.scaled").hash, taskHash("written.scaled", { source: "( x : number ) => x * K" }))
  })

  it("falls back to the function as loaded when the name is not a literal", () => {
    const definition = lookupTask("written.computed")
    assert.equal(definition.source, definition.fn.toString())
    assert.equal(definition.hash, taskHash("written.computed", { source: definition.fn.toString() }))
  })
})
