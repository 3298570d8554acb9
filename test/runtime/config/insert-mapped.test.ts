import assert from "node:assert/strict"
import { SourceMap, type SourceMapping } from "node:module"
import { describe, it } from "node:test"
import { transform } from "esbuild"
import { insertMapped, type SourceMapV3 } from "../../../runtime/config/insert-mapped.js"

const source = [
  "const first: number = 1",
  'export const load = async (name: string) => { const m = await import("node:path"); return m.basename(name) + first }',
  'export const after = (x: number) => { throw new Error("marker " + x) }',
].join("\n")

describe("insertMapped", () => {
  it("moves every mapping after an insertion on its line, and only those", async () => {
    const result = await transform(source, {
      loader: "ts",
      format: "esm",
      minifyWhitespace: true,
      sourcemap: "external",
      sourcefile: "x.ts",
    })
    const end = result.code.indexOf('import("node:path")') + 'import("node:path")'.length
    const text = ".then(m=>m)"
    const { code, map } = insertMapped(result.code, JSON.parse(result.map) as SourceMapV3, [end, end], text)
    assert.equal(code.split(text).length, 3, "inserted at each offset")
    const before = new SourceMap(JSON.parse(result.map))
    const after = new SourceMap(map as never)
    const locate = (js: string, token: string) => {
      const at = js.indexOf(token)
      const line = js.slice(0, at).split("\n").length - 1
      return [line, at - (js.lastIndexOf("\n", at - 1) + 1)] as const
    }
    for (const token of ["throw new Error", "return", "const first"]) {
      const original = before.findEntry(...locate(result.code, token)) as SourceMapping
      const moved = after.findEntry(...locate(code, token)) as SourceMapping
      assert.deepEqual(
        [moved.originalLine, moved.originalColumn],
        [original.originalLine, original.originalColumn],
        `${token} maps to the same source position`,
      )
    }
  })

  it("returns code and map unchanged without offsets", () => {
    const map: SourceMapV3 = { version: 3, mappings: "AAAA;AACA" }
    assert.deepEqual(insertMapped("a\nb", map, [], "x"), { code: "a\nb", map })
  })
})
