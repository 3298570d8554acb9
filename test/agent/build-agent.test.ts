import assert from "node:assert/strict"
import { readFile, stat } from "node:fs/promises"
import { describe, it } from "node:test"
import { builtAgent } from "./agent-harness.js"

describe("the built agent", () => {
  it("is one file of at most 3 MB", async () => {
    const { size } = await stat(await builtAgent())
    assert.ok(size <= 3 * 1024 * 1024, `agent is ${size} bytes`)
  })

  it("imports nothing but Node's builtins, so it runs without node_modules", async () => {
    const code = await readFile(await builtAgent(), "utf8")
    const specifiers = [...code.matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[\w${},*\s]+from\s*)?"([^"]+)"/g)].map((match) => match[1])
    assert.ok(specifiers.length > 0)
    assert.deepEqual(
      specifiers.filter((specifier) => !specifier?.startsWith("node:")),
      [],
    )
  })
})
