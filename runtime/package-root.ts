/**
 * @module package-root
 * Where this package's own files are (agent/dist, docker/, package.json), whether the code runs
 * from the sources, from dist/ or from a chunk of the dist bundle.
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ReductioError } from "./errors.js"
import { PACKAGE_NAME } from "./package-name.js"

let root: string | undefined

/** The directory holding reductio's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json")
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE_NAME) {
      root = dir
      return dir
    }
    if (dirname(dir) === dir) throw new ReductioError("NOT_FOUND", "cannot find reductio's package.json above its own code")
  }
}

/** A file of the package; NOT_FOUND with `hint` when it does not exist. */
export function packageFile(parts: readonly string[], hint = ""): string {
  const path = join(packageRoot(), ...parts)
  if (!existsSync(path))
    throw new ReductioError("NOT_FOUND", `${parts.join("/")} is missing from the reductio package${hint === "" ? "" : `: ${hint}`}`)
  return path
}

/** The package's version. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string }).version ?? "0.0.0"
}
