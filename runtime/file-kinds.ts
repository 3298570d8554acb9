/**
 * @module file-kinds
 * What File, Dir, StagingFile and StagingDir share without depending on each other: the path rules, the
 * stand-in for a script's standard output, and brand checks that work across copies of the kernel.
 */
import { resolve } from "node:path"
import type { Dir } from "./dir.js"
import { ReductioError } from "./errors.js"
import type { File } from "./file.js"
import type { StagingDir } from "./staging-dir.js"
import type { StagingFile } from "./staging-file.js"
import { isS3Uri } from "./storage/storage-registry.js"

/** The path that stands for a script's standard output in `script({ outputs })`. */
export const STDOUT = "-"

/** Normalizes a location: `s3://` kept, `-` kept, local paths made absolute against the cwd. */
export function normalize(path: string): string {
  if (typeof path !== "string" || path === "")
    throw new ReductioError("INVALID_ARGUMENT", `a File needs a path, got ${JSON.stringify(path)}`)
  if (path === STDOUT || isS3Uri(path)) return path
  if (path.startsWith("file:")) return new URL(path).pathname
  return resolve(path)
}

export const FILE = Symbol.for("reductio.file")
export const DIR = Symbol.for("reductio.dir")
export const STAGING = Symbol.for("reductio.stagingFile")
export const STAGING_DIR = Symbol.for("reductio.stagingDir")

/** True for a File (from any copy of the kernel). */
export function isFile(value: unknown): value is File {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[FILE] === true
}
/** True for a Dir (from any copy of the kernel). */
export function isDir(value: unknown): value is Dir {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DIR] === true
}
/** True for a StagingFile (from any copy of the kernel). */
export function isStagingFile(value: unknown): value is StagingFile {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[STAGING] === true
}
/** True for a StagingDir (from any copy of the kernel). */
export function isStagingDir(value: unknown): value is StagingDir {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[STAGING_DIR] === true
}
