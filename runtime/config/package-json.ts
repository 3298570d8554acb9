/**
 * @module package-json
 * The nearest package.json above a directory, as Node's module resolution finds it: what decides
 * whether a `.ts` file is an ES module, and where `#imports` are declared. Builtins only (it is
 * bundled into the TypeScript hooks too).
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** The fields of a package.json read here. */
export interface PackageJson {
  readonly type?: unknown
  readonly imports?: unknown
}

/** The nearest package.json at or above `dir` and the directory holding it; undefined when none. */
export function nearestPackageJson(dir: string): { dir: string; json: PackageJson } | undefined {
  for (let at = dir; ; at = dirname(at)) {
    try {
      return { dir: at, json: JSON.parse(readFileSync(join(at, "package.json"), "utf8")) as PackageJson }
    } catch {
      if (dirname(at) === at) return undefined
    }
  }
}

/** The module type of files in `dir`: "module" when the nearest package.json says so. */
export function packageType(dir: string): "module" | "commonjs" {
  return nearestPackageJson(dir)?.json.type === "module" ? "module" : "commonjs"
}
